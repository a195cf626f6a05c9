/* cleanup: variables released when they go out of scope, however the
 * function returns (GCC's cleanup attribute, as bubblewrap uses it), for
 * functions that hold several descriptors or buffers at once.
 *
 *   AUTO_FD int fd = -1;          closed (errno kept) when >= 0
 *   AUTO_FREE char *text = NULL;  freed
 *   AUTO_STRBUF struct strbuf sb = STRBUF_INIT;   released
 *
 * Handing one on takes it out of the variable: take_fd(&fd) returns the
 * descriptor and leaves -1, so the cleanup closes nothing. */
#ifndef SANDHOOK_CLEANUP_H
#define SANDHOOK_CLEANUP_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/strbuf.h"

static inline void
cleanup_fd(int *fd)
{
  if(*fd >= 0) {
    int e = errno;

    close(*fd);
    errno = e;
  }
}

static inline void
cleanup_free(void *p)
{
  free(*(void **)p);
}

static inline int
take_fd(int *fd)
{
  int v = *fd;

  *fd = -1;
  return v;
}

#define AUTO_FD __attribute__((cleanup(cleanup_fd)))
#define AUTO_FREE __attribute__((cleanup(cleanup_free)))
#define AUTO_STRBUF __attribute__((cleanup(sb_release)))

#endif
