/* strset: a set of strings (event ids, answered tool_use ids), open
 * addressing, grown as needed.  strset_add returns 1 when newly added, 0
 * when present, -1 when out of memory. */
#ifndef SANDHOOK_STRSET_H
#define SANDHOOK_STRSET_H

#include <stddef.h>

struct strset {
  char **slots;
  size_t cap, n;
};

int strset_add(struct strset *s, const char *key);
int strset_has(const struct strset *s, const char *key);
void strset_free(struct strset *s);

#endif
