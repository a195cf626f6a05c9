#include "front/wake.h"
#include "common/cleanup.h"
#include "common/doorbell.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/runstate.h"
#include "common/spawn.h"
#include "common/statedir.h"
#include "common/util.h"
#include "front/seen.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* The CGI/1.1 meta-variables and the request's headers (HTTP_*) describe
 * one request from the internet; the drainer has no use for them, and a
 * header must not become its setting (HTTP_PROXY, "httpoxy"). */
static int
request_variable(const char *kv)
{
  static const char *const cgi[] = {
    "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "PATH_INFO",
    "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_IDENT",
    "REMOTE_USER", "REQUEST_METHOD", "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT",
    "SERVER_PROTOCOL", "SERVER_SOFTWARE",
  };
  size_t i, n = strcspn(kv, "=");

  if(!strncmp(kv, "HTTP_", 5))
    return 1;
  for(i = 0; i < N_ELEMENTS(cgi); i++)
    if(strlen(cgi[i]) == n && !strncmp(kv, cgi[i], n))
      return 1;
  return 0;
}

/* The environment minus the request's variables, for the drainer; the
 * strings stay environ's.  NULL when out of memory. */
static const char **
drainer_env(void)
{
  const char **envp;
  size_t n = 0, i;

  while(environ[n])
    n++;
  envp = calloc(n + 1, sizeof(*envp));
  if(!envp)
    return NULL;
  for(n = 0, i = 0; environ[i]; i++)
    if(!request_variable(environ[i]))
      envp[n++] = environ[i];
  return envp;
}

/* sandhook-drain --after-response [--config FILE | --no-config]
 * [--slot N, slot as its fd 4] [--doorbell, bell as its fd 5] [more...] */
static int
start_drain_program(const struct config *cfg, const char *const *more, int slot, const char *index,
                    int bell)
{
  const char *argv[11] = { PROGRAM_DRAIN, "--after-response" };
  char prog[PATH_MAX];
  const char **envp;
  int release[2], status, n = 2;
  pid_t pid;

  if(spawn_program_path(PROGRAM_DRAIN, prog, sizeof(prog)) < 0)
    return -1;
  if(cfg->file) {
    argv[n++] = "--config";
    argv[n++] = cfg->file;
  }
  else if(cfg->no_file)
    argv[n++] = "--no-config";
  if(slot >= 0) {
    argv[n++] = "--slot";
    argv[n++] = index;
  }
  if(bell >= 0)
    argv[n++] = "--doorbell";
  while(more && *more && n < (int)N_ELEMENTS(argv) - 1)
    argv[n++] = *more++;
  envp = drainer_env();
  if(!envp)
    return -1;
  if(pipe2(release, O_CLOEXEC) < 0) {
    free(envp);
    return -1;
  }
  pid = fork();
  if(pid == 0) {
    struct spawn sp = SPAWN_INIT(prog, argv, envp);

    /* The intermediate child exits as soon as the drainer runs (or failed
     * to), so the drainer is nobody's child and the front never reaps it;
     * its exit status is the drainer's errno, 0 when it runs.  The
     * drainer's stderr is the log file, whatever SANDHOOK_LOG says (what
     * it or a library writes there raw lands in it): a CGI gateway waits
     * until every copy of its own stdout and stderr is closed. */
    sp.in = sp.out = SPAWN_NULL;
    sp.pass_fd[0] = release[0];
    sp.pass_fd[1] = slot;
    sp.pass_fd[2] = bell;
    sp.new_session = 1;
    if(log_to_file(cfg->log_file) < 0)
      _exit(errno > 0 && errno < 256 ? errno : EIO);
    _exit(spawn_start(&sp) < 0 ? (errno > 0 && errno < 256 ? errno : EIO) : 0);
  }
  free(envp);
  close(release[0]);
  if(pid < 0) {
    close(release[1]);
    return -1;
  }
  status = spawn_wait(pid);
  if(status != 0) {
    close(release[1]);
    errno = status > 0 ? status : EAGAIN;
    return -1;
  }
  return release[1];
}

int
wake_drainer(const struct config *cfg)
{
  char path[PATH_MAX], index_text[16];
  int index;

  if(statedir_path(path, sizeof(path), cfg->state_dir, STATEDIR_RUN) < 0 ||
     mkdir_p(path, 0700) < 0 || statedir_wake(cfg->state_dir, 1) < 0)
    return -1;
  /* A drainer running already serves it, on one more slot if one is free:
   * a thread, not a process and its start. */
  if(doorbell_ring(cfg->state_dir) == 0) {
    log_debug("drain_rung", "max_sessions=%d", cfg->max_sessions);
    return WAKE_RUNNING;
  }
  /* After the bump: a drainer lets its slot go before it reads the counter
   * for the last time, so a slot held now means this wake-up is seen.  The
   * slot is locked here, not by the drainer once it runs, so that webhooks
   * back to back start one drainer, not one each that finds no slot. */
  AUTO_FD int slot = runstate_slot_lock(cfg->state_dir, cfg->max_sessions, &index);
  if(slot < 0) {
    if(errno != EAGAIN)
      return -1;
    log_debug("drain_wake_only", "max_sessions=%d", cfg->max_sessions);
    return WAKE_RUNNING;
  }
  /* The doorbell is listened to from now on, so the webhooks right behind
   * this one ring it rather than start drainers of their own.  Without it
   * (a state filesystem that cannot hold a FIFO) each starts its own. */
  AUTO_FD int bell = doorbell_open(cfg->state_dir);
  if(bell < 0)
    log_warn("doorbell_unavailable", "errno=%d error=%s", errno, strerror(errno));
  snprintf(index_text, sizeof(index_text), "%d", index);
  return start_drain_program(cfg, NULL, slot, index_text, bell);
}

int
wake_gc(const struct config *cfg, const char *session_id)
{
  const char *const more[] = { "gc", "--session", session_id, NULL };

  return start_drain_program(cfg, more, -1, NULL, -1);
}

void
wake_seen_grower(const struct config *cfg, time_t now)
{
  pid_t pid = fork();
  int null;

  if(pid == 0) {
    /* The intermediate exits at once: the grower is nobody's child.  It
     * holds none of the request's streams, which a CGI gateway waits on. */
    if(fork() != 0)
      _exit(0);
    setsid();
    if((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 || dup2(null, STDIN_FILENO) < 0 ||
       dup2(null, STDOUT_FILENO) < 0 || log_to_file(cfg->log_file) < 0)
      _exit(1);
    close(null);
    seen_grow(cfg->state_dir, cfg->dedupe_seconds, now);
    _exit(0);
  }
  if(pid < 0 || spawn_wait(pid) != 0)
    log_warn("seen_grow_spawn_failed", "errno=%d error=%s", errno, strerror(errno));
}
