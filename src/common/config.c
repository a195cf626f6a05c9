#include "common/config.h"
#include "common/util.h"
#include "common/errmsg.h"
#include "common/egress_policy.h"
#include "common/log.h"
#include "common/signing_key.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_CONFIG_FILE "/etc/sandhook/sandhook.conf"

enum kind { K_STR, K_SECRET, K_SIZE, K_INT, K_LONG, K_UINT, K_BOOL };

struct setting {
  const char *name;
  enum kind kind;
  size_t off;
  long min, max;
};

#define OFF(f) offsetof(struct config, f)
static const struct setting settings[] = {
  { "ANTHROPIC_ENVIRONMENT_ID", K_STR, OFF(environment_id), 0, 0 },
  { "ANTHROPIC_ENVIRONMENT_KEY", K_SECRET, OFF(environment_key), 0, 0 },
  { "ANTHROPIC_WEBHOOK_SIGNING_KEY", K_SECRET, OFF(signing_key), 0, 0 },
  { "SANDHOOK_WEBHOOK_SIGNING_KEY_PREVIOUS", K_SECRET, OFF(signing_key_previous), 0, 0 },
  { "ANTHROPIC_BASE_URL", K_STR, OFF(base_url), 0, 0 },
  { "SANDHOOK_STATE_DIR", K_STR, OFF(state_dir), 0, 0 },
  { "SANDHOOK_LOG_FILE", K_STR, OFF(log_file), 0, 0 },
  { "SANDHOOK_LOG", K_STR, OFF(log_dest), 0, 0 },
  { "SANDHOOK_LOG_FORMAT", K_STR, OFF(log_format), 0, 0 },
  { "SANDHOOK_SYSLOG_SOCKET", K_STR, OFF(syslog_socket), 0, 0 },
  { "ANTHROPIC_LOG", K_STR, OFF(anthropic_log), 0, 0 },
  { "SANDHOOK_MAX_BODY", K_SIZE, OFF(max_body), 64, 64L << 20 },
  { "SANDHOOK_MAX_SESSIONS", K_INT, OFF(max_sessions), 1, 256 },
  { "SANDHOOK_FCGI_WORKERS", K_INT, OFF(fcgi_workers), 1, 256 },
  { "SANDHOOK_IDLE_TIMEOUT_MS", K_LONG, OFF(idle_timeout_ms), 0, 86400000L },
  { "SANDHOOK_TOOL_TIMEOUT_MS", K_LONG, OFF(tool_timeout_ms), 100, 86400000L },
  { "SANDHOOK_RECLAIM_OLDER_THAN_MS", K_LONG, OFF(reclaim_older_than_ms), 1, 3600000L },
  { "SANDHOOK_DEDUPE_SECONDS", K_LONG, OFF(dedupe_seconds), 60, 86400L },
  { "SANDHOOK_JAIL_UID", K_UINT, OFF(jail_uid), 1, 4294967294L },
  { "SANDHOOK_JAIL_GID", K_UINT, OFF(jail_gid), 1, 4294967294L },
  { "SANDHOOK_JAIL_NETWORK", K_STR, OFF(jail_network), 0, 0 },
  { "SANDHOOK_EGRESS_ALLOW", K_STR, OFF(egress_allow), 0, 0 },
  { "SANDHOOK_EGRESS_DENY", K_STR, OFF(egress_deny), 0, 0 },
  { "SANDHOOK_EGRESS_RESOLVE", K_STR, OFF(egress_resolve), 0, 0 },
  { "SANDHOOK_AUDIT_FILE", K_STR, OFF(audit_file), 0, 0 },
  { "SANDHOOK_DEBUG", K_BOOL, OFF(log_debug), 0, 1 },
  { "SANDHOOK_CGROUPS", K_BOOL, OFF(cgroups), 0, 1 },
  { "SANDHOOK_WORKSPACE_MB", K_LONG, OFF(workspace_mb), 0, 1L << 24 },
  { "SANDHOOK_WORKSPACE_SPARES", K_INT, OFF(workspace_spares), 0, 64 },
  { "SANDHOOK_SKILL_MAX_MB", K_LONG, OFF(skill_max_mb), 1, 1L << 20 },
  { "SANDHOOK_SKILL_MAX_ENTRIES", K_LONG, OFF(skill_max_entries), 1, 1L << 24 },
  { "SANDHOOK_MEMORY_SYNC_SECONDS", K_LONG, OFF(memory_sync_s), 5, 86400 },
  { "SANDHOOK_MEMORY_MB", K_LONG, OFF(memory_mb), 0, 1L << 20 },
  { "SANDHOOK_MEMORY_MAX_FILES", K_LONG, OFF(memory_max_files), 1, 1L << 20 },
  { "SANDHOOK_MEMORY_SYNC_DELETIONS", K_STR, OFF(memory_sync_deletions), 0, 0 },
  { "SANDHOOK_CAPTURE_DIR", K_STR, OFF(capture_dir), 0, 0 },
  { "SANDHOOK_CAPTURE_KEEP_HOURS", K_LONG, OFF(capture_keep_hours), 1, 24L * 365 },
  { "SANDHOOK_CAPTURE_MAX_MB", K_LONG, OFF(capture_max_mb), 1, 1L << 20 },
  { "SANDHOOK_METRICS_FILE", K_STR, OFF(metrics_file), 0, 0 },
  { "SANDHOOK_METRICS_PATH", K_STR, OFF(metrics_path), 0, 0 },
  { "SANDHOOK_HEALTH_PATH", K_STR, OFF(health_path), 0, 0 },
  { "SANDHOOK_WORKSPACE_KEEP_HOURS", K_LONG, OFF(workspace_keep_hours), 0, 24L * 3650 },
  { "SANDHOOK_LIMIT_CPU_SECONDS", K_LONG, OFF(limits.cpu_s), 1, 86400 },
  { "SANDHOOK_LIMIT_ADDRESS_SPACE_MB", K_LONG, OFF(limits.as_mb), 64, 1L << 20 },
  { "SANDHOOK_LIMIT_OPEN_FILES", K_LONG, OFF(limits.nofile), 16, 1L << 20 },
  { "SANDHOOK_LIMIT_PROCESSES", K_LONG, OFF(limits.nproc), 8, 1L << 22 },
  { "SANDHOOK_LIMIT_FILE_SIZE_MB", K_LONG, OFF(limits.fsize_mb), 1, 1L << 24 },
  { "SANDHOOK_LIMIT_TMP_MB", K_LONG, OFF(limits.tmp_mb), 1, 1L << 20 },
  { "SANDHOOK_LIMIT_MEMORY_MB", K_LONG, OFF(limits.memory_mb), 16, 1L << 24 },
  { "SANDHOOK_LIMIT_PIDS", K_LONG, OFF(limits.pids), 8, 1L << 22 },
  { "SANDHOOK_LIMIT_CPU_PERCENT", K_LONG, OFF(limits.cpu_percent), 1, 100000 },
};

