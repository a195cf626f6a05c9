#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
mkdir_p(const char *path, mode_t mode)
{
  char buf[PATH_MAX];
  size_t len = strlen(path), i;

  if(len == 0 || len >= sizeof(buf)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, path, len + 1);
  while(len > 1 && buf[len - 1] == '/')
    buf[--len] = '\0';
  for(i = 1; i <= len; i++) {
    if(buf[i] != '/' && buf[i] != '\0')
      continue;
    buf[i] = '\0';
    if(mkdir(buf, mode) < 0 && errno != EEXIST)
      return -1;
    if(i < len)
      buf[i] = '/';
  }
  return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  if(flag == FTW_DP)
    return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
  return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int
remove_tree(const char *path)
{
  /* FTW_PHYS: symlinks are removed, never followed; FTW_MOUNT: a mount left
   * inside the tree is not descended into. */
  if(nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
    return -1;
  return 0;
}

int
write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;

  while(len) {
    ssize_t n = write(fd, p, len);

    if(n < 0) {
      if(errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int
read_file(const char *path, size_t cap, char **out, size_t *len)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  int rc, e;

  if(fd < 0)
    return -1;
  rc = read_fd(fd, cap, out, len);
  e = errno;
  close(fd);
  errno = e;
  return rc;
}

int
read_fd(int fd, size_t cap, char **out, size_t *len)
{
  size_t have = 0, size = 4096;
  char *buf = malloc(size + 1);

  if(!buf)
    return -1;
  for(;;) {
    ssize_t n;

    if(have == size) {
      char *nb;

      if(size >= cap) {
        errno = EFBIG;
        goto fail;
      }
      size = size * 2 > cap ? cap : size * 2;
      nb = realloc(buf, size + 1);
      if(!nb)
        goto fail;
      buf = nb;
    }
    n = read(fd, buf + have, size - have);
    if(n < 0) {
      if(errno == EINTR)
        continue;
      goto fail;
    }
    if(n == 0)
      break;
    have += (size_t)n;
  }
  buf[have] = '\0';
  *out = buf;
  *len = have;
  return 0;
fail:
  free(buf);
  return -1;
}

void
sweep_old_files(const char *dir, const char *suffix, long max_age, time_t now)
{
  char stamp[PATH_MAX];
  struct dirent *de;
  struct stat st;
  size_t sl = suffix ? strlen(suffix) : 0;
  DIR *d;
  int fd;

  /* At most once a minute, whoever gets there first. */
  if(snprintf(stamp, sizeof(stamp), "%s/.sweep", dir) >= (int)sizeof(stamp) ||
     (stat(stamp, &st) == 0 && now - st.st_mtime < 60))
    return;
  fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if(fd >= 0)
    close(fd);
  d = opendir(dir);
  if(!d)
    return;
  while((de = readdir(d))) {
    size_t n = strlen(de->d_name);

    if(de->d_name[0] == '.' || n < sl || (sl && strcmp(de->d_name + n - sl, suffix)))
      continue;
    if(fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
       S_ISREG(st.st_mode) && now - st.st_mtime >= max_age)
      unlinkat(dirfd(d), de->d_name, 0);
  }
  closedir(d);
}

int
open_dirs_beneath(int dirfd, char *const *comp, int n, int create)
{
  int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0), i;

  for(i = 0; fd >= 0 && i < n; i++) {
    int next;

    if(create && mkdirat(fd, comp[i], 0700) < 0 && errno != EEXIST) {
      close(fd);
      return -1;
    }
    next = openat(fd, comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(fd);
    fd = next;
  }
  return fd;
}
