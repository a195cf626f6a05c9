#include "common/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

int
statedir_path(char *buf, size_t cap, const char *state_dir, const char *fmt, ...)
{
  va_list ap;
  int n = snprintf(buf, cap, "%s/", state_dir), m;

  if(n < 0 || (size_t)n >= cap) {
    errno = ENAMETOOLONG;
    return -1;
  }
  va_start(ap, fmt);
  m = vsnprintf(buf + n, cap - (size_t)n, fmt, ap);
  va_end(ap);
  if(m < 0 || (size_t)m >= cap - (size_t)n) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

long long
statedir_wake(const char *state_dir, int bump)
{
  char path[PATH_MAX], buf[32];
  long long v = 0;
  ssize_t n;
  int fd;

  if(statedir_path(path, sizeof(path), state_dir, STATEDIR_RUN "/wake") < 0)
    return -1;
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if(fd < 0)
    return -1;
  if(flock(fd, LOCK_EX) < 0) {
    close(fd);
    return -1;
  }
  n = pread(fd, buf, sizeof(buf) - 1, 0);
  if(n > 0) {
    buf[n] = '\0';
    v = strtoll(buf, NULL, 10);
  }
  if(bump) {
    v++;
    n = snprintf(buf, sizeof(buf), "%lld\n", v);
    if(ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
      v = -1;
  }
  close(fd);
  return v;
}
