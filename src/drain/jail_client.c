#include "drain/jail_client.h"
#include "common/cleanup.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/jail_start.h"
#include "common/spawn.h"
#include "common/statedir.h"

#define JAIL_END_MS 5000
/* From the helper's start to its root built, under any load. */
#define JAIL_SETTLE_MS 30000

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(JAIL_FD == 3, "spawn_start passes pass_fd[0] as fd 3");

int
jail_open(struct jail *j, const struct config *cfg, const char *session_id,
          const char *work_id, const char *memdir, const char *ro_stores,
          int (*abort)(void *), void *ctx)
{
  char lim[160], helper[PATH_MAX], *text = NULL;
  cJSON *setup = NULL;
  int sv[2] = { -1, -1 }, e;
  pid_t pid;

  memset(j, 0, sizeof(*j));
  j->pid = -1;
  j->fd = -1;
  j->ws.lock_fd = -1;
  if(!safe_id(session_id) || !safe_id(work_id)) {
    errno = EINVAL;
    return -1;
  }
  if(limits_format(&cfg->limits, lim, sizeof(lim)) < 0 ||
     spawn_program_path(PROGRAM_JAIL, helper, sizeof(helper)) < 0 ||
     statedir_path(j->root, sizeof(j->root), cfg->state_dir, STATEDIR_JAILS "/%s", work_id) < 0) {
    errno = ENAMETOOLONG;
    return -1;
  }
  if(mkdir_p(j->root, 0700) < 0 || workspace_prepare(&j->ws, cfg, session_id) < 0 ||
     socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    goto fail;
  if(egress_start(&j->egress, cfg, session_id) < 0) {
    log_err("egress_start_failed", "errno=%d error=%s socket=%s", errno, strerror(errno),
            j->egress.sock[0] ? j->egress.sock : "-");
    goto fail;
  }
  /* The setup goes over the channel, not on the command line, which every
   * process of the jail could read in /proc/1/cmdline.  Nothing is
   * reserved in-band: no memory, no read-only store is "". */
  setup = cJSON_CreateObject();
  if(!setup || !cJSON_AddStringToObject(setup, "root", j->root) ||
     !cJSON_AddStringToObject(setup, "workspace", j->ws.path) ||
     !cJSON_AddStringToObject(setup, "memdir", memdir ? memdir : "") ||
     !cJSON_AddStringToObject(setup, "ro_stores", ro_stores ? ro_stores : "") ||
     !cJSON_AddNumberToObject(setup, "uid", cfg->jail_uid) ||
     !cJSON_AddNumberToObject(setup, "gid", cfg->jail_gid) ||
     !cJSON_AddBoolToObject(setup, "host_network", cfg->jail_network_host) ||
     !cJSON_AddStringToObject(setup, "egress_socket", j->egress.pid > 0 ? j->egress.sock : "") ||
     !cJSON_AddStringToObject(setup, "limits", lim) ||
     !cJSON_AddBoolToObject(setup, "log_json", cfg->log_format && !strcmp(cfg->log_format, "json")) ||
     !cJSON_AddNumberToObject(setup, "log_level", log_level()) ||
     !cJSON_AddBoolToObject(setup, "log_syslog", log_syslog_fd() >= 0) ||
     !cJSON_AddStringToObject(setup, "work_id", work_id) ||
     !cJSON_AddStringToObject(setup, "session_id", session_id) ||
     !(text = cJSON_PrintUnformatted(setup))) {
    errno = ENOMEM;
    goto fail;
  }
  if(cfg->cgroups && cgroup_create(&j->cg, work_id, &cfg->limits) < 0)
    log_warn("cgroup_unavailable", "errno=%d limits=rlimits_only", errno);
  {
    const char *const argv[] = { PROGRAM_JAIL, NULL };
    const char *const envp[] = { NULL };
    struct spawn sp = SPAWN_INIT(helper, argv, envp);

    /* The helper dies with the drainer, however the drainer dies (kill -9
     * included), and the namespace with the helper: no jail runs on with
     * nobody to answer for it.  Its stderr is where the drainer logs: the
     * syslog socket, or the drainer's own stderr, the log file. */
    sp.in = sp.out = SPAWN_NULL;
    if(log_syslog_fd() >= 0)
      sp.err = log_syslog_fd();
    sp.pass_fd[0] = sv[1];
    sp.die_with_parent = 1;
    pid = jail_start(&sp, cfg->jail_uid, cfg->jail_gid, cfg->jail_network_host);
    if(pid < 0) {
      if(geteuid() != 0)
        log_err("jail_start_failed", "errno=%d error=%s hint=%s", errno, strerror(errno),
                "without root the jail needs user namespaces (user.max_user_namespaces)");
      goto fail;
    }
  }
  close(sv[1]);
  sv[1] = -1;
  j->pid = pid;
  j->fd = sv[0];
  /* Into its groups while it loads its libraries (v1's three joins wait
   * 2-3 ms for the kernel, which its start waited for when it joined them
   * itself before its exec): it starts nothing before it has read its
   * setup, sent after.  A helper that fails its setup says why in its own
   * log line. */
  if((j->cg.version && cgroup_enter(&j->cg, pid) < 0) ||
     send_frame(j->fd, text, strlen(text)) < 0 ||
     jail_settle(pid, j->fd, cfg->jail_uid, cfg->jail_gid, JAIL_SETTLE_MS, abort, ctx) < 0) {
    e = errno;
    jail_close(j);
    cJSON_Delete(setup);
    free(text);
    errno = e;
    return -1;
  }
  cJSON_Delete(setup);
  free(text);
  return 0;
fail:
  e = errno;
  cJSON_Delete(setup);
  free(text);
  if(sv[0] >= 0) {
    close(sv[0]);
    close(sv[1]);
  }
  egress_stop(&j->egress);
  cgroup_destroy(&j->cg);
  workspace_release(&j->ws);
  rmdir(j->root);
  errno = e;
  return -1;
}

/* Waits for the helper to exit, at most ms; 1 once reaped.  The helper is
 * PID 1 of its namespace: the kernel reports its end only after it has
 * reaped every other process of the namespace. */
static int
reap(pid_t pid, long ms)
{
  long long end = now_ms() + ms, left;
  AUTO_FD int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  pid_t r;

  for(;;) {
    r = waitpid(pid, NULL, WNOHANG);
    if(r == pid)
      return 1;
    if(r < 0 && errno != EINTR)
      return 0;
    if((left = end - now_ms()) < 0)
      return -1;
    /* A pidfd is readable the moment the process exits: the session's
     * end waits for no polling interval.  Before Linux 5.3, a short sleep. */
    if(pidfd >= 0) {
      struct pollfd p = { pidfd, POLLIN, 0 };

      poll(&p, 1, left > 1000 ? 1000 : (int)left + 1);
    }
    else
      usleep(2000);
  }
}

/* SIGKILL to PID 1 ends its namespace; 0 when even that was not reaped
 * in time (a process stuck in the kernel), and then the host keeps away. */
static int
jail_kill(struct jail *j)
{
  int gone = 1;

  if(j->pid > 0) {
    kill(j->pid, SIGKILL);
    gone = reap(j->pid, JAIL_END_MS) > 0;
    j->pid = -1;
  }
  if(j->fd >= 0) {
    close(j->fd);
    j->fd = -1;
  }
  return gone;
}

enum jail_rc
jail_request(struct jail *j, cJSON *req, int fd, long wall_ms, int (*abort_fn)(void *),
        void *ctx, cJSON **result)
{
  long long started = now_ms(), deadline = started + wall_ms;
  char *text = req ? cJSON_PrintUnformatted(req) : NULL, *reply;
  long op = json_long(cJSON_GetObjectItemCaseSensitive(req, "op"), 0, JAIL_OP_END, 0);
  size_t len;
  int rc;

  *result = NULL;
  if(!text || j->fd < 0)
    goto fail;
  log_debug("jail_frame", "op=%s bytes=%zu passes_fd=%s", jail_op_name((enum jail_op)op),
            strlen(text), fd >= 0 ? "true" : "false");
  rc = send_frame_fd(j->fd, text, strlen(text), fd);
  free(text);
  text = NULL;
  if(rc < 0)
    goto fail;
  for(;;) {
    struct pollfd pfd = { j->fd, POLLIN, 0 };

    if(abort_fn && abort_fn(ctx)) {
      jail_kill(j);
      return JAIL_ABORTED;
    }
    if(now_ms() > deadline)
      goto fail;
    rc = poll(&pfd, 1, 100);
    if(rc < 0 && errno != EINTR)
      goto fail;
    if(rc > 0)
      break;
  }
  reply = recv_frame(j->fd, &len);
  if(!reply)
    goto fail;
  *result = cJSON_ParseWithLength(reply, len);
  free(reply);
  if(!*result)
    goto fail;
  log_debug("jail_reply", "op=%s bytes=%zu duration_ms=%lld", jail_op_name((enum jail_op)op), len,
            now_ms() - started);
  return JAIL_OK;
fail:
  free(text);
  jail_kill(j);
  return JAIL_FAILED;
}

enum jail_rc
jail_call(struct jail *j, const char *tool, const cJSON *input, long timeout_ms,
          long wall_ms, int (*abort_fn)(void *), void *ctx, cJSON **result)
{
  cJSON *req = cJSON_CreateObject();
  enum jail_rc rc;

  if(req) {
    cJSON_AddNumberToObject(req, "op", JAIL_OP_TOOL);
    cJSON_AddStringToObject(req, "tool", tool);
    cJSON_AddItemToObject(req, "input", input ? cJSON_Duplicate(input, 1) : cJSON_CreateObject());
    cJSON_AddNumberToObject(req, "timeout_ms", (double)timeout_ms);
  }
  rc = jail_request(j, req, -1, wall_ms, abort_fn, ctx, result);
  cJSON_Delete(req);
  return rc;
}

void
jail_hangup(struct jail *j)
{
  if(j->fd >= 0) {
    close(j->fd);       /* the jail sees EOF and ends its namespace */
    j->fd = -1;
  }
}

int
jail_close(struct jail *j)
{
  int gone;

  jail_hangup(j);
  gone = j->pid > 0 ? reap(j->pid, 1000) : 1;
  if(gone >= 0)
    j->pid = -1;
  else
    gone = jail_kill(j);
  /* A cgroup that empties vouches for the namespace too. */
  if(cgroup_destroy(&j->cg) > 0)
    gone = 1;
  egress_stop(&j->egress);
  workspace_release(&j->ws);
  if(j->root[0])
    rmdir(j->root);
  if(!gone)
    log_err("jail_end_unconfirmed", "reason=%s cleanup=deferred", "its processes may still run");
  return gone ? 0 : -1;
}
