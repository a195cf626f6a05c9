/* gc: removing the session storage nothing needs any more.
 *
 * STATE/sessions/<sid>/ (workspace and memory images) outlives each work
 * item so the next one finds its files.  It goes when the session ends
 * (session.status_terminated or session.deleted, on the stream or by
 * webhook) and when it was last used longer ago than
 * SANDHOOK_WORKSPACE_KEEP_HOURS (its directory's mtime, touched at the end
 * of each item).  Storage a jail still holds (the workspace lock) is never
 * touched, and removal is descriptor-relative (remove_tree_at): the agent
 * wrote inside it.  gc_hold is held, shared, while a drainer opens a
 * session's storage, and exclusively while gc removes one, so a session
 * coming back to life is never removed under it. */
#ifndef SANDHOOK_GC_H
#define SANDHOOK_GC_H

#include "common/config.h"

enum gc_result { GC_REMOVED, GC_IN_USE, GC_ABSENT, GC_FAILED };

/* A descriptor to close when done, or -1 (then go on without it). */
int gc_hold(const struct config *cfg, int exclusive);

enum gc_result gc_session(const struct config *cfg, const char *session_id);
/* Marks the session's storage used now. */
void gc_touch(const struct config *cfg, const char *session_id);
/* Every session idle past the keep time; the count removed, or -1. */
int gc_idle(const struct config *cfg);

/* The jail cgroups a drainer left behind (cgroup_sweep), empty and older
 * than GC_CGROUP_AGE_S; the count removed, logged when not 0. */
#define GC_CGROUP_AGE_S 600
int gc_cgroups(const struct config *cfg);

/* `sandhook gc [--session SID]`: the session named, then the idle ones,
 * one line each on stdout.  The exit status. */
int gc_main(const struct config *cfg, const char *session_id);

#endif
