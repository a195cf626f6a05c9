/* jail_start: the one way sandhook-jail is started (the drainer's
 * jail_open; bench/jailstart times it against bubblewrap).
 *
 * jail_start spawns sp (the helper, its channel as fd 3) already in a PID
 * namespace of its own, so the helper is PID 1 there from its first
 * instruction and no second process stands guard over it: once we have
 * reaped it, the kernel has reaped every process of its namespace.  The
 * helper makes its mount, IPC and UTS namespaces itself.  Without root it
 * is born in a user namespace too (owning the others, and a network
 * namespace unless host_net), whose one uid and gid, the jail's, are mapped
 * onto ours before jail_start returns.  Returns the pid, or -1 (errno).
 *
 * jail_settle answers the helper's one byte on its channel, sent after it
 * read its setup frame and built its root: 'U' asks us (root outside) to
 * map the jail uid and gid, and nothing else, into the user namespace it
 * has just made, answered with one byte; 'N' says it made none.  It waits
 * at most ms, asking abort(ctx) (when not NULL) every 100 ms: 0 once
 * settled, -1 when the helper ended (ESRCH), stayed silent (ETIMEDOUT) or
 * abort said so (ECANCELED). */
#ifndef SANDHOOK_JAIL_START_H
#define SANDHOOK_JAIL_START_H

#include "common/spawn.h"

pid_t jail_start(struct spawn *sp, unsigned uid, unsigned gid, int host_net);
int jail_settle(pid_t pid, int fd, unsigned uid, unsigned gid, long ms,
                int (*abort)(void *), void *ctx);

#endif
