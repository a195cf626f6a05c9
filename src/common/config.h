/* config: every setting sandhook reads, from one place.
 *
 * Settings come from a KEY=VALUE file (--config FILE, SANDHOOK_CONFIG, or
 * /etc/sandhook/sandhook.conf when present), then from the environment,
 * which wins.  FastCGI servers pass no environment, hence the file.  Each
 * secret can instead be named by KEY_FILE; a secret file, or a config file
 * holding a secret, that group or others can read is refused.  config_load
 * returns -1 with a message in err for any bad setting: a wrong config never
 * starts half-working. */
#ifndef SANDHOOK_CONFIG_H
#define SANDHOOK_CONFIG_H

#include <stddef.h>

#include "common/jail_limits.h"
#include "common/errmsg.h"

struct config {
  char *file;                     /* the config file named, if one was */
  int no_file;                    /* --no-config: the environment only */
  char *environment_id;
  char *environment_key;          /* secret */
  char *signing_key;              /* secret, "whsec_..." as configured */
  char *signing_key_previous;     /* secret: also verifies during a rotation */
  char *base_url;
  char *state_dir;
  char *log_file;                 /* drainer log; default STATE/sandhook.log */
  int log_file_named;             /* SANDHOOK_LOG_FILE was set: the front logs there too */
  char *log_dest;                 /* SANDHOOK_LOG: stderr, file or syslog (NULL: by part) */
  char *log_format;               /* logfmt (NULL) or json */
  char *syslog_socket;            /* default /dev/log */
  char *anthropic_log;            /* the SDK's ANTHROPIC_LOG level, or NULL */
  size_t max_body;
  int max_sessions;
  int fcgi_workers;            /* FastCGI responder processes */
  long idle_timeout_ms;           /* end_turn idle before the run ends */
  long tool_timeout_ms;           /* bash default when timeout_ms is absent */
  long reclaim_older_than_ms;
  long dedupe_seconds;
  unsigned jail_uid, jail_gid;
  char *jail_network;             /* "none" (default), "host" or "allowlist" */
  int jail_network_host;
  int jail_network_allowlist;     /* through the egress proxy */
  char *egress_allow;             /* SANDHOOK_EGRESS_ALLOW, as written */
  char *egress_deny;
  char *egress_resolve;           /* name=address pins */
  char *audit_file;               /* SANDHOOK_AUDIT_FILE, or NULL */
  struct jail_limits limits;
  int cgroups;                    /* use cgroups when the machine has them */
  long workspace_mb;              /* size cap of /workspace; 0: uncapped */
  int workspace_spares;          /* images made ahead (spares.h) */
  long skill_max_mb;              /* per skill: download and unpacked size */
  long skill_max_entries;         /* per skill: archive members */
  long memory_sync_s;             /* at most one memory sync this often */
  long memory_mb;                 /* the stores' image (0: an uncapped directory) */
  long memory_max_files;          /* per store, the paths the drainer keeps state for */
  char *memory_sync_deletions;    /* enabled | log_only | disabled */
  char *capture_dir;              /* capture every request here (opt-in) */
  long capture_keep_hours;
  long capture_max_mb;             /* the folder's cap, oldest dropped first */
  int log_debug;
  char *metrics_file;             /* the textfile collector's file, or NULL */
  char *metrics_path;             /* the GET location of the metrics */
  char *health_path;              /* the GET location of the health answer */
  long workspace_keep_hours;      /* idle sessions' storage kept this long; 0: forever */
};

/* file: the --config file, NULL for SANDHOOK_CONFIG or the default one,
 * CONFIG_NO_FILE for none at all (--no-config). */
#define CONFIG_NO_FILE ""
int config_load(struct config *cfg, const char *file, struct errmsg *err);
void config_free(struct config *cfg);

/* What a part cannot work without: the front verifies with the signing
 * key, the drainer claims with the environment's id and key.  Missing,
 * empty, or still a placeholder ("env_...", "<...>") is an error naming the
 * setting and where to set it. */
#define CONFIG_NEED_SIGNING 1
#define CONFIG_NEED_WORKER 2
int config_require(const struct config *cfg, int need, struct errmsg *err);

/* Reads a secret from a file that must be a regular file with no group or
 * other permission bits; trailing newlines are dropped.  The caller owns
 * the copy (and wipes it before freeing: it is a secret). */
char *config_read_secret_file(const char *path, struct errmsg *err);

#endif
