#include "common/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
path_trim_slashes(char *path)
{
  size_t n = strlen(path);

  while(n > 1 && path[n - 1] == '/')
    path[--n] = '\0';
}

void
path_parent(char *path)
{
  char *slash = strrchr(path, '/');

  if(!slash)
    strcpy(path, ".");
  else if(slash == path)
    slash[1] = '\0';
  else
    *slash = '\0';
}

int
mkdir_p(const char *path, mode_t mode)
{
  char buf[PATH_MAX];
  size_t len = strlen(path), i;

  if(len == 0 || len >= sizeof(buf)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  /* Nearly always there already: one call, not one per component. */
  if(mkdir(path, mode) == 0 || errno == EEXIST)
    return 0;
  if(errno != ENOENT)
    return -1;
  memcpy(buf, path, len + 1);
  path_trim_slashes(buf);
  len = strlen(buf);
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

/* One level of the walk: a directory held open, the name it has in its
 * parent and its inode, to check that ".." still leads back there. */
struct rm_level {
  char *name;
  dev_t dev;
  ino_t ino;
};

DIR *
opendir_fd(int fd)
{
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  DIR *d = copy >= 0 ? fdopendir(copy) : NULL;

  if(!d && copy >= 0) {
    int e = errno;

    close(copy);
    errno = e;
  }
  return d;
}

/* Removes every entry of the directory fd it can without descending;
 * returns 1 with the name of the first subdirectory left in *sub
 * (malloc'd), 0 when none is left, -1 on error.  A directory on another
 * filesystem (a mount) is an error, EBUSY: the host never holds one there. */
static int
rm_entries(int fd, dev_t dev, char **sub)
{
  DIR *d = opendir_fd(fd);
  struct dirent *de;
  int rc = 0;

  if(!d)
    return -1;
  while((de = readdir(d))) {
    struct stat st;

    if(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    if(de->d_type != DT_DIR && de->d_type != DT_UNKNOWN &&
       (unlinkat(fd, de->d_name, 0) == 0 || errno == ENOENT))
      continue;
    if(fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if(errno == ENOENT)
        continue;
      rc = -1;
      break;
    }
    if(!S_ISDIR(st.st_mode)) {
      if(unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
        rc = -1;
        break;
      }
      continue;
    }
    if(st.st_dev != dev) {
      errno = EBUSY;
      rc = -1;
      break;
    }
    if(unlinkat(fd, de->d_name, AT_REMOVEDIR) == 0)
      continue;
    *sub = strdup(de->d_name);
    rc = *sub ? 1 : -1;
    break;
  }
  closedir(d);
  return rc;
}

/* Depth-first without recursion and with one directory open at a time, so
 * neither the stack nor the descriptor table limits how deep a tree can
 * be; every step is relative to a descriptor opened with O_NOFOLLOW, and a
 * ".." that does not lead back to the directory we came from stops it. */
int
remove_tree_at(int parent, const char *name)
{
  struct rm_level *lv = NULL;
  size_t n = 0, cap = 0;
  struct stat st;
  int fd, rc = -1, e;

  fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(fd < 0) {
    if(errno == ENOENT)
      return 0;
    if(errno != ENOTDIR && errno != ELOOP)
      return -1;
    return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -1 : 0;
  }
  if(fstat(fd, &st) < 0)
    goto out;
  for(;;) {
    char *sub = NULL;
    int r = rm_entries(fd, st.st_dev, &sub), next;
    struct stat cs;

    if(r < 0)
      goto out;
    if(r == 1) {
      next = openat(fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if(next < 0 || fstat(next, &cs) < 0 || cs.st_dev != st.st_dev) {
        free(sub);
        if(next >= 0)
          close(next);
        goto out;
      }
      if(n == cap) {
        struct rm_level *nl = realloc(lv, (cap = cap ? cap * 2 : 16) * sizeof(*lv));

        if(!nl) {
          free(sub);
          close(next);
          goto out;
        }
        lv = nl;
      }
      lv[n++] = (struct rm_level){ sub, st.st_dev, st.st_ino };
      close(fd);
      fd = next;
      st = cs;
      continue;
    }
    if(n == 0)
      break;
    /* This level is empty (or holds only mounts): back up one. */
    next = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    n--;
    if(next < 0 || fstat(next, &cs) < 0 || cs.st_dev != lv[n].dev || cs.st_ino != lv[n].ino) {
      if(next >= 0)
        close(next);
      free(lv[n].name);
      errno = EXDEV;
      goto out;
    }
    close(fd);
    fd = next;
    st = cs;
    if(unlinkat(fd, lv[n].name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
      free(lv[n].name);
      goto out;
    }
    free(lv[n].name);
  }
  close(fd);
  fd = -1;
  rc = unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -1 : 0;
out:
  e = errno;
  if(fd >= 0)
    close(fd);
  while(n > 0)
    free(lv[--n].name);
  free(lv);
  errno = e;
  return rc;
}

int
remove_tree(const char *path)
{
  char buf[PATH_MAX], *slash;
  const char *name = path;
  int parent = AT_FDCWD, rc, e;

  if(strlen(path) >= sizeof(buf)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, path, strlen(path) + 1);
  path_trim_slashes(buf);
  slash = strrchr(buf, '/');
  if(slash) {
    *slash = '\0';
    parent = open(slash == buf ? "/" : buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if(parent < 0)
      return errno == ENOENT ? 0 : -1;
    name = slash + 1;
  }
  rc = remove_tree_at(parent, name);
  e = errno;
  if(parent != AT_FDCWD)
    close(parent);
  errno = e;
  return rc;
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
write_str_to(const char *dir, const char *file, const char *value)
{
  char path[PATH_MAX + 64];
  int fd, e;

  snprintf(path, sizeof(path), "%s/%s", dir, file);
  fd = open(path, O_WRONLY | O_CLOEXEC);
  if(fd < 0)
    return -1;
  if(write_all(fd, value, strlen(value)) < 0) {
    e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return close(fd);
}

/* A rename over an existing file makes ext4 (auto_da_alloc) allocate and
 * start writing the new file's blocks at once, about 0.3 ms of CPU and a
 * disk write for each status a drainer publishes.  Exchanging the two
 * names is as atomic for a reader and leaves the blocks to the flusher,
 * which never writes them when the next status replaces this one first.
 * Nothing written here needs to outlive a crash.  The old file, now under
 * tmp's name, is removed. */
static int
replace_by(const char *tmp, const char *path)
{
  struct stat st;

  /* Anything but a file in path's place gets rename's answer, as before. */
  if(lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
    return rename(tmp, path);
  if(renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) == 0)
    return unlink(tmp) < 0 && errno != ENOENT ? -1 : 0;
  if(errno != ENOENT && errno != EINVAL && errno != ENOSYS)
    return -1;
  return rename(tmp, path);     /* gone meanwhile, or a filesystem without the exchange */
}

int
write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
  char tmp[PATH_MAX];
  int fd, n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());

  if(n < 0 || (size_t)n >= sizeof(tmp)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if(fd < 0)
    return -1;
  if(write_all(fd, buf, len) < 0) {
    int e = errno;

    close(fd);
    fd = -1;
    errno = e;
  }
  if(fd < 0 || close(fd) < 0 || replace_by(tmp, path) < 0) {
    int e = errno;

    unlink(tmp);
    errno = e;
    return -1;
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
  size_t sl = strlen(suffix);
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

    if(de->d_name[0] == '.' || n < sl || strcmp(de->d_name + n - sl, suffix))
      continue;
    if(fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
       S_ISREG(st.st_mode) && now - st.st_mtime >= max_age)
      unlinkat(dirfd(d), de->d_name, 0);
  }
  closedir(d);
}

int
path_split(char *buf, char **comp, int max, int dots_ok)
{
  char *p, *save = NULL;
  int n = 0;

  if(buf[0] == '/') {
    errno = EINVAL;
    return -1;
  }
  for(p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
    if(dots_ok && !strcmp(p, "."))
      continue;
    if(!strcmp(p, ".") || !strcmp(p, "..")) {
      errno = EINVAL;
      return -1;
    }
    if(n == max) {
      errno = ENAMETOOLONG;
      return -1;
    }
    comp[n++] = p;
  }
  return n;
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
