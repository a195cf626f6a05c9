/* walk: a bounded directory walk for glob and grep.  It never follows a
 * symlink, skips .git and node_modules, stops after WALK_MAX_ENTRIES
 * entries, WALK_MAX_DEPTH levels or the deadline, and calls fn for each
 * regular file with its directory fd, name and path relative to the root.
 * fn returns non-zero to stop; walk_tree returns 1 when cut short. */
#ifndef SANDHOOK_WALK_H
#define SANDHOOK_WALK_H

#include <sys/stat.h>

#include "jail/tools/tools.h"

typedef int (*walk_fn)(int dirfd, const char *name, const char *rel,
                       const struct stat *st, void *ctx);

int walk_tree(int root_fd, walk_fn fn, void *ctx, long long deadline_ms,
              long long (*clock)(void));

#endif
