/* strset: a set of strings (event ids, answered tool_use ids), open
 * addressing, grown as needed. */
#ifndef SANDHOOK_STRSET_H
#define SANDHOOK_STRSET_H

#include <stddef.h>

struct strset {
  char **slots;
  size_t cap, n;
};

enum strset_add { STRSET_NO_MEMORY = -1, STRSET_PRESENT = 0, STRSET_ADDED = 1 };

enum strset_add strset_add(struct strset *s, const char *key);
int strset_has(const struct strset *s, const char *key);
void strset_free(struct strset *s);

#endif
