#include "drain/cgroup.h"
#include "common/cleanup.h"
#include "common/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROOT "/sys/fs/cgroup"
#define PREFIX "sandhook-"

/* /proc/self/cgroup as the drainer found it first: the groups of its
 * jails go under its own, which do not move while it runs, and a drainer
 * serving many sessions would read it three times for each. */
static char self_cgroups[16384];
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void
read_self_cgroups(void)
{
  FILE *f = fopen("/proc/self/cgroup", "re");
  size_t n = f ? fread(self_cgroups, 1, sizeof(self_cgroups) - 1, f) : 0;

  /* Cut short, it is taken as unreadable: no line is trusted. */
  if(f && (n == sizeof(self_cgroups) - 1 || ferror(f)))
    n = 0;
  self_cgroups[n] = '\0';
  if(f)
    fclose(f);
}

/* The drainer's own path in a hierarchy, from /proc/self/cgroup: "0::" for
 * v2, or the line naming the v1 controller. */
static int
own_path(const char *controller, char *out, size_t cap)
{
  const char *at, *next;
  int found = -1;

  pthread_once(&self_once, read_self_cgroups);
  for(at = self_cgroups; found < 0 && *at; at = next) {
    size_t len = strcspn(at, "\n");
    char line[PATH_MAX + 64];
    char *c1, *c2, *names, *tok, *save = NULL;

    next = at + len + (at[len] == '\n');
    snprintf(line, sizeof(line), "%.*s", (int)len, at);
    c1 = strchr(line, ':');
    c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if(!c2)
      continue;
    *c2 = '\0';
    names = c1 + 1;
    if(!controller ? !*names : 0)
      found = snprintf(out, cap, "%s", c2 + 1) < (int)cap ? 0 : -1;
    for(tok = controller ? strtok_r(names, ",", &save) : NULL; tok && found < 0;
        tok = strtok_r(NULL, ",", &save))
      if(!strcmp(tok, controller))
        found = snprintf(out, cap, "%s", c2 + 1) < (int)cap ? 0 : -1;
  }
  return found;
}

/* The drainer's own group in the v1 hierarchy of controller, or in v2
 * (NULL), with no trailing slash: where its jails' groups go. */
static int
own_dir(const char *controller, char *out, size_t cap)
{
  char own[PATH_MAX / 2];
  size_t n;

  if(own_path(controller, own, sizeof(own)) < 0)
    return -1;
  n = strlen(own);
  if(n && own[n - 1] == '/')
    own[n - 1] = '\0';
  return snprintf(out, cap, ROOT "%s%s%s", controller ? "/" : "", controller ? controller : "",
                  own) < (int)cap ? 0 : -1;
}

static int
make_dir(struct cgroup *cg, const char *controller, const char *name)
{
  char parent[PATH_MAX / 2 + 64];
  char *dir = cg->dirs[cg->ndirs];

  if(own_dir(controller, parent, sizeof(parent)) < 0 ||
     snprintf(dir, PATH_MAX, "%s/" PREFIX "%s", parent, name) >= PATH_MAX)
    return -1;
  if(mkdir(dir, 0700) < 0 && errno != EEXIST)
    return -1;
  cg->ndirs++;
  return 0;
}

static int
create_v2(struct cgroup *cg, const char *name, const struct jail_limits *l)
{
  char parent[PATH_MAX], v[64];

  if(access(ROOT "/cgroup.controllers", F_OK) < 0 || own_dir(NULL, parent, sizeof(parent)) < 0)
    return -1;
  /* Fails where the parent still holds processes ("no internal
   * processes"), which is when v2 cannot be used from here. */
  if(write_str_to(parent, "cgroup.subtree_control", "+memory +pids +cpu") < 0)
    return -1;
  cg->version = 2;
  if(make_dir(cg, NULL, name) < 0)
    return -1;
  snprintf(v, sizeof(v), "%ld", l->memory_mb << 20);
  if(write_str_to(cg->dirs[0], "memory.max", v) < 0)
    return -1;
  write_str_to(cg->dirs[0], "memory.swap.max", "0");
  snprintf(v, sizeof(v), "%ld", l->pids);
  if(write_str_to(cg->dirs[0], "pids.max", v) < 0)
    return -1;
  snprintf(v, sizeof(v), "%ld 100000", l->cpu_percent * 1000);
  return write_str_to(cg->dirs[0], "cpu.max", v);
}

