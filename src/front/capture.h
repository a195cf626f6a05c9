/* capture: every received request, kept as a raw HTTP/1.1 file.
 *
 * With SANDHOOK_CAPTURE_DIR set, the responder writes each request before it
 * verifies it: the request line, the headers, a blank line and the exact
 * body, with CRLF line ends, one file per request, readable by the owner
 * only, so it can be replayed (sandhook replay) or sent again with curl or
 * netcat.  Files older than SANDHOOK_CAPTURE_KEEP_HOURS are swept, and the
 * folder never holds more than SANDHOOK_CAPTURE_MAX_MB: the oldest go first,
 * and a request larger than that is not captured (EFBIG).
 * capture_parse reads such a file back, or a hand-written one. */
#ifndef SANDHOOK_CAPTURE_H
#define SANDHOOK_CAPTURE_H

#include <stddef.h>
#include <time.h>

#include "common/errmsg.h"

struct request;

int capture_write(const char *dir, struct request *rq, const char *body, size_t len,
                  long max_mb, char *path, size_t pathcap);
void capture_sweep(const char *dir, long keep_seconds, time_t now);

#define CAPTURE_MAX_PARAMS 128

/* A parsed request: CGI-style NAME=value params (REQUEST_METHOD,
 * REQUEST_URI, CONTENT_LENGTH, CONTENT_TYPE, HTTP_*) and the body. */
struct captured {
  char *params[CAPTURE_MAX_PARAMS + 1];
  size_t nparams;
  const char *body;
  size_t body_len;
  char *buf;            /* owns the storage */
};

int capture_parse(const char *data, size_t len, struct captured *c, const char **why);
const char *captured_param(const struct captured *c, const char *name);
/* Replaces or adds NAME=value. */
int captured_set(struct captured *c, const char *name, const char *value);
void captured_free(struct captured *c);
/* Whether the body is as long as its Content-Length says (or none is
 * given): the signature covers exactly those bytes.  When not, 0 and why
 * says which is longer, for someone who edited the file. */
int captured_length_matches(const struct captured *c, struct errmsg *why);

#endif
