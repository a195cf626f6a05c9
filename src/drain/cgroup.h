/* cgroup: memory, pids and CPU limits for one jail, and a kill of all of it.
 *
 * Uses cgroup v2 where its controllers can be enabled, else the v1
 * memory, pids and cpu hierarchies; the jail's group is created below the
 * drainer's own, so a container's limits still apply above it.  Where
 * neither works cgroup_create fails and the jail runs with rlimits only
 * (logged).  cgroup_destroy kills every process left in the group, then
 * removes it: 1 when the group is gone (so no process of it is left), 0
 * when there was none, -1 when it would not empty. */
#ifndef SANDHOOK_CGROUP_H
#define SANDHOOK_CGROUP_H

#include <limits.h>
#include <sys/types.h>

#include "common/jail_limits.h"

struct cgroup {
  int version;                  /* 0: none, 1 or 2 */
  char dirs[3][PATH_MAX];       /* one per v1 controller; v2 uses dirs[0] */
  int ndirs;
};

int cgroup_create(struct cgroup *cg, const char *name, const struct jail_limits *l);
/* Moves process pid into the group: the jail helper, before it has
 * started anything, so every descendant is inside. */
int cgroup_enter(const struct cgroup *cg, pid_t pid);
int cgroup_destroy(struct cgroup *cg);

/* Removes the empty jail groups older than min_age_s below the drainer's
 * own, in every hierarchy: those a drainer killed mid-teardown, or one
 * whose jail would not die in time, left behind.  The count removed. */
int cgroup_sweep(long min_age_s);

#endif
