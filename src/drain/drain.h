/* drain: claim and serve everything in the work queue, then exit.
 *
 * At most SANDHOOK_MAX_SESSIONS drainers run, each holding a slot (a lock
 * file, see statedir.h); one that finds every slot taken exits at once.
 * Before it exits, a drainer polls again if the wake counter moved since
 * its last poll: a webhook that found every slot taken is not lost.
 * drain_run returns the process exit status. */
#ifndef SANDHOOK_DRAIN_H
#define SANDHOOK_DRAIN_H

#include "common/config.h"

int drain_run(const struct config *cfg);

#endif
