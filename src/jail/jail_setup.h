/* jail_setup: the jail process itself (the sandhook-jail helper), up to
 * the point where jail_serve.c takes its requests.
 *
 * Started by jail_start (common/jail_start.h) as PID 1 of a PID namespace
 * of its own, with its channel on fd 3, an empty environment and no
 * argument but its name; it refuses to run as anything but PID 1.  Its setup (root, workspace, memory folder and
 * read-only stores, uid, gid, network, limits) is the channel's first
 * frame, so no host path or id shows in /proc.  It then builds the layers
 * the README's "Security model" describes, in that order, the seccomp
 * filter last, each step a function that ends the helper with one message
 * when it fails, and hands over to jail_serve as PID 1 of its namespace. */
#ifndef SANDHOOK_JAIL_SETUP_H
#define SANDHOOK_JAIL_SETUP_H

#define JAIL_WORKDIR "/workspace"

int jail_main(int argc, char **argv);

#endif
