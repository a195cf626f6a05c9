#include "drain/egress_client.h"
#include "drain/audit.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pump.h"
#include "common/spawn.h"
#include "common/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The proxy's "audit <json>" lines, each a connection: only the fields a
 * record has are taken. */
static void
record_line(char *line, void *ctx)
{
  static const char *const fields[] = { "tool_use_id", "kind", "host", "port", "address",
                                        "bytes_up", "bytes_down", "duration_ms", "verdict", "reason" };
  cJSON *in = !strncmp(line, "audit ", 6) ? cJSON_Parse(line + 6) : NULL;
  cJSON *ev = cJSON_IsObject(in) ? cJSON_CreateObject() : NULL;
  size_t i;

  (void)ctx;
  if(ev && cJSON_AddStringToObject(ev, "type", "egress_connection")) {
    for(i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, fields[i]);

      if(cJSON_IsString(v) || cJSON_IsNumber(v))
        cJSON_AddItemToObject(ev, fields[i], cJSON_Duplicate(v, 0));
    }
    audit_append(ev);
  }
  cJSON_Delete(ev);
  cJSON_Delete(in);
}

static void *
read_records(void *arg)
{
  read_lines(((struct egress *)arg)->ctl, record_line, NULL);
  return NULL;
}

/* Names each proxy's socket apart from the other jails of this process. */
static unsigned long socket_serial;

int
egress_start(struct egress *e, const struct config *cfg, const char *session_id)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  char prog[PATH_MAX], uid[16], gid[16], env[7][2048], name[64], run_dir[PATH_MAX];
  const char *envp[8];
  AUTO_FD int run = -1;
  int lsock = -1, sv[2] = { -1, -1 }, n = 0, err;

  memset(e, 0, sizeof(*e));
  e->ctl = -1;
  if(!cfg->jail_network_allowlist)
    return 0;
  snprintf(name, sizeof(name), "egress.%ld.%lu.sock", (long)getpid(),
           __atomic_add_fetch(&socket_serial, 1, __ATOMIC_RELAXED));
  if(statedir_path(run_dir, sizeof(run_dir), cfg->state_dir, STATEDIR_RUN) < 0 ||
     statedir_path(e->sock, sizeof(e->sock), cfg->state_dir, STATEDIR_RUN "/%s", name) < 0 ||
     spawn_program_path(PROGRAM_EGRESS, prog, sizeof(prog)) < 0 ||
     (run = open(run_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    return -1;
  /* Bound through our descriptor of the directory: a socket's address holds
   * 107 bytes, and a state directory deep in a container's volume
   * (/var/lib/kubelet/pods/<uid>/volumes/...) leaves no room for the name. */
  snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", run, name);
  unlinkat(run, name, 0);
  lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if(lsock < 0 || bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lsock, 64) < 0 ||
     ((geteuid() == 0 && fchownat(run, name, cfg->jail_uid, cfg->jail_gid, AT_SYMLINK_NOFOLLOW) < 0)) ||
     fchmodat(run, name, geteuid() == 0 ? 0600 : 0666, 0) < 0 ||
     socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    goto fail;
  snprintf(uid, sizeof(uid), "%u", cfg->jail_uid);
  snprintf(gid, sizeof(gid), "%u", cfg->jail_gid);
  snprintf(env[n], sizeof(env[n]), "SANDHOOK_EGRESS_ALLOW=%s", cfg->egress_allow ? cfg->egress_allow : "");
  envp[n] = env[n];
  n++;
  snprintf(env[n], sizeof(env[n]), "SANDHOOK_EGRESS_DENY=%s", cfg->egress_deny ? cfg->egress_deny : "");
  envp[n] = env[n];
  n++;
  snprintf(env[n], sizeof(env[n]), "SANDHOOK_EGRESS_RESOLVE=%s", cfg->egress_resolve ? cfg->egress_resolve : "");
  envp[n] = env[n];
  n++;
  snprintf(env[n], sizeof(env[n]), "SANDHOOK_SESSION_ID=%s", session_id);
  envp[n] = env[n];
  n++;
  snprintf(env[n], sizeof(env[n]), "SANDHOOK_LOG_FORMAT=%s", cfg->log_format ? cfg->log_format : "logfmt");
  envp[n] = env[n];
  n++;
  if(cfg->audit_file) {
    snprintf(env[n], sizeof(env[n]), "SANDHOOK_EGRESS_AUDIT=1");
    envp[n] = env[n];
    n++;
  }
  envp[n] = NULL;
  {
    const char *const argv[] = { PROGRAM_EGRESS, "--uid", uid, "--gid", gid, NULL };
    struct spawn sp = SPAWN_INIT(prog, argv, envp);

    /* stderr stays the drainer's log: its lines are the connection record. */
    sp.in = lsock;
    sp.out = SPAWN_NULL;
    sp.pass_fd[0] = sv[1];
    sp.die_with_parent = 1;
    e->pid = spawn_start(&sp);
  }
  if(e->pid < 0)
    goto fail;
  close(lsock);
  close(sv[1]);
  e->ctl = sv[0];
  if(cfg->audit_file) {
    if(log_thread_create(&e->reader, NULL, read_records, e) == 0)
      e->reading = 1;
    else
      log_err("egress_audit_failed", "errno=%d reason=%s", errno, "no thread to read the proxy's records");
  }
  return 0;
fail:
  err = errno;
  if(lsock >= 0)
    close(lsock);
  if(sv[0] >= 0) {
    close(sv[0]);
    close(sv[1]);
  }
  unlink(e->sock);
  e->pid = 0;
  errno = err;
  return -1;
}

void
egress_call(struct egress *e, const char *tool_use_id)
{
  char line[160];
  int n;

  if(e->pid <= 0)
    return;                     /* no proxy: not allowlist, or a zeroed jail */
  n = snprintf(line, sizeof(line), tool_use_id ? "call %.128s\n" : "call\n", tool_use_id);
  if(send(e->ctl, line, (size_t)n, MSG_NOSIGNAL) != n)
    log_warn("egress_control_failed", "errno=%d", errno);
}

void
egress_stop(struct egress *e)
{
  if(e->pid <= 0)
    return;
  /* The proxy exits when it reads EOF; its last records arrive before the
   * reader sees the channel close. */
  shutdown(e->ctl, SHUT_WR);
  if(spawn_wait(e->pid) != 0)
    log_warn("egress_exit", "pid=%ld reason=%s", (long)e->pid, "it did not exit cleanly");
  if(e->reading)
    pthread_join(e->reader, NULL);
  e->reading = 0;
  close(e->ctl);
  unlink(e->sock);
  e->pid = 0;
  e->ctl = -1;
}
