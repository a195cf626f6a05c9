/* spares: workspace images made ahead, so that a session's first call
 * waits for no fallocate and no mkfs.ext4.
 *
 * STATE/spares/<mb>m-<uid>-<gid>-<random>.img are whole images (allocated
 * in full, formatted, their root owned by the jail ids) made while the
 * drainer has nothing else to do: at its exit, and between empty polls
 * under sandhook run, up to SANDHOOK_WORKSPACE_SPARES.  A session takes one
 * by rename, so two drainers never take the same one.  An image of another
 * size or owner (the settings changed), or past the count wanted, is
 * removed by the next refill, and a spare is made only while the state
 * filesystem has twice its size free. */
#ifndef SANDHOOK_SPARES_H
#define SANDHOOK_SPARES_H

#include "common/config.h"

/* Moves a spare image of mb MiB to dest: 0, or -1 (errno ENOENT: none). */
int spare_take(const struct config *cfg, long mb, const char *dest);

void spares_refill(const struct config *cfg);

#endif
