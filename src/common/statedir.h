/* statedir: the layout of SANDHOOK_STATE_DIR, and the one place its paths
 * are built.
 *
 *   seen.table               front: the ids delivered within the TTL, one
 *                            table shared by every process (seen.h); seen/,
 *                            the file-per-id store before it, is imported
 *                            and removed by the first mark
 *   run/wake                 front bumps, drainer reads: a 64-bit counter
 *                            under flock, so a wake-up is never lost
 *   run/doorbell             a FIFO: a queue drainer listens, a front rings
 *                            it rather than start another (doorbell.h)
 *   run/slot.<i>             drainer i holds it (flock) while it runs, the
 *                            front from its lock until the drainer it starts
 *                            has it; the text names the item it holds
 *                            ("<work-id> <ttl>")
 *   run/status.<i>, run/recent  what drainer i does now, and the latest
 *                            outcomes and errors (runstate.h)
 *   run/metrics              every process's counters (metrics.h)
 *   sessions/<sid>/          drainer: one session's storage, kept across its
 *                            work items; workspace.img (or workspace/) and
 *                            memory.img (or memory/); the agent writes inside
 *                            them, so the host reaches them only by descriptor
 *   spares/<mb>m-<uid>-<gid>-<x>.img  drainer: workspace images made ahead
 *                            (spares.h), taken by a session with rename
 *   templates/v1-<mb>m-<uid>-<gid>.img  drainer: a freshly formatted image,
 *                            sparse, copied for each new image (image.h)
 *   jails/<work-id>/         drainer: the root of one item's jail, removed after
 *   .skill-XXXXXX            drainer: a skill archive while it downloads
 *   capture/                 front: captured requests (SANDHOOK_CAPTURE_DIR)
 *
 * Every id in a path was checked by the caller (a safe id: no '/', no "..").
 * Returns 0, or -1 with errno ENAMETOOLONG. */
#ifndef SANDHOOK_STATEDIR_H
#define SANDHOOK_STATEDIR_H

#include <stddef.h>

#define STATEDIR_SEEN_TABLE "seen.table"
#define STATEDIR_SEEN_LEGACY "seen"
#define STATEDIR_RUN "run"
#define STATEDIR_DOORBELL "doorbell"
#define STATEDIR_SESSIONS "sessions"
#define STATEDIR_SPARES "spares"
#define STATEDIR_TEMPLATES "templates"
#define STATEDIR_JAILS "jails"
#define STATEDIR_WORKSPACE_IMAGE "workspace.img"
#define STATEDIR_WORKSPACE_DIR "workspace"
#define STATEDIR_MEMORY_IMAGE "memory.img"
#define STATEDIR_MEMORY_DIR "memory"

/* state_dir joined with the formatted rest. */
int statedir_path(char *buf, size_t cap, const char *state_dir, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

/* Why a delivery cannot be taken now, or NULL: the state filesystem is
 * read-only or (nearly) full, so the drainer could not log, keep its claim
 * or make a workspace, and a 202 would lose it.  A directory that cannot
 * be examined is NULL: whoever uses it says what is wrong. */
const char *statedir_unusable(const char *state_dir);

/* The wake counter; bump=1 increments it.  Returns its value, or -1. */
long long statedir_wake(const char *state_dir, int bump);

#endif
