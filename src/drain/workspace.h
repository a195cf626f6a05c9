/* workspace: the session's persistent /workspace, kept across work items.
 *
 * With SANDHOOK_WORKSPACE_MB > 0 (the default) it is an ext4 image of that
 * size, allocated in full on first use (image.h) and loop-mounted inside
 * the jail, so a full workspace is ENOSPC inside the jail, never fills the
 * host, and cannot be starved by another session filling it.  Where the machine has no loop devices or mkfs.ext4 it falls back,
 * with a logged warning, to a plain directory.  workspace_prepare holds an
 * exclusive lock on it until workspace_release, so two jails never mount one
 * image at once. */
#ifndef SANDHOOK_WORKSPACE_H
#define SANDHOOK_WORKSPACE_H

#include <limits.h>

#include "common/config.h"

struct workspace {
  char path[PATH_MAX];      /* the image file, or the directory */
  int lock_fd;
};

int workspace_prepare(struct workspace *w, const struct config *cfg, const char *session_id);
void workspace_release(struct workspace *w);

/* Makes path (mkdir -p) a directory of the jail uid's, mode 0755: the
 * directory workspace, and the memory folder bound at /mnt/memory. */
int jail_owned_dir(const char *path, const struct config *cfg);

#endif
