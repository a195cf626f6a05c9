/* unconst: the one place a const qualifier is dropped.
 *
 * Some interfaces take a pointer to non-const for history's sake and never
 * write through it: execve's and posix_spawn's argument vectors, an
 * iovec to send, OpenSSL's parameter strings, seccomp's filter.  Our data
 * stays const; these say so at the call. */
#ifndef SANDHOOK_UNCONST_H
#define SANDHOOK_UNCONST_H

static inline void *
unconst(const void *p)
{
  union { const void *c; void *m; } u = { .c = p };

  return u.m;
}

/* An argument or environment vector of string literals, for exec. */
static inline char *const *
exec_args(const char *const *v)
{
  union { const char *const *c; char *const *m; } u = { .c = v };

  return u.m;
}

#endif
