#include "jail/tools/bash_output.h"
#include "common/strbuf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
bash_output_add(struct bash_output *o, const char *d, size_t n, size_t keep)
{
  if(o->len + n > o->cap) {
    size_t nc = o->cap ? o->cap : 65536;
    char *nd;

    while(nc < o->len + n)
      nc *= 2;
    nd = realloc(o->data, nc + 1);
    if(!nd)
      return -1;
    o->data = nd;
    o->cap = nc;
  }
  memcpy(o->data + o->len, d, n);
  o->len += n;
  if(o->len > 2 * keep) {
    memmove(o->data, o->data + o->len - keep, keep);
    o->len = keep;
    o->truncated = 1;
  }
  o->data[o->len] = '\0';
  return 0;
}

int
bash_output_end(struct bash_output *o, const char *marker, int *status)
{
  size_t ml = strlen(marker), after;
  char *hit, *nl, num[24];
  long v;

  if(!o->data || !(hit = memmem(o->data, o->len, marker, ml)))
    return 0;
  after = o->len - (size_t)(hit - o->data) - ml;
  if(!(nl = memchr(hit + ml, '\n', after)))
    return 0;
  /* The status is digits printf wrote, but read it as if it were not. */
  snprintf(num, sizeof(num), "%.*s", (int)(nl - hit - ml), hit + ml);
  errno = 0;
  v = strtol(num, NULL, 10);
  *status = errno || v > INT_MAX || v < INT_MIN ? -1 : (int)v;
  o->len = (size_t)(hit - o->data);
  o->data[o->len] = '\0';
  return 1;
}

static size_t
strip_ansi(char *s, size_t len)
{
  size_t i = 0, o = 0;

  while(i < len) {
    if(s[i] == '\x1b' && i + 1 < len && s[i + 1] == '[') {
      size_t j = i + 2;

      while(j < len && ((s[j] >= '0' && s[j] <= '9') || s[j] == ';' || s[j] == '?'))
        j++;
      while(j < len && s[j] >= ' ' && s[j] <= '/')
        j++;
      if(j < len && s[j] >= '@' && s[j] <= '~') {
        i = j + 1;
        continue;
      }
    }
    s[o++] = s[i++];
  }
  return o;
}

void
bash_output_result(struct bash_output *o, int status, struct tool_result *res)
{
  char *text;
  size_t len;

  if(!o->data) {
    if(status != 0)
      tool_text(res, 1, "exit %d", status);
    else
      tool_text_raw(res, 0, "", 0);
    return;
  }
  len = strip_ansi(o->data, o->len);
  while(len && o->data[len - 1] == '\n')
    len--;
  text = o->data;
  if(len > BASH_OUTPUT_LIMIT) {
    text += len - BASH_OUTPUT_LIMIT;
    len = BASH_OUTPUT_LIMIT;
    o->truncated = 1;
  }
  if(o->truncated) {
    struct strbuf t = STRBUF_INIT;

    sb_printf(&t, "[output truncated]\n");
    sb_append(&t, text, len);
    if(!t.failed)
      tool_text_raw(res, status != 0, t.data, t.len);
    sb_release(&t);
  }
  else if(status != 0 && len == 0)
    tool_text(res, 1, "exit %d", status);
  else
    tool_text_raw(res, status != 0, text, len);
  free(o->data);
  o->data = NULL;
  o->len = o->cap = 0;
}
