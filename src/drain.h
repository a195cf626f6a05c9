/* drain: claim and serve everything in the work queue, then exit.
 *
 * drain_spawn starts a detached drainer (double fork, setsid, every
 * inherited descriptor closed, logging to the state dir) that waits until
 * the returned descriptor is closed, i.e. until the HTTP response is
 * finished, before its first API call.  At most SANDHOOK_MAX_SESSIONS
 * drainers run (a lock file per slot); a webhook that finds every slot
 * taken bumps a wake counter that a drainer checks before it exits, so no
 * wake-up is lost. */
#ifndef SANDHOOK_DRAIN_H
#define SANDHOOK_DRAIN_H

#include "config.h"

int drain_spawn(const struct config *cfg);

/* The drain loop itself; returns the process exit status. */
int drain_run(const struct config *cfg);

#endif
