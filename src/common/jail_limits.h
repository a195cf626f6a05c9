/* jail_limits: the resource limits of a jail.
 *
 * Each is a setting with a default (see the README): rlimits for CPU time,
 * address space, open files, processes and file size, the size of the
 * jail's /tmp, and the cgroup limits for memory, pids and CPU.  They travel
 * to the jail process as one "key=value,..." string in its setup frame. */
#ifndef SANDHOOK_JAIL_LIMITS_H
#define SANDHOOK_JAIL_LIMITS_H

#include <stddef.h>

struct jail_limits {
  long cpu_s;         /* RLIMIT_CPU, seconds per process */
  long as_mb;         /* RLIMIT_AS */
  long nofile;        /* RLIMIT_NOFILE */
  long nproc;         /* RLIMIT_NPROC (per uid: give the jail its own uid) */
  long fsize_mb;      /* RLIMIT_FSIZE */
  long tmp_mb;        /* size of the jail's /tmp */
  long memory_mb;     /* cgroup memory limit */
  long pids;          /* cgroup pids limit */
  long cpu_percent;   /* cgroup CPU quota, 100 = one core */
};

void limits_default(struct jail_limits *l);
int limits_format(const struct jail_limits *l, char *buf, size_t cap);
int limits_parse(const char *s, struct jail_limits *l);

/* setrlimit for each; with_as also sets RLIMIT_AS, which must come last
 * before execve (it breaks sanitizers in the calling process). */
int limits_apply(const struct jail_limits *l, int with_as);

#endif