static int
create_v1(struct cgroup *cg, const char *name, const struct jail_limits *l)
{
  char v[64];

  cg->version = 1;
  if(make_dir(cg, "memory", name) < 0)
    return -1;
  snprintf(v, sizeof(v), "%ld", l->memory_mb << 20);
  if(write_str_to(cg->dirs[0], "memory.limit_in_bytes", v) < 0)
    return -1;
  write_str_to(cg->dirs[0], "memory.memsw.limit_in_bytes", v);
  if(make_dir(cg, "pids", name) < 0)
    return -1;
  snprintf(v, sizeof(v), "%ld", l->pids);
  if(write_str_to(cg->dirs[1], "pids.max", v) < 0)
    return -1;
  if(make_dir(cg, "cpu", name) < 0)
    return -1;
  snprintf(v, sizeof(v), "%ld", l->cpu_percent * 1000);
  if(write_str_to(cg->dirs[2], "cpu.cfs_period_us", "100000") < 0)
    return -1;
  return write_str_to(cg->dirs[2], "cpu.cfs_quota_us", v);
}

int
cgroup_create(struct cgroup *cg, const char *name, const struct jail_limits *l)
{
  memset(cg, 0, sizeof(*cg));
  if(create_v2(cg, name, l) == 0)
    return 0;
  cgroup_destroy(cg);
  if(create_v1(cg, name, l) == 0)
    return 0;
  cgroup_destroy(cg);
  return -1;
}

int
cgroup_enter(const struct cgroup *cg, pid_t pid)
{
  char v[24];
  int i;

  snprintf(v, sizeof(v), "%ld", (long)pid);
  for(i = 0; i < cg->ndirs; i++)
    if(write_str_to(cg->dirs[i], "cgroup.procs", v) < 0)
      return -1;
  return 0;
}

/* Kills what is left; returns the number of processes it found. */
static int
kill_members(const char *dir)
{
  char path[PATH_MAX + 32], line[32];
  FILE *f;
  int n = 0;

  snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
  f = fopen(path, "re");
  if(!f)
    return 0;
  while(fgets(line, sizeof(line), f)) {
    pid_t pid = (pid_t)strtol(line, NULL, 10);

    if(pid > 0 && kill(pid, SIGKILL) == 0)
      n++;
  }
  fclose(f);
  return n;
}

int
cgroup_destroy(struct cgroup *cg)
{
  int i, tries, left = 0, had = cg->ndirs > 0;

  if(cg->version == 2 && cg->ndirs)
    write_str_to(cg->dirs[0], "cgroup.kill", "1");
  for(i = 0; i < cg->ndirs; i++) {
    for(tries = 0; rmdir(cg->dirs[i]) < 0 && errno != ENOENT; tries++) {
      if(errno != EBUSY || tries == 100) {
        left = 1;
        break;
      }
      kill_members(cg->dirs[i]);
      usleep(10000);
    }
  }
  memset(cg, 0, sizeof(*cg));
  return left ? -1 : had;
}

/* The groups below one parent whose jail is long gone.  An empty group
 * is removed, a busy one (EBUSY: a live jail) is not; the age keeps a
 * group another drainer made a moment ago, and will enter next, from us. */
static int
sweep_dir(const char *dir, time_t cutoff)
{
  AUTO_FD int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct dirent *de;
  struct stat st;
  int removed = 0;
  DIR *d;

  if(dfd < 0 || !(d = opendir_fd(dfd)))
    return 0;
  while((de = readdir(d)))
    if(!strncmp(de->d_name, PREFIX, strlen(PREFIX)) &&
       fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
       st.st_mtime < cutoff && unlinkat(dfd, de->d_name, AT_REMOVEDIR) == 0)
      removed++;
  closedir(d);
  return removed;
}

int
cgroup_sweep(long min_age_s)
{
  static const char *const v1[] = { "memory", "pids", "cpu" };
  char dir[PATH_MAX];
  time_t cutoff = time(NULL) - min_age_s;
  int removed = 0;
  size_t i;

  if(access(ROOT "/cgroup.controllers", F_OK) == 0 && own_dir(NULL, dir, sizeof(dir)) == 0)
    removed += sweep_dir(dir, cutoff);
  for(i = 0; i < sizeof(v1) / sizeof(v1[0]); i++)
    if(own_dir(v1[i], dir, sizeof(dir)) == 0)
      removed += sweep_dir(dir, cutoff);
  return removed;
}
