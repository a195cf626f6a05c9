/* jail_serve: the jail helper's request loop, after jail_setup.c built the
 * jail: PID 1 of its namespaces, every privilege dropped, the seccomp
 * filter on.
 *
 * Each request frame is one numbered operation (common/protocol.h, enum
 * jail_op), looked up in one table: a tool call, or the drainer's own
 * skill and memory-store work.  Each gets exactly one reply frame; the
 * loop ends when the channel closes (the drainer is done or gone). */
#ifndef SANDHOOK_JAIL_SERVE_H
#define SANDHOOK_JAIL_SERVE_H

#include "common/jail_limits.h"
#include "jail/tools/tools.h"

/* How the tools end a process tree (kill(-1) as PID 1) and what the
 * shell's child applies last before execve (RLIMIT_AS of lim, which must
 * stay valid). */
void jail_serve_prepare(struct tool_ctx *tctx, const struct jail_limits *lim);

void jail_serve(int fd, struct tool_ctx *tctx);

#endif
