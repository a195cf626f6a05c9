/* jail_setup: the jail process itself (the sandhook-jail helper), up to
 * the point where jail_serve.c takes its requests.
 *
 * Started by jail_open with its channel on fd 3, an empty environment and
 * no argument but its name; its setup (root, workspace, memory folder and
 * read-only stores, uid, gid, network, limits) is the channel's first
 * frame, so no host path or id shows in /proc.  It unshares mount, PID,
 * IPC and UTS namespaces (and the network's, in the jail's own user
 * namespace), builds a tmpfs root from read-only nosuid,nodev binds of the
 * host's /usr, a minimal /etc and /dev, a fresh /proc, a capped /tmp, the
 * workspace at /workspace and the memory stores at /mnt/memory, pivots into
 * it, enters a user namespace mapping only the jail uid and gid (its parent
 * writes the maps), empties every capability set, drops to them with
 * no_new_privs, applies the rlimits and, last, the seccomp filter, then
 * hands over to jail_serve as PID 1 of its namespace until the channel
 * closes.  Each step that fails ends the helper with one message. */
#ifndef SANDHOOK_JAIL_SETUP_H
#define SANDHOOK_JAIL_SETUP_H

#define JAIL_WORKDIR "/workspace"

int jail_main(int argc, char **argv);

#endif
