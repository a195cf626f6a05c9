#include "common/jail_limits.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

void
limits_default(struct jail_limits *l)
{
  l->cpu_s = 600;
  l->as_mb = 4096;
  l->nofile = 1024;
  l->nproc = 512;
  l->fsize_mb = 1024;
  l->tmp_mb = 64;
  l->memory_mb = 2048;
  l->pids = 512;
  l->cpu_percent = 100;
}

/* Only what the jail process itself applies crosses the exec; the cgroup
 * limits are set by the drainer from outside. */
int
limits_format(const struct jail_limits *l, char *buf, size_t cap)
{
  int n = snprintf(buf, cap, "cpu=%ld,as=%ld,nofile=%ld,nproc=%ld,fsize=%ld,tmp=%ld",
                   l->cpu_s, l->as_mb, l->nofile, l->nproc, l->fsize_mb, l->tmp_mb);

  return n > 0 && (size_t)n < cap ? 0 : -1;
}

int
limits_parse(const char *s, struct jail_limits *l)
{
  static const struct { const char *key; size_t off; } keys[] = {
    { "cpu", offsetof(struct jail_limits, cpu_s) },
    { "as", offsetof(struct jail_limits, as_mb) },
    { "nofile", offsetof(struct jail_limits, nofile) },
    { "nproc", offsetof(struct jail_limits, nproc) },
    { "fsize", offsetof(struct jail_limits, fsize_mb) },
    { "tmp", offsetof(struct jail_limits, tmp_mb) },
  };

  limits_default(l);
  while(*s) {
    const char *eq = strchr(s, '='), *end;
    char *num_end;
    long v;
    size_t i;

    if(!eq)
      return -1;
    v = strtol(eq + 1, &num_end, 10);
    if(num_end == eq + 1 || v < 1 || (*num_end && *num_end != ','))
      return -1;
    for(i = 0; i < N_ELEMENTS(keys); i++)
      if(strlen(keys[i].key) == (size_t)(eq - s) && !strncmp(keys[i].key, s, (size_t)(eq - s)))
        break;
    if(i == N_ELEMENTS(keys))
      return -1;
    *(long *)((char *)l + keys[i].off) = v;
    end = num_end;
    s = *end ? end + 1 : end;
  }
  return 0;
}

/* Never above the hard limit we were given: only lowering is allowed to a
 * jail started without privileges, and a stricter host limit stays. */
static int
set(int resource, rlim_t v)
{
  struct rlimit rl;

  if(getrlimit(resource, &rl) < 0)
    return -1;
  if(rl.rlim_max != RLIM_INFINITY && v > rl.rlim_max)
    v = rl.rlim_max;
  rl.rlim_cur = rl.rlim_max = v;
  return setrlimit(resource, &rl);
}

int
limits_apply(const struct jail_limits *l, int with_as)
{
  if(set(RLIMIT_CPU, (rlim_t)l->cpu_s) < 0 ||
     set(RLIMIT_NOFILE, (rlim_t)l->nofile) < 0 ||
     set(RLIMIT_NPROC, (rlim_t)l->nproc) < 0 ||
     set(RLIMIT_FSIZE, (rlim_t)l->fsize_mb << 20) < 0 ||
     set(RLIMIT_CORE, 0) < 0)
    return -1;
  if(with_as && set(RLIMIT_AS, (rlim_t)l->as_mb << 20) < 0)
    return -1;
  return 0;
}
