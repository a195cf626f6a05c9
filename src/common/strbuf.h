/* strbuf: a growable byte string, and growable arrays.  On allocation
 * failure it stops growing and sets failed, so a caller can append freely
 * and check once.
 *
 * Life cycle, as git's: STRBUF_INIT (or zeroed memory), appends, then
 * sb_release, which frees data and leaves an empty strbuf; data is always
 * NUL-terminated once anything was appended, and owned by the strbuf. */
#ifndef SANDHOOK_STRBUF_H
#define SANDHOOK_STRBUF_H

#include <stddef.h>

struct strbuf {
  char *data;
  size_t len, cap;
  int failed;
};

#define STRBUF_INIT { NULL, 0, 0, 0 }

void sb_append(struct strbuf *sb, const char *data, size_t len);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_release(struct strbuf *sb);

/* Makes room for element n of *array (elements of elem bytes, *cap of them
 * allocated), doubling it; -1 when out of memory, the array unchanged. */
int grow_array(void *array, size_t *cap, size_t n, size_t elem);

#endif
