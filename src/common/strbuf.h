/* strbuf: a growable byte string, and growable arrays.  On allocation failure it stops growing
 * and sets failed, so a caller can append freely and check once. */
#ifndef SANDHOOK_STRBUF_H
#define SANDHOOK_STRBUF_H

#include <stddef.h>

struct strbuf {
  char *data;
  size_t len, cap;
  int failed;
};

void sb_append(struct strbuf *sb, const char *data, size_t len);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct strbuf *sb);

/* Makes room for element n of *array (elements of elem bytes, *cap of them
 * allocated), doubling it; -1 when out of memory, the array unchanged. */
int grow_array(void *array, size_t *cap, size_t n, size_t elem);

#endif
