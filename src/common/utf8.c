#include "common/utf8.h"

#include <stdlib.h>
#include <string.h>

/* The length of the valid sequence at s, or 0 with *bad set to the length
 * of the maximal invalid subpart (at least 1). */
static size_t
seq_len(const unsigned char *s, size_t len, size_t *bad)
{
  unsigned char c = s[0], lo = 0x80, hi = 0xbf;
  size_t n, k;

  if(c < 0x80)
    return 1;
  if(c >= 0xc2 && c <= 0xdf)
    n = 1;
  else if(c >= 0xe0 && c <= 0xef) {
    n = 2;
    if(c == 0xe0)
      lo = 0xa0;        /* overlong */
    else if(c == 0xed)
      hi = 0x9f;        /* surrogates */
  }
  else if(c >= 0xf0 && c <= 0xf4) {
    n = 3;
    if(c == 0xf0)
      lo = 0x90;        /* overlong */
    else if(c == 0xf4)
      hi = 0x8f;        /* above U+10FFFF */
  }
  else {
    *bad = 1;
    return 0;
  }
  for(k = 1; k <= n; k++) {
    if(k >= len || s[k] < lo || s[k] > hi) {
      *bad = k;
      return 0;
    }
    lo = 0x80;
    hi = 0xbf;
  }
  return n + 1;
}

int
utf8_valid(const char *str, size_t len)
{
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, n, bad;

  while(i < len) {
    n = seq_len(s + i, len - i, &bad);
    if(!n)
      return 0;
    i += n;
  }
  return 1;
}

char *
utf8_clean(const char *str, size_t len, size_t *outlen)
{
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, o = 0, n, bad;
  char *out;

  /* U+FFFD is three bytes: at most three times the input. */
  if(len > (((size_t)-1) - 1) / 3 || !(out = malloc(len * 3 + 1)))
    return NULL;
  while(i < len) {
    n = s[i] ? seq_len(s + i, len - i, &bad) : (bad = 1, 0);
    if(n) {
      memcpy(out + o, s + i, n);
      o += n;
      i += n;
    }
    else {
      memcpy(out + o, "\xef\xbf\xbd", 3);
      o += 3;
      i += bad;
    }
  }
  out[o] = '\0';
  if(outlen)
    *outlen = o;
  return out;
}

static int
clean_in_place(char **p)
{
  size_t len = *p ? strlen(*p) : 0;
  char *c;

  if(!*p || utf8_valid(*p, len))
    return 0;
  c = utf8_clean(*p, len, NULL);
  if(!c)
    return -1;
  cJSON_free(*p);
  /* cJSON frees with its own hooks; they are the default malloc/free. */
  *p = c;
  return 0;
}

int
utf8_clean_json(cJSON *item)
{
  cJSON *c;

  if(!item)
    return 0;
  if(item->string && !(item->type & cJSON_StringIsConst) && clean_in_place(&item->string) < 0)
    return -1;
  if(cJSON_IsString(item) && !(item->type & cJSON_IsReference) && clean_in_place(&item->valuestring) < 0)
    return -1;
  for(c = item->child; c; c = c->next)
    if(utf8_clean_json(c) < 0)
      return -1;
  return 0;
}
