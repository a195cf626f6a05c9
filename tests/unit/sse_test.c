/* The SSE parser: frames split at every byte, CRLF, comments, pings. */
#include <stdlib.h>
#include <string.h>

#include "drain/sse.h"
#include "tap.h"

struct got {
  char log[4096];
  int frames;
};

static void
on_frame(const char *event, const char *data, size_t len, void *p)
{
  struct got *g = p;
  size_t n = strlen(g->log);

  snprintf(g->log + n, sizeof(g->log) - n, "[%s|%.*s]", event, (int)len, data);
  g->frames++;
}

static void
feed_split(const char *in, size_t step, struct got *g)
{
  struct sse s;
  size_t i;

  memset(g, 0, sizeof(*g));
  sse_init(&s, on_frame, g);
  for(i = 0; i < strlen(in); i += step)
    sse_feed(&s, in + i, strlen(in) - i < step ? strlen(in) - i : step);
  sse_free(&s);
}

int
main(void)
{
  static const char stream[] =
    ": connected\n\n"
    "event: agent.tool_use\ndata: {\"a\":1}\n\n"
    "event: ping\ndata: {}\n\n"
    "data: {\"no\":\"event line\"}\n\n"
    "event:session.status_idle\r\ndata: {\"b\":\r\ndata: 2}\r\n\r\n"
    "event: x\rdata: y\r\r"
    "event: partial\ndata: never ends";
  const char *want =
    "[agent.tool_use|{\"a\":1}][ping|{}][|{\"no\":\"event line\"}]"
    "[session.status_idle|{\"b\":\n2}][x|y]";
  size_t step;
  struct got g;

  for(step = 1; step <= 64; step *= 2) {
    feed_split(stream, step, &g);
    is_str(g.log, want, "frames fed %zu bytes at a time", step);
  }
  {
    struct sse s;
    char *big = malloc(SSE_MAX_FRAME + 16);

    memset(&g, 0, sizeof(g));
    sse_init(&s, on_frame, &g);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'x', SSE_MAX_FRAME + 8);
    ok(sse_feed(&s, big, SSE_MAX_FRAME + 14) < 0, "a frame over the limit is an error");
    sse_free(&s);
    free(big);
  }
  return tap_done();
}
