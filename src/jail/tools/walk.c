#include "jail/tools/walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct walk {
  walk_fn fn;
  void *ctx;
  long remaining;
  long long deadline_ms;
  long long (*clock)(void);
};

static int
walk_dir(struct walk *w, int dfd, char *rel, size_t rlen, size_t cap, int depth)
{
  DIR *d;
  struct dirent *de;
  int rc = 0;

  if(depth > WALK_MAX_DEPTH)
    return 0;
  d = fdopendir(dfd);
  if(!d) {
    close(dfd);
    return 0;
  }
  while(rc == 0 && (de = readdir(d))) {
    struct stat st;
    size_t nl = strlen(de->d_name);

    if(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    if(!strcmp(de->d_name, ".git") || !strcmp(de->d_name, "node_modules"))
      continue;
    if(--w->remaining < 0 || (w->deadline_ms && w->clock() > w->deadline_ms)) {
      rc = 1;
      break;
    }
    if(rlen + nl + 2 > cap)
      continue;
    if(rlen)
      rel[rlen] = '/';
    memcpy(rel + rlen + (rlen ? 1 : 0), de->d_name, nl + 1);
    /* Symlinks are never followed: a link cannot lead the walk out. */
    if(fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if(S_ISDIR(st.st_mode)) {
        int sub = openat(dirfd(d), de->d_name,
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if(sub >= 0)
          rc = walk_dir(w, sub, rel, rlen + nl + (rlen ? 1 : 0), cap, depth + 1);
      }
      else if(S_ISREG(st.st_mode))
        rc = w->fn(dirfd(d), de->d_name, rel, &st, w->ctx);
    }
    rel[rlen] = '\0';
  }
  closedir(d);
  return rc;
}

int
walk_tree(int root_fd, walk_fn fn, void *ctx, long long deadline_ms,
          long long (*clock)(void))
{
  struct walk w = { fn, ctx, WALK_MAX_ENTRIES, deadline_ms, clock };
  char rel[4096] = "";
  int dfd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);

  if(dfd < 0)
    return -1;
  /* fdopendir shares the offset; rewind the duplicate's directory. */
  lseek(dfd, 0, SEEK_SET);
  return walk_dir(&w, dfd, rel, 0, sizeof(rel), 0);
}
