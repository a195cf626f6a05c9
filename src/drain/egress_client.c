#include "drain/egress_client.h"
#include "common/log.h"
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

int
egress_start(struct egress *e, const struct config *cfg, const char *session_id)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  char prog[PATH_MAX], uid[16], gid[16], env[6][2048];
  const char *envp[7];
  int lsock = -1, sv[2] = { -1, -1 }, n = 0, err;

  memset(e, 0, sizeof(*e));
  e->ctl = -1;
  if(!cfg->jail_network_allowlist)
    return 0;
  if(statedir_path(e->sock, sizeof(e->sock), cfg->state_dir, STATEDIR_RUN "/egress.%ld.sock",
                   (long)getpid()) < 0 || spawn_program_path(PROGRAM_EGRESS, prog, sizeof(prog)) < 0)
    return -1;
  unlink(e->sock);
  memcpy(sa.sun_path, e->sock, strlen(e->sock) + 1);
  lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if(lsock < 0 || bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lsock, 64) < 0 ||
     ((geteuid() == 0 && chown(e->sock, cfg->jail_uid, cfg->jail_gid) < 0)) ||
     chmod(e->sock, geteuid() == 0 ? 0600 : 0666) < 0 ||
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
  envp[n] = NULL;
  {
    const char *const argv[] = { PROGRAM_EGRESS, "--uid", uid, "--gid", gid, NULL };
    struct spawn sp = SPAWN_INIT(prog, argv, envp);

    /* stderr stays the drainer's log: its lines are the connection record. */
    sp.in = lsock;
    sp.out = SPAWN_NULL;
    sp.pass_fd = sv[1];
    sp.die_with_parent = 1;
    e->pid = spawn_start(&sp);
  }
  if(e->pid < 0)
    goto fail;
  close(lsock);
  close(sv[1]);
  e->ctl = sv[0];
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
  close(e->ctl);                /* the proxy exits when it reads EOF */
  if(spawn_wait(e->pid) != 0)
    log_warn("egress_exit", "pid=%ld reason=%s", (long)e->pid, "it did not exit cleanly");
  unlink(e->sock);
  e->pid = 0;
  e->ctl = -1;
}