/* The CPUs this process may run on (its affinity: a cpuset or taskset
 * narrows it), for the defaults that follow the machine. */
static int
machine_cpus(void)
{
  cpu_set_t set;
  int n;

  if(sched_getaffinity(0, sizeof(set), &set) == 0 && (n = CPU_COUNT(&set)) > 0)
    return n;
  n = (int)sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? n : 1;
}

static void
set_defaults(struct config *cfg)
{
  int four_per_cpu = 4 * machine_cpus();

  memset(cfg, 0, sizeof(*cfg));
  cfg->max_body = 1 << 20;
  /* Sessions mostly wait, on the model and on their tools' I/O; so does a
   * FastCGI worker, on the web server (measured: 2 workers on 2 CPUs served
   * 9,900 deliveries a second through nginx, 8 served 15,800, 16 no more). */
  cfg->max_sessions = four_per_cpu > 256 ? 256 : four_per_cpu;
  cfg->fcgi_workers = four_per_cpu > 64 ? 64 : four_per_cpu;
  cfg->idle_timeout_ms = 60000;
  cfg->tool_timeout_ms = 120000;
  cfg->reclaim_older_than_ms = 2000;
  cfg->dedupe_seconds = 900;
  cfg->jail_uid = 65534;
  cfg->jail_gid = 65534;
  cfg->cgroups = 1;
  cfg->workspace_mb = 2048;
  cfg->workspace_spares = 1;
  cfg->skill_max_mb = 256;
  cfg->skill_max_entries = 10000;
  cfg->memory_sync_s = 15;
  cfg->memory_max_files = 20000;
  cfg->memory_mb = 100;
  cfg->capture_keep_hours = 72;
  cfg->capture_max_mb = 100;
  cfg->workspace_keep_hours = 168;
  limits_default(&cfg->limits);
}

