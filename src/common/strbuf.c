#include "common/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
reserve(struct strbuf *sb, size_t extra)
{
  size_t nc;
  char *nd;

  if(sb->failed)
    return -1;
  if(sb->len + extra + 1 <= sb->cap)
    return 0;
  nc = sb->cap ? sb->cap : 256;
  while(nc < sb->len + extra + 1)
    nc *= 2;
  nd = realloc(sb->data, nc);
  if(!nd) {
    sb->failed = 1;
    return -1;
  }
  sb->data = nd;
  sb->cap = nc;
  return 0;
}

void
sb_append(struct strbuf *sb, const char *data, size_t len)
{
  if(reserve(sb, len) < 0)
    return;
  memcpy(sb->data + sb->len, data, len);
  sb->len += len;
  sb->data[sb->len] = '\0';
}

void
sb_printf(struct strbuf *sb, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if(n < 0 || reserve(sb, (size_t)n) < 0)
    return;
  va_start(ap, fmt);
  vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb->len += (size_t)n;
}

void
sb_release(struct strbuf *sb)
{
  free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
  sb->failed = 0;
}

/* The array pointer is copied in and out with memcpy: it is a pointer to
 * some element type, which a void ** must not be used to write. */
int
grow_array(void *array, size_t *cap, size_t n, size_t elem)
{
  void *old, *nv;
  size_t nc;

  if(n < *cap)
    return 0;
  nc = *cap ? *cap * 2 : 32;
  memcpy(&old, array, sizeof(old));
  nv = realloc(old, nc * elem);
  if(!nv)
    return -1;
  memcpy(array, &nv, sizeof(nv));
  *cap = nc;
  return 0;
}
