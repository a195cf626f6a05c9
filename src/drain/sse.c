#include "drain/sse.h"

#include <stdlib.h>
#include <string.h>

void
sse_init(struct sse *s, sse_cb cb, void *ctx)
{
  memset(s, 0, sizeof(*s));
  s->cb = cb;
  s->ctx = ctx;
}

void
sse_free(struct sse *s)
{
  free(s->line);
  free(s->data);
  memset(s, 0, sizeof(*s));
}

static int
grow(char **buf, size_t *cap, size_t need)
{
  size_t nc = *cap ? *cap : 256;
  char *nb;

  if(need <= *cap)
    return 0;
  if(need > SSE_MAX_FRAME)
    return -1;
  while(nc < need)
    nc *= 2;
  nb = realloc(*buf, nc);
  if(!nb)
    return -1;
  *buf = nb;
  *cap = nc;
  return 0;
}

static void
dispatch(struct sse *s)
{
  if(s->have_data) {
    if(grow(&s->data, &s->data_cap, s->data_len + 1) == 0) {
      s->data[s->data_len] = '\0';
      s->cb(s->event, s->data, s->data_len, s->ctx);
    }
  }
  s->data_len = 0;
  s->have_data = 0;
  s->event[0] = '\0';
}

static int
process_line(struct sse *s)
{
  const char *l = s->line, *colon, *val;
  size_t n = s->line_len, flen, vlen;

  if(n == 0) {
    dispatch(s);
    return 0;
  }
  if(l[0] == ':')
    return 0;
  colon = memchr(l, ':', n);
  flen = colon ? (size_t)(colon - l) : n;
  val = colon ? colon + 1 : l + n;
  vlen = colon ? n - flen - 1 : 0;
  if(vlen && *val == ' ') {
    val++;
    vlen--;
  }
  if(flen == 5 && !memcmp(l, "event", 5)) {
    if(vlen >= sizeof(s->event))
      vlen = sizeof(s->event) - 1;
    memcpy(s->event, val, vlen);
    s->event[vlen] = '\0';
  }
  else if(flen == 4 && !memcmp(l, "data", 4)) {
    size_t need = s->data_len + vlen + 2;

    if(grow(&s->data, &s->data_cap, need) < 0)
      return -1;
    if(s->have_data)
      s->data[s->data_len++] = '\n';
    memcpy(s->data + s->data_len, val, vlen);
    s->data_len += vlen;
    s->have_data = 1;
  }
  return 0;
}

int
sse_feed(struct sse *s, const char *buf, size_t len)
{
  size_t i;

  for(i = 0; i < len; i++) {
    char c = buf[i];

    if(c == '\n' && s->last_cr) {
      s->last_cr = 0;
      continue;
    }
    s->last_cr = c == '\r';
    if(c == '\n' || c == '\r') {
      if(process_line(s) < 0)
        return -1;
      s->line_len = 0;
      continue;
    }
    if(grow(&s->line, &s->line_cap, s->line_len + 1) < 0)
      return -1;
    s->line[s->line_len++] = c;
  }
  return 0;
}
