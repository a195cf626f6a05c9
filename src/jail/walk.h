/* walk: the jail's one directory walk, for glob, grep and the memory-store
 * scan.  It never follows a symlink, so no link the agent plants leads it
 * out, and it is bounded: lim says how many entries, how deep and until
 * when.  fn is called for each regular file with its directory fd, name,
 * path relative to the root and stat; it returns non-zero to stop.
 *
 * walk_tree says how the walk ended: a search reports WALK_CUT ("cut
 * short") and may ignore WALK_SKIPPED, a listing that must be whole (the
 * memory-store scan) treats both as partial. */
#ifndef SANDHOOK_WALK_H
#define SANDHOOK_WALK_H

#include <sys/stat.h>

struct walk_limits {
  long max_entries;             /* entries looked at, of any type */
  int max_depth;                /* directories below the root */
  long long deadline_ms;        /* on now_ms()'s clock; 0 for none */
  int skip_vcs;                 /* skip .git and node_modules (a search's noise) */
};

enum walk_end {
  WALK_ERROR = -1,              /* the root itself cannot be read */
  WALK_WHOLE = 0,               /* every file was seen */
  WALK_SKIPPED,                 /* a directory too deep, unreadable, or a path too long was left out */
  WALK_CUT,                     /* a limit was reached, or fn stopped it */
};

typedef int (*walk_fn)(int dirfd, const char *name, const char *rel,
                       const struct stat *st, void *ctx);

enum walk_end walk_tree(int root_fd, const struct walk_limits *lim, walk_fn fn, void *ctx);

#endif
