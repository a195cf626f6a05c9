#include "drain/strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
hash(const char *s)
{
  uint64_t h = 1469598103934665603ULL;

  while(*s)
    h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
  return h;
}

static size_t
find(char **slots, size_t cap, const char *key)
{
  size_t i = (size_t)hash(key) & (cap - 1);

  while(slots[i] && strcmp(slots[i], key))
    i = (i + 1) & (cap - 1);
  return i;
}

int
strset_has(const struct strset *s, const char *key)
{
  return s->cap && s->slots[find(s->slots, s->cap, key)] != NULL;
}

enum strset_add
strset_add(struct strset *s, const char *key)
{
  size_t i;

  if((s->n + 1) * 2 > s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 64, k;
    char **ns = calloc(nc, sizeof(*ns));

    if(!ns)
      return STRSET_NO_MEMORY;
    for(k = 0; k < s->cap; k++)
      if(s->slots[k])
        ns[find(ns, nc, s->slots[k])] = s->slots[k];
    free(s->slots);
    s->slots = ns;
    s->cap = nc;
  }
  i = find(s->slots, s->cap, key);
  if(s->slots[i])
    return STRSET_PRESENT;
  s->slots[i] = strdup(key);
  if(!s->slots[i])
    return STRSET_NO_MEMORY;
  s->n++;
  return STRSET_ADDED;
}

void
strset_free(struct strset *s)
{
  size_t k;

  for(k = 0; k < s->cap; k++)
    free(s->slots[k]);
  free(s->slots);
  memset(s, 0, sizeof(*s));
}
