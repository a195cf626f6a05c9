/* spares: workspace images made ahead, so that a session's first call
 * waits for no fallocate and no mkfs.ext4.
 *
 * STATE/spares/<mb>m-<uid>-<gid>-<random>.img are whole images (allocated
 * in full, formatted, their root owned by the jail ids) made while the
 * drainer has nothing else to do: at its exit, and between empty polls
 * under sandhook run, up to SANDHOOK_WORKSPACE_SPARES.  An ended session's
 * image, reset, is one too, up to SANDHOOK_MAX_SESSIONS of them while
 * sessions come in a burst; the refill takes them back to the count.  A session takes one
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

/* The ended session's workspace image name in dir, its lock held, made a
 * spare while fewer than SANDHOOK_WORKSPACE_SPARES are left and nothing
 * has it attached: reset in place (image_reset) rather than freed, and
 * another one allocated for the next session.  0 when it became one (lock
 * released), -1 when it stays in dir. */
int spare_recycle(const struct config *cfg, int dir, const char *name, int lock);

#endif
