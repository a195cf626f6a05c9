/* The session's event stream, as the control plane (or anything between)
 * sends it, cut into reads at points the input chooses: the frames that
 * come out are the same however the bytes were split. */
#include "fuzz.h"
#include "drain/sse.h"

struct out {
  char buf[1 << 17];
  size_t len;
  int overflow;
};

static void
on_frame(const char *event, const char *data, size_t len, void *ctx)
{
  struct out *o = ctx;
  size_t el = strlen(event);

  FUZZ_ASSERT(el < 128 && strlen(data) <= len);
  if(o->len + el + len + 2 > sizeof(o->buf)) {
    o->overflow = 1;
    return;
  }
  memcpy(o->buf + o->len, event, el + 1);
  o->len += el + 1;
  memcpy(o->buf + o->len, data, len);
  o->len += len;
  o->buf[o->len++] = '\x01';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct out whole, split;
  struct sse a, b;
  size_t off = 0, step;
  int ra, rb = 0;

  if(size < 1)
    return 0;
  step = data[0] % 17 + 1;
  data++, size--;
  whole.len = split.len = 0;
  whole.overflow = split.overflow = 0;
  sse_init(&a, on_frame, &whole);
  sse_init(&b, on_frame, &split);
  ra = sse_feed(&a, (const char *)data, size);
  while(off < size && rb == 0) {
    size_t n = size - off < step ? size - off : step;

    rb = sse_feed(&b, (const char *)data + off, n);
    off += n;
    step = step * 3 % 29 + 1;
  }
  FUZZ_ASSERT(ra == rb);
  if(!whole.overflow && !split.overflow)
    FUZZ_ASSERT(whole.len == split.len && !memcmp(whole.buf, split.buf, whole.len));
  sse_free(&a);
  sse_free(&b);
  return 0;
}
