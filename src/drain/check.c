#include "drain/check.h"
#include "common/cleanup.h"
#include "common/errmsg.h"
#include "common/json.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/spawn.h"
#include "common/statedir.h"
#include "common/util.h"
#include "drain/api.h"
#include "drain/cgroup.h"
#include "drain/image.h"
#include "drain/workspace.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

enum verdict { CHECK_OK, CHECK_WARN, CHECK_FAIL };

struct tally {
  int failed;
};

static void __attribute__((format(printf, 4, 5)))
say(struct tally *t, enum verdict v, const char *name, const char *fmt, ...)
{
  static const char *const words[] = { "ok", "warn", "FAIL" };
  va_list ap;

  printf("%-4s %-16s ", words[v], name);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  if(v == CHECK_FAIL)
    t->failed = 1;
}

/* Whether a child can do what the jail helper does first: 0, or the
 * errno it met. */
static int
in_child(int (*fn)(void))
{
  int status;
  pid_t pid = fork();

  if(pid < 0)
    return errno;
  if(pid == 0)
    _exit(fn());
  if(waitpid(pid, &status, 0) < 0)
    return errno;
  return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
}

/* As jail_start and the helper make them: without root, inside a user
 * namespace of their own, which is what lets an unprivileged service (a
 * mod_fcgid one) build its jail at all. */
static int
try_namespaces(void)
{
  int user = geteuid() != 0 ? CLONE_NEWUSER : 0;

  return unshare(user | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) < 0 ?
         errno : 0;
}

static int
try_user_namespace(void)
{
  return unshare(CLONE_NEWUSER) < 0 ? errno : 0;
}

/* EFAULT for the NULL program means the kernel has filter mode. */
static int
try_seccomp(void)
{
  if(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return errno;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL) < 0 && errno == EFAULT ? 0 : EINVAL;
}

static void
check_settings(struct tally *t, const struct config *cfg)
{
  struct errmsg err;

  if(config_require(cfg, CONFIG_NEED_WORKER | CONFIG_NEED_SIGNING, &err) < 0)
    say(t, CHECK_FAIL, "settings", "%s", err.text);
  else
    say(t, CHECK_OK, "settings", "environment %s; the key and the signing key are set and the "
        "signing key decodes%s%s", cfg->environment_id, cfg->file ? "; read from " : "",
        cfg->file ? cfg->file : "");
}

static void
check_api(struct tally *t, const struct config *cfg)
{
  struct api api;
  struct api_req rq = { 0 };
  struct errmsg err;
  char path[512];
  long status;
  cJSON *stats;

  if(!cfg->environment_id || !cfg->environment_key) {
    say(t, CHECK_FAIL, "control plane", "not tried: the settings above are missing");
    return;
  }
  if(curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || api_init(&api, cfg, NULL) < 0) {
    say(t, CHECK_FAIL, "control plane", "cannot start the HTTP client");
    return;
  }
  /* The queue's statistics: authenticated, and no work is claimed. */
  snprintf(path, sizeof(path), "/v1/environments/%s/work/stats", cfg->environment_id);
  rq.method = "GET";
  rq.path = path;
  rq.token = cfg->environment_key;
  rq.beta = API_BETA_WORK;
  rq.max_retries = 1;
  stats = api_json(&api, &rq, &status, &err);
  if(status == 200)
    say(t, CHECK_OK, "control plane", "%s accepts the key for %s; %ld items queued, %ld workers "
        "polling", cfg->base_url, cfg->environment_id,
        json_long(cJSON_GetObjectItemCaseSensitive(stats, "depth"), 0, 1L << 30, 0),
        json_long(cJSON_GetObjectItemCaseSensitive(stats, "workers_polling"), 0, 1L << 30, 0));
  else
    say(t, CHECK_FAIL, "control plane", "%s", err.text);
  cJSON_Delete(stats);
  api_cleanup(&api);
  curl_global_cleanup();
}