static const struct setting *
find_setting(const char *name, size_t len, int *is_file)
{
  size_t i;

  *is_file = 0;
  /* A setting whose own name ends in _FILE (SANDHOOK_LOG_FILE) is that
   * setting, not a secret-file pointer. */
  for(i = 0; i < N_ELEMENTS(settings); i++)
    if(strlen(settings[i].name) == len && !memcmp(settings[i].name, name, len))
      return &settings[i];
  if(len > 5 && !memcmp(name + len - 5, "_FILE", 5)) {
    len -= 5;
    *is_file = 1;
  }
  for(i = 0; i < N_ELEMENTS(settings); i++)
    if(strlen(settings[i].name) == len && !memcmp(settings[i].name, name, len))
      return (*is_file && settings[i].kind != K_SECRET) ? NULL : &settings[i];
  return NULL;
}

char *
config_read_secret_file(const char *path, struct errmsg *err)
{
  char buf[4096];
  struct stat st;
  ssize_t n;
  size_t len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

  if(fd < 0) {
    errmsg_set(err, "cannot open secret file %s: %s", path, strerror(errno));
    return NULL;
  }
  if(fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    errmsg_set(err, "secret file %s is not a regular file", path);
    close(fd);
    return NULL;
  }
  if(st.st_mode & 077) {
    errmsg_set(err, "secret file %s is readable by group or others (mode %04o); chmod 600 it",
             path, (unsigned)(st.st_mode & 07777));
    close(fd);
    return NULL;
  }
  while(len < sizeof(buf) - 1 &&
        (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
    if(n < 0) {
      if(errno == EINTR)
        continue;
      errmsg_set(err, "cannot read secret file %s: %s", path, strerror(errno));
      close(fd);
      return NULL;
    }
    len += (size_t)n;
  }
  close(fd);
  while(len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
    len--;
  buf[len] = '\0';
  return strdup(buf);
}

static int
apply(struct config *cfg, const struct setting *s, const char *value,
      const char *origin, struct errmsg *err)
{
  char *p = (char *)cfg + s->off;
  char *end;
  long v;

  switch(s->kind) {
  case K_STR:
  case K_SECRET: {
    char *dup = strdup(value);

    if(!dup) {
      errmsg_set(err, "out of memory");
      return -1;
    }
    free(*(char **)p);
    *(char **)p = dup;
    return 0;
  }
  case K_BOOL:
    if(!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes"))
      *(int *)p = 1;
    else if(!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no"))
      *(int *)p = 0;
    else
      goto bad;
    return 0;
  case K_SIZE:
  case K_INT:
  case K_LONG:
  case K_UINT:
    errno = 0;
    v = strtol(value, &end, 10);
    if(errno || end == value || *end || v < s->min || v > s->max)
      goto bad;
    if(s->kind == K_SIZE)
      *(size_t *)p = (size_t)v;
    else if(s->kind == K_INT)
      *(int *)p = (int)v;
    else if(s->kind == K_UINT)
      *(unsigned *)p = (unsigned)v;
    else
      *(long *)p = v;
    return 0;
  default:
    break;
  }
bad:
  errmsg_set(err, "%s: %s must be %s between %ld and %ld", origin,
           s->name, s->kind == K_BOOL ? "a boolean" : "an integer",
           s->min, s->max);
  return -1;
}

/* A *_FILE setting names where the secret lives; the secret itself never
 * passes through the config file or the environment. */
static int
apply_named(struct config *cfg, const char *name, size_t namelen,
            const char *value, const char *origin, int *holds_secret,
            struct errmsg *err)
{
  int is_file;
  const struct setting *s = find_setting(name, namelen, &is_file);
  char *secret;
  int rc;

  if(!s)
    return 1;
  if(!is_file) {
    if(s->kind == K_SECRET && holds_secret)
      *holds_secret = 1;
    return apply(cfg, s, value, origin, err);
  }
  secret = config_read_secret_file(value, err);
  if(!secret)
    return -1;
  rc = apply(cfg, s, secret, origin, err);
  explicit_bzero(secret, strlen(secret));
  free(secret);
  return rc;
}

static char *
trim(char *s)
{
  char *e;

  while(*s == ' ' || *s == '\t')
    s++;
  e = s + strlen(s);
  while(e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
    *--e = '\0';
  return s;
}

static int
load_file(struct config *cfg, const char *path, int required, struct errmsg *err)
{
  FILE *f = fopen(path, "re");
  char line[8192], origin[PATH_MAX + 32];
  int lineno = 0, holds_secret = 0, rc = 0;
  struct stat st;

  if(!f) {
    if(!required && errno == ENOENT)
      return 0;
    errmsg_set(err, "cannot open config file %s: %s", path, strerror(errno));
    return -1;
  }
  while(fgets(line, sizeof(line), f)) {
    char *k, *eq, *v;

    lineno++;
    /* A line the buffer cuts would have its tail read as a line of its
     * own: an overlong value could smuggle in another setting. */
    if(!strchr(line, '\n') && !feof(f)) {
      errmsg_set(err, "%s:%d: line longer than %zu bytes", path, lineno, sizeof(line) - 2);
      rc = -1;
      break;
    }
    k = trim(line);
    if(!*k || *k == '#')
      continue;
    eq = strchr(k, '=');
    snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
    if(!eq) {
      errmsg_set(err, "%s: expected KEY=VALUE", origin);
      rc = -1;
      break;
    }
    *eq = '\0';
    k = trim(k);
    v = trim(eq + 1);
    rc = apply_named(cfg, k, strlen(k), v, origin, &holds_secret, err);
    if(rc > 0) {
      errmsg_set(err, "%s: unknown setting %s", origin, k);
      rc = -1;
    }
    if(rc < 0)
      break;
  }
  explicit_bzero(line, sizeof(line));
  if(rc == 0 && holds_secret && fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
    errmsg_set(err, "config file %s holds a secret but is readable by group or others "
             "(mode %04o); chmod 600 it or use *_FILE settings",
             path, (unsigned)(st.st_mode & 07777));
    rc = -1;
  }
  fclose(f);
  return rc;
}

/* Variables of these prefixes that are someone else's: the SDK's and the
 * ant CLI's, and the one that names our config file. */
static const char *const foreign[] = {
  "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_MODEL",
  "ANTHROPIC_WORK_ID", "ANTHROPIC_SESSION_ID", "ANTHROPIC_WORK_SECRET", "SANDHOOK_CONFIG",
};

/* Edit distance, for "did you mean": small strings only. */
static size_t
distance(const char *a, size_t la, const char *b)
{
  size_t lb = strlen(b), row[96], i, j;

  if(la >= N_ELEMENTS(row) || lb >= N_ELEMENTS(row))
    return (size_t)-1;
  for(j = 0; j <= lb; j++)
    row[j] = j;
  for(i = 1; i <= la; i++) {
    size_t diag = row[0], up;

    row[0] = i;
    for(j = 1; j <= lb; j++) {
      size_t best = diag + (a[i - 1] != b[j - 1]);

      up = row[j];
      if(up + 1 < best)
        best = up + 1;
      if(row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[lb];
}

/* A setting misspelled in the environment would be ignored in silence, as
 * the official worker ignores it; say so, with the nearest name.  Never
 * the value: it may be a secret. */
static void
warn_unknown(const char *name, size_t len)
{
  const char *near = NULL;
  size_t i, best = 4;

  for(i = 0; i < N_ELEMENTS(foreign); i++)
    if(strlen(foreign[i]) == len && !memcmp(foreign[i], name, len))
      return;
  for(i = 0; i < N_ELEMENTS(settings); i++) {
    size_t d = distance(name, len, settings[i].name);

    if(d < best) {
      best = d;
      near = settings[i].name;
    }
  }
  log_warn("config_unknown_variable", "name=%.*s did_you_mean=%s hint=%s", (int)len, name,
           near ? near : "-", "not a sandhook setting, so it is ignored; see sandhook(8)");
}

static int
load_env(struct config *cfg, struct errmsg *err)
{
  extern char **environ;
  char **e;

  for(e = environ; e && *e; e++) {
    const char *eq = strchr(*e, '=');
    int rc;

    if(!eq || (strncmp(*e, "ANTHROPIC_", 10) && strncmp(*e, "SANDHOOK_", 9)))
      continue;
    rc = apply_named(cfg, *e, (size_t)(eq - *e), eq + 1, "environment", NULL, err);
    if(rc < 0)
      return -1;
    if(rc > 0)
      warn_unknown(*e, (size_t)(eq - *e));
  }
  return 0;
}

/* The README's and the examples' stand-ins, never a real value. */
static int
placeholder(const char *v)
{
  size_t n = strlen(v);

  return strstr(v, "...") || (n >= 2 && v[0] == '<' && v[n - 1] == '>') ||
         !strncasecmp(v, "changeme", 8) || !strcmp(v, "env_");
}

static int
require(const char *name, const char *v, const char *what, struct errmsg *err)
{
  const char *where = "in /etc/sandhook/sandhook.conf (or the file --config names) or the "
                      "environment";

  if(!v || !*v)
    return errmsg_set(err, "%s is %s: set it to %s, %s", name, v ? "empty" : "not set", what,
                      where);
  if(placeholder(v))
    return errmsg_set(err, "%s is still a placeholder from the documentation: set it to %s, %s",
                      name, what, where);
  return 0;
}

int
config_require(const struct config *cfg, int need, struct errmsg *err)
{
  if(need & CONFIG_NEED_WORKER) {
    if(require("ANTHROPIC_ENVIRONMENT_ID", cfg->environment_id,
               "the self-hosted environment's id (env_...)", err) < 0 ||
       require("ANTHROPIC_ENVIRONMENT_KEY", cfg->environment_key,
               "the environment's key (or name a 0600 file with ANTHROPIC_ENVIRONMENT_KEY_FILE)",
               err) < 0)
      return -1;
  }
  if(need & CONFIG_NEED_SIGNING) {
    struct wh_key key;

    if(require("ANTHROPIC_WEBHOOK_SIGNING_KEY", cfg->signing_key,
               "the webhook endpoint's signing secret (whsec_...; or name a 0600 file "
               "with ANTHROPIC_WEBHOOK_SIGNING_KEY_FILE)", err) < 0)
      return -1;
    if(webhook_key_decode(cfg->signing_key, &key) < 0)
      return errmsg_set(err, "ANTHROPIC_WEBHOOK_SIGNING_KEY does not decode: it must be the "
                        "signing secret as Anthropic shows it, whsec_ then base64");
    if(cfg->signing_key_previous && webhook_key_decode(cfg->signing_key_previous, &key) < 0)
      return errmsg_set(err, "SANDHOOK_WEBHOOK_SIGNING_KEY_PREVIOUS does not decode: it must be "
                        "the secret being rotated out, whsec_ then base64 (or leave it unset)");
    explicit_bzero(&key, sizeof(key));
  }
  return 0;
}

static int
default_str(char **field, const char *value)
{
  if(*field)
    return 0;
  *field = strdup(value);
  return *field ? 0 : -1;
}

/* 0 when v is unset or one of the NULL-terminated choices, else -1. */
static int one_of(const char *v, ...) __attribute__((sentinel));

static int
one_of(const char *v, ...)
{
  va_list ap;
  const char *c;
  int found = !v;

  va_start(ap, v);
  while(!found && (c = va_arg(ap, const char *)))
    found = !strcmp(v, c);
  va_end(ap);
  return found ? 0 : -1;
}

/* The egress settings parse (the proxy would refuse to start on a bad
 * entry, and every tool call would then find no network), and allowlist
 * with nothing allowed is the operator's mistake, not a policy. */
static int
check_egress(const struct config *cfg, struct errmsg *err)
{
  struct egress_policy p;
  struct egress_pin *pins;
  size_t npins;

  if(egress_policy_parse(&p, cfg->egress_allow, cfg->egress_deny, err) < 0)
    return -1;
  egress_policy_free(&p);
  if(egress_pins_parse(cfg->egress_resolve, &pins, &npins, err) < 0)
    return -1;
  free(pins);
  if(cfg->jail_network_allowlist && (!cfg->egress_allow || !cfg->egress_allow[strspn(cfg->egress_allow, ", \t\n")]))
    return errmsg_set(err, "SANDHOOK_JAIL_NETWORK=allowlist with an empty SANDHOOK_EGRESS_ALLOW lets "
                      "nothing out: list the hosts tools may reach (pypi.org, *.github.com:443, ...), "
                      "or set SANDHOOK_JAIL_NETWORK=none");
  if(!cfg->jail_network_allowlist && (cfg->egress_allow || cfg->egress_deny))
    return errmsg_set(err, "SANDHOOK_EGRESS_ALLOW and SANDHOOK_EGRESS_DENY apply only with "
                      "SANDHOOK_JAIL_NETWORK=allowlist (it is %s)", cfg->jail_network);
  return 0;
}

int
config_load(struct config *cfg, const char *file, struct errmsg *err)
{
  const char *path = file ? file : getenv("SANDHOOK_CONFIG");
  char logpath[PATH_MAX];
  size_t n;

  set_defaults(cfg);
  cfg->no_file = path && !*path;
  if(path && *path && !(cfg->file = strdup(path)))
    goto oom;
  if((!cfg->no_file && load_file(cfg, path ? path : DEFAULT_CONFIG_FILE, path != NULL, err) < 0) ||
     load_env(cfg, err) < 0)
    goto fail;
  if(default_str(&cfg->base_url, "https://api.anthropic.com") < 0 ||
     default_str(&cfg->state_dir, "/var/lib/sandhook") < 0)
    goto oom;
  n = strlen(cfg->base_url);
  while(n > 1 && cfg->base_url[n - 1] == '/')
    cfg->base_url[--n] = '\0';
  if(strncmp(cfg->base_url, "https://", 8) && strncmp(cfg->base_url, "http://", 7)) {
    errmsg_set(err, "ANTHROPIC_BASE_URL must start with https:// or http://");
    goto fail;
  }
  if(default_str(&cfg->jail_network, "none") < 0)
    goto oom;
  if(one_of(cfg->jail_network, "none", "host", "allowlist", NULL) < 0) {
    errmsg_set(err, "SANDHOOK_JAIL_NETWORK must be none, host or allowlist");
    goto fail;
  }
  cfg->jail_network_host = !strcmp(cfg->jail_network, "host");
  cfg->jail_network_allowlist = !strcmp(cfg->jail_network, "allowlist");
  if(check_egress(cfg, err) < 0)
    goto fail;
  if(default_str(&cfg->memory_sync_deletions, "enabled") < 0)
    goto oom;
  if(strcmp(cfg->memory_sync_deletions, "enabled") && strcmp(cfg->memory_sync_deletions, "log_only") &&
     strcmp(cfg->memory_sync_deletions, "disabled")) {
    errmsg_set(err, "SANDHOOK_MEMORY_SYNC_DELETIONS must be enabled, log_only or disabled");
    goto fail;
  }
  if(cfg->capture_dir && cfg->capture_dir[0] != '/') {
    errmsg_set(err, "SANDHOOK_CAPTURE_DIR must be an absolute path");
    goto fail;
  }
  if(cfg->state_dir[0] != '/') {
    errmsg_set(err, "SANDHOOK_STATE_DIR must be an absolute path");
    goto fail;
  }
  cfg->log_file_named = cfg->log_file != NULL;
  if(one_of(cfg->log_dest, "stderr", "file", "syslog", NULL) < 0) {
    errmsg_set(err, "SANDHOOK_LOG must be stderr, file or syslog");
    goto fail;
  }
  if(one_of(cfg->log_format, "logfmt", "json", NULL) < 0) {
    errmsg_set(err, "SANDHOOK_LOG_FORMAT must be logfmt or json");
    goto fail;
  }
  if(one_of(cfg->anthropic_log, "debug", "info", "warn", "error", "off", NULL) < 0) {
    errmsg_set(err, "ANTHROPIC_LOG must be debug, info, warn, error or off");
    goto fail;
  }
  if(cfg->audit_file && cfg->audit_file[0] != '/') {
    errmsg_set(err, "SANDHOOK_AUDIT_FILE must be an absolute path");
    goto fail;
  }
  if(cfg->metrics_file && cfg->metrics_file[0] != '/') {
    errmsg_set(err, "SANDHOOK_METRICS_FILE must be an absolute path (node_exporter's "
               "--collector.textfile.directory, then a name ending in .prom)");
    goto fail;
  }
  if(default_str(&cfg->metrics_path, "/sandhook/metrics") < 0 ||
     default_str(&cfg->health_path, "/sandhook/health") < 0)
    goto oom;
  if(cfg->metrics_path[0] != '/' || cfg->health_path[0] != '/') {
    errmsg_set(err, "SANDHOOK_METRICS_PATH and SANDHOOK_HEALTH_PATH must start with /");
    goto fail;
  }
  if(!cfg->log_file) {
    snprintf(logpath, sizeof(logpath), "%s/sandhook.log", cfg->state_dir);
    if(default_str(&cfg->log_file, logpath) < 0)
      goto oom;
  }
  return 0;
oom:
  errmsg_set(err, "out of memory");
fail:
  config_free(cfg);
  return -1;
}

static void
free_secret(char **s)
{
  if(*s) {
    explicit_bzero(*s, strlen(*s));
    free(*s);
    *s = NULL;
  }
}

void
config_free(struct config *cfg)
{
  free(cfg->file);
  free(cfg->environment_id);
  free_secret(&cfg->environment_key);
  free_secret(&cfg->signing_key);
  free_secret(&cfg->signing_key_previous);
  free(cfg->base_url);
  free(cfg->state_dir);
  free(cfg->log_file);
  free(cfg->log_dest);
  free(cfg->log_format);
  free(cfg->syslog_socket);
  free(cfg->anthropic_log);
  free(cfg->jail_network);
  free(cfg->egress_allow);
  free(cfg->egress_deny);
  free(cfg->egress_resolve);
  free(cfg->audit_file);
  free(cfg->memory_sync_deletions);
  free(cfg->capture_dir);
  free(cfg->metrics_file);
  free(cfg->metrics_path);
  free(cfg->health_path);
  memset(cfg, 0, sizeof(*cfg));
}
