/* sse: an incremental Server-Sent Events parser.
 *
 * Bytes go in as they arrive, in any split; each complete frame (ended by a
 * blank line) comes out through the callback with its event name ("" when
 * the frame had no event: line) and its data lines joined by '\n'.  Comments
 * are dropped.  A frame over SSE_MAX_FRAME bytes is an error, so a hostile
 * stream cannot grow memory without bound. */
#ifndef SANDHOOK_SSE_H
#define SANDHOOK_SSE_H

#include <stddef.h>

#define SSE_MAX_FRAME (16u << 20)

typedef void (*sse_cb)(const char *event, const char *data, size_t len, void *ctx);

struct sse {
  char *line;
  size_t line_len, line_cap;
  char *data;
  size_t data_len, data_cap;
  char event[128];
  int have_data;
  int last_cr;
  sse_cb cb;
  void *ctx;
};

void sse_init(struct sse *s, sse_cb cb, void *ctx);
/* Returns 0, or -1 on a frame over the limit or out of memory. */
int sse_feed(struct sse *s, const char *buf, size_t len);
void sse_free(struct sse *s);

#endif
