/* Shared by the libFuzzer targets: a failed property aborts with a line
 * saying which, so libFuzzer keeps the input as a crash. */
#ifndef SANDHOOK_FUZZ_H
#define SANDHOOK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond)                                                              \
  do {                                                                                 \
    if(!(cond)) {                                                                      \
      fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);      \
      abort();                                                                         \
    }                                                                                  \
  } while(0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of data (which may hold NULs of its own). */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);

  if(!s)
    abort();
  memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

/* Whether path is root or lies below it, component-wise. */
static inline int
fuzz_under(const char *path, const char *root)
{
  size_t n = strlen(root);

  return !strncmp(path, root, n) && (path[n] == '\0' || path[n] == '/');
}

/* Splits s in place at the first n-1 newlines into n fields; missing
 * fields are NULL. */
static inline void
fuzz_fields(char *s, char **f, int n)
{
  int i;

  for(i = 0; i < n; i++) {
    f[i] = s;
    if(s && i < n - 1) {
      char *nl = strchr(s, '\n');

      if(nl)
        *nl++ = '\0';
      s = nl;
    }
  }
}

#endif
