#include "jail/walk.h"
#include "common/clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct walk {
  const struct walk_limits *lim;
  walk_fn fn;
  void *ctx;
  long remaining;
  int skipped;
};

/* 1 when the walk is cut short; what it leaves out sets w->skipped. */
static int
walk_dir(struct walk *w, int dfd, char *rel, size_t rlen, size_t cap, int depth)
{
  DIR *d;
  struct dirent *de;
  int rc = 0;

  if(depth > w->lim->max_depth || !(d = fdopendir(dfd))) {
    close(dfd);
    w->skipped = 1;
    return 0;
  }
  while(rc == 0 && (de = readdir(d))) {
    struct stat st;
    size_t nl = strlen(de->d_name);

    if(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    if(w->lim->skip_vcs && (!strcmp(de->d_name, ".git") || !strcmp(de->d_name, "node_modules")))
      continue;
    if(--w->remaining < 0 || (w->lim->deadline_ms && now_ms() > w->lim->deadline_ms)) {
      rc = 1;
      break;
    }
    if(rlen + nl + 2 > cap) {
      w->skipped = 1;
      continue;
    }
    if(rlen)
      rel[rlen] = '/';
    memcpy(rel + rlen + (rlen ? 1 : 0), de->d_name, nl + 1);
    if(fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if(S_ISDIR(st.st_mode)) {
        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if(sub < 0)
          w->skipped = 1;
        else
          rc = walk_dir(w, sub, rel, rlen + nl + (rlen ? 1 : 0), cap, depth + 1);
      }
      else if(S_ISREG(st.st_mode))
        rc = w->fn(dirfd(d), de->d_name, rel, &st, w->ctx) ? 1 : 0;
    }
    rel[rlen] = '\0';
  }
  closedir(d);
  return rc;
}

enum walk_end
walk_tree(int root_fd, const struct walk_limits *lim, walk_fn fn, void *ctx)
{
  struct walk w = { lim, fn, ctx, lim->max_entries, 0 };
  char rel[PATH_MAX] = "";
  int dfd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);

  if(dfd < 0)
    return WALK_ERROR;
  /* fdopendir shares the offset; rewind the duplicate's directory. */
  lseek(dfd, 0, SEEK_SET);
  if(walk_dir(&w, dfd, rel, 0, sizeof(rel), 0))
    return WALK_CUT;
  return w.skipped ? WALK_SKIPPED : WALK_WHOLE;
}
