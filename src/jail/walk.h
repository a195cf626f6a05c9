/* walk: the jail's one directory walk, for glob, grep and the memory-store
 * scan.  It never follows a symlink, so no link the agent plants leads it
 * out, and it is bounded: lim says how many entries, how deep and until
 * when.  fn is called for each regular file with its directory fd, name,
 * path relative to the root and stat; it returns non-zero to stop.
 *
 * walk_tree returns 0 when it saw the whole tree, 1 when it did not (a
 * limit reached, a directory too deep or unreadable, fn stopped it), -1
 * when the root itself cannot be read. */
#ifndef SANDHOOK_WALK_H
#define SANDHOOK_WALK_H

#include <sys/stat.h>

struct walk_limits {
  long max_entries;             /* entries looked at, of any type */
  int max_depth;                /* directories below the root */
  long long deadline_ms;        /* on now_ms()'s clock; 0 for none */
  int skip_vcs;                 /* skip .git and node_modules (a search's noise) */
};

typedef int (*walk_fn)(int dirfd, const char *name, const char *rel,
                       const struct stat *st, void *ctx);

int walk_tree(int root_fd, const struct walk_limits *lim, walk_fn fn, void *ctx);

#endif