/* Whether dir is a directory this user can make files in: 0, or -1 with
 * errno. */
static int
writable_dir(const char *dir)
{
  struct stat st;

  if(stat(dir, &st) < 0)
    return -1;
  if(!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return access(dir, W_OK | X_OK);
}

/* path cut back, in place, to its nearest existing ancestor (itself when
 * it exists): 0, or -1 with errno. */
static int
nearest_existing(char *path)
{
  while(access(path, F_OK) < 0) {
    if(errno != ENOENT || !strcmp(path, ".") || !strcmp(path, "/"))
      return -1;
    path_parent(path);
  }
  return 0;
}

/* Whether this user can write in dir, or make it as mkdir_p would, under
 * its nearest existing ancestor: 0, or -1 with errno. */
static int
can_make_dir(const char *dir)
{
  char up[PATH_MAX];

  snprintf(up, sizeof(up), "%s", dir);
  return nearest_existing(up) < 0 ? -1 : writable_dir(up);
}

/* Whether this user can make a file in path's directory: 0, or -1 with
 * errno.  The state directory (state_dir) sandhook makes, and what it
 * holds, at first use; any other directory a setting names must be there
 * already. */
static int
can_make_in_parent(const char *path, const char *state_dir)
{
  char dir[PATH_MAX], state[PATH_MAX];

  snprintf(dir, sizeof(dir), "%s", path);
  path_parent(dir);
  snprintf(state, sizeof(state), "%s", state_dir);
  path_trim_slashes(state);
  return strcmp(dir, state) ? writable_dir(dir) : can_make_dir(dir);
}

/* Whether this user can open path with flags, its opener's own, or create
 * it: 0, or -1 with errno.  Nothing is made: a file the check made as root
 * would be root's, and a service running as another user could not open
 * it. */
static int
can_open_or_make(const char *path, int flags, const char *state_dir)
{
  int fd = open(path, flags | O_CLOEXEC);

  if(fd >= 0) {
    close(fd);
    return 0;
  }
  return errno == ENOENT ? can_make_in_parent(path, state_dir) : -1;
}

/* As log_to_file opens the log: a symlink to it is followed. */
static int
can_open_log(const char *path, const char *state_dir)
{
  return can_open_or_make(path, O_WRONLY | O_APPEND, state_dir);
}

/* As audit_open opens the trail: read too (its last line), never through
 * a symlink. */
static int
can_open_audit(const char *path, const char *state_dir)
{
  return can_open_or_make(path, O_RDWR | O_APPEND | O_NOFOLLOW, state_dir);
}

/* A directory sandhook makes at first use (capture). */
static int
can_make_output_dir(const char *path, const char *state_dir)
{
  (void)state_dir;
  return can_make_dir(path);
}

/* Whether this user can make files in STATE/run, or make it: 0, or -1
 * with errno.  Tested, not made: made by a check run as root, it would be
 * root's, and a service running as another user could use none of it. */
static int
run_dir_usable(const char *path)
{
  AUTO_FD int fd = -1;

  if(access(path, F_OK) < 0)
    return errno == ENOENT ? can_make_dir(path) : -1;
  fd = open(path, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  return fd < 0 || write(fd, "x", 1) != 1 ? -1 : 0;
}

static void
check_state(struct tally *t, const struct config *cfg)
{
  char path[PATH_MAX], up[PATH_MAX];
  struct statvfs vfs;
  long long need_mb = (long long)cfg->max_sessions * (cfg->workspace_mb + cfg->memory_mb), free_mb;

  if(statedir_path(path, sizeof(path), cfg->state_dir, STATEDIR_RUN) < 0 || run_dir_usable(path) < 0) {
    say(t, CHECK_FAIL, "state directory", "%s is not writable: %s (SANDHOOK_STATE_DIR); "
        "deliveries would be refused with 503", cfg->state_dir, strerror(errno));
    return;
  }
  snprintf(up, sizeof(up), "%s", cfg->state_dir);
  if(nearest_existing(up) < 0 || statvfs(up, &vfs) < 0) {
    say(t, CHECK_FAIL, "state directory", "%s: %s", cfg->state_dir, strerror(errno));
    return;
  }
  free_mb = (long long)(vfs.f_bavail * vfs.f_frsize >> 20);
  if(free_mb < need_mb)
    say(t, CHECK_WARN, "state directory", "%s is writable, but has %lld MiB free and %d sessions "
        "at once need %lld (SANDHOOK_MAX_SESSIONS x (SANDHOOK_WORKSPACE_MB + SANDHOOK_MEMORY_MB)); "
        "a session that finds no room fails", cfg->state_dir, free_mb, cfg->max_sessions, need_mb);
  else
    say(t, CHECK_OK, "state directory", "%s is writable, %lld MiB free", cfg->state_dir, free_mb);
}

/* The log file is the drainer's stderr, opened by the front before the
 * drainer starts, whatever SANDHOOK_LOG says: one it cannot open fails
 * every start.  With SANDHOOK_LOG=syslog, the daemon's socket too. */
static void
check_log(struct tally *t, const struct config *cfg)
{
  const char *sock = cfg->syslog_socket ? cfg->syslog_socket : "/dev/log";
  int syslog = cfg->log_dest && !strcmp(cfg->log_dest, "syslog");

  if(can_open_log(cfg->log_file, cfg->state_dir) < 0)
    say(t, CHECK_FAIL, "log", "%s cannot be opened: %s (SANDHOOK_LOG_FILE); it is the drainer's "
        "stderr, so no drainer could start and every session's webhook would be answered 503",
        cfg->log_file, strerror(errno));
  else if(syslog && log_syslog_try(sock) < 0)
    say(t, CHECK_FAIL, "log", "no syslog daemon at %s: %s (SANDHOOK_LOG=syslog, "
        "SANDHOOK_SYSLOG_SOCKET); the drainer's lines would be lost", sock, strerror(errno));
  else
    say(t, CHECK_OK, "log", "the drainer logs to %s", syslog ? sock : cfg->log_file);
}

/* Places a setting names to write to, each failing only at its first use
 * otherwise. */
static const struct output {
  const char *line, *setting;
  size_t path;                          /* offset of the setting in struct config */
  int (*usable)(const char *path, const char *state_dir);
  const char *lost;
} outputs[] = {
  { "audit trail", "SANDHOOK_AUDIT_FILE", offsetof(struct config, audit_file), can_open_audit,
    "the drainer serves nothing without its audit trail" },
  { "capture", "SANDHOOK_CAPTURE_DIR", offsetof(struct config, capture_dir), can_make_output_dir,
    "no delivery would be captured (capture_failed)" },
  /* Replaced whole each time: its directory must take new files. */
  { "metrics file", "SANDHOOK_METRICS_FILE", offsetof(struct config, metrics_file), can_make_in_parent,
    "the metrics would never reach it (metrics_file_failed)" },
};

static void
check_outputs(struct tally *t, const struct config *cfg)
{
  size_t i;

  for(i = 0; i < N_ELEMENTS(outputs); i++) {
    const struct output *o = &outputs[i];
    const char *path = *(char *const *)((const char *)cfg + o->path);

    if(!path)
      continue;
    if(o->usable(path, cfg->state_dir) < 0)
      say(t, CHECK_FAIL, o->line, "%s cannot be written: %s (%s); %s", path, strerror(errno),
          o->setting, o->lost);
    else
      say(t, CHECK_OK, o->line, "%s", path);
  }
}

static void
check_jail(struct tally *t, const struct config *cfg)
{
  char helper[PATH_MAX];
  struct cgroup cg;
  int e;

  if(spawn_program_path(PROGRAM_JAIL, helper, sizeof(helper)) < 0 || access(helper, X_OK) < 0)
    say(t, CHECK_FAIL, "jail helper", "%s is missing: no tool call can run", helper);
  else
    say(t, CHECK_OK, "jail helper", "%s", helper);
  if((e = in_child(try_namespaces)) != 0)
    say(t, CHECK_FAIL, "namespaces", "mount, PID, IPC, UTS and network namespaces: %s; the jail "
        "cannot be built (run sandhook as root, or allow unprivileged user namespaces)",
        strerror(e));
  else
    say(t, CHECK_OK, "namespaces", "mount, PID, IPC, UTS and network");
  if((e = in_child(try_user_namespace)) != 0)
    say(t, CHECK_WARN, "user namespace", "%s; lost: the jail's own user namespace, so the jail "
        "uid is the host's uid %u (still without capabilities)", strerror(e), cfg->jail_uid);
  else
    say(t, CHECK_OK, "user namespace", "the jail maps only the jail uid and gid");
  if((e = in_child(try_seccomp)) != 0)
    say(t, CHECK_FAIL, "seccomp", "no seccomp filter mode (%s): the jail refuses to run without "
        "its system-call filter", strerror(e));
  else
    say(t, CHECK_OK, "seccomp", "filter mode");
  if(!cfg->cgroups)
    say(t, CHECK_WARN, "cgroups", "off (SANDHOOK_CGROUPS=0); lost: the memory, pids and CPU limits "
        "of SANDHOOK_LIMIT_MEMORY_MB, _PIDS and _CPU_PERCENT (rlimits remain)");
  else if(cgroup_create(&cg, "sandhook-check", &cfg->limits) < 0)
    say(t, CHECK_WARN, "cgroups", "cannot make a cgroup (%s); lost: the memory, pids and CPU "
        "limits (rlimits remain)", strerror(errno));
  else {
    say(t, CHECK_OK, "cgroups", "v%d, memory, pids and CPU limits", cg.version);
    cgroup_destroy(&cg);
  }
  if(cfg->workspace_mb == 0 && cfg->memory_mb == 0)
    say(t, CHECK_OK, "loop devices", "not needed (SANDHOOK_WORKSPACE_MB=0, SANDHOOK_MEMORY_MB=0)");
  else if(!image_possible())
    say(t, CHECK_WARN, "loop devices", "no /dev/loop-control, no mkfs.ext4, or not root; lost: the "
        "size caps of /workspace and /mnt/memory (plain directories instead)");
  else
    say(t, CHECK_OK, "loop devices", "/workspace and /mnt/memory are capped ext4 images");
}

int
check_become(const char *name)
{
  struct passwd *pw;
  struct tally t = { 0 };

  errno = 0;
  if(!(pw = getpwnam(name)))
    say(&t, CHECK_FAIL, "user", "%s: %s", name, errno ? strerror(errno) : "no such user");
  else if(geteuid() != 0)
    say(&t, CHECK_FAIL, "user", "only root can check as another user (--user %s)", name);
  else if(initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
    say(&t, CHECK_FAIL, "user", "cannot become %s: %s", name, strerror(errno));
  else if(setuid(0) == 0 || geteuid() != pw->pw_uid)
    say(&t, CHECK_FAIL, "user", "%s kept root's privileges; nothing checked", name);
  else
    say(&t, CHECK_OK, "user", "checking as %s (uid %u, gid %u), as a service running as it would",
        name, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
  if(t.failed)
    printf("sandhook check: some checks failed\n");
  return t.failed ? -1 : 0;
}

int
check_run(const struct config *cfg)
{
  struct tally t = { 0 };

  check_settings(&t, cfg);
  check_api(&t, cfg);
  check_state(&t, cfg);
  check_log(&t, cfg);
  check_outputs(&t, cfg);
  check_jail(&t, cfg);
  printf("%s\n", t.failed ? "sandhook check: some checks failed" : "sandhook check: all ok");
  return t.failed ? 1 : 0;
}
