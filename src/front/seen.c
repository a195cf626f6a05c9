#include "front/seen.h"
#include "common/fsutil.h"
#include "common/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int
seen_path(char *buf, size_t cap, const char *state_dir, const char *id)
{
  return statedir_path(buf, cap, state_dir, STATEDIR_SEEN "/%s", id);
}

enum seen_mark
seen_mark(const char *state_dir, const char *id, long ttl, time_t now)
{
  char path[PATH_MAX];
  struct stat st;
  int attempt, fd;

  if(seen_path(path, sizeof(path), state_dir, "") < 0 || mkdir_p(path, 0700) < 0)
    return SEEN_ERROR;
  if(seen_path(path, sizeof(path), state_dir, id) < 0) {
    errno = ENAMETOOLONG;
    return SEEN_ERROR;
  }
  for(attempt = 0; attempt < 2; attempt++) {
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if(fd >= 0) {
      close(fd);
      return SEEN_NEW;
    }
    if(errno != EEXIST)
      return SEEN_ERROR;
    if(stat(path, &st) < 0) {
      if(errno == ENOENT)
        continue;       /* swept between our open and stat */
      return SEEN_ERROR;
    }
    if(now - st.st_mtime < ttl)
      return SEEN_DUPLICATE;
    /* Expired: unlink and race for the O_EXCL create again, so still only
     * one process treats the id as new. */
    if(unlink(path) < 0 && errno != ENOENT)
      return SEEN_ERROR;
  }
  return SEEN_DUPLICATE;
}

void
seen_forget(const char *state_dir, const char *id)
{
  char path[PATH_MAX];

  if(seen_path(path, sizeof(path), state_dir, id) == 0)
    unlink(path);
}

void
seen_sweep(const char *state_dir, long ttl, time_t now)
{
  char dirpath[PATH_MAX];

  if(seen_path(dirpath, sizeof(dirpath), state_dir, "") == 0)
    sweep_old_files(dirpath, NULL, ttl, now);
}
