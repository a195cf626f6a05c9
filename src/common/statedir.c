#include "common/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/statvfs.h>
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
    ssize_t was = n;

    v++;
    n = snprintf(buf, sizeof(buf), "%lld\n", v);
    /* The count only grows, so its text is never shorter than the last
     * and is written over it in place: cutting the file first freed and
     * reallocated its block on every webhook (ext4 journals both), 0.1 ms
     * idle and several under load, with the lock held.  A longer old text
     * (edited by hand) is still cut. */
    if(pwrite(fd, buf, (size_t)n, 0) != n || (was > n && ftruncate(fd, n) < 0))
      v = -1;
  }
  close(fd);
  return v;
}

/* 8 MiB and 64 inodes: a drainer's log lines, a claim, a status file. */
#define STATE_MIN_FREE_BYTES (8ULL << 20)
#define STATE_MIN_FREE_INODES 64

const char *
statedir_unusable(const char *state_dir)
{
  struct statvfs v;

  if(statvfs(state_dir, &v) < 0)
    return NULL;
  if(v.f_flag & ST_RDONLY)
    return "the state directory is on a read-only filesystem";
  if((unsigned long long)v.f_bavail * v.f_frsize < STATE_MIN_FREE_BYTES ||
     (v.f_files && v.f_favail < STATE_MIN_FREE_INODES))
    return "the state directory's filesystem is full";
  return NULL;
}
