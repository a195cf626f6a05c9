/* jailproc: the jail process itself (the sandhook-jail helper).
 *
 * Started by jail_open with its channel on fd 3, an empty environment and
 * argv ROOT WORKSPACE UID GID NET LIMITS.  It unshares mount, PID, IPC, UTS
 * and (NET=none) network namespaces, builds a tmpfs root at ROOT from
 * read-only nosuid,nodev binds of the host's /usr, a minimal /etc and /dev,
 * a fresh /proc, a capped /tmp and WORKSPACE at /workspace, pivots into it,
 * enters a user namespace mapping only UID/GID (its parent writes the
 * maps), empties every capability set, drops to UID/GID with no_new_privs, applies
 * the rlimits and, last, the seccomp filter, then serves tool calls one at a
 * time as PID 1 of its namespace until the channel closes. */
#ifndef SANDHOOK_JAILPROC_H
#define SANDHOOK_JAILPROC_H

#define JAIL_WORKDIR "/workspace"

int jail_main(int argc, char **argv);

#endif
