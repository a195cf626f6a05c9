#include "drain/run.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "drain/drain.h"
#include "drain/queue.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RESTART_MIN_MS 1000L
#define RESTART_MAX_MS 60000L

static volatile sig_atomic_t run_term;

static void
on_term(int sig)
{
  (void)sig;
  run_term = 1;
}

struct worker {
  pid_t pid;
  long long started, restart_at;      /* monotonic ms */
  long backoff_ms;
};

static void
start_worker(const struct config *cfg, struct worker *w, int i)
{
  pid_t pid = fork();

  if(pid == 0) {
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    proctitle_set("sandhook: run worker %d", i);
    _exit(drain_run(cfg, DRAIN_FOREVER, NULL));
  }
  if(pid < 0) {
    log_err("run_worker_start_failed", "worker=%d errno=%d error=%s", i, errno, strerror(errno));
    w->restart_at = now_ms() + RESTART_MAX_MS;
    return;
  }
  w->pid = pid;
  w->started = now_ms();
}

/* A worker ended: when to start it again, and the line that says why. */
static void
worker_ended(struct worker *w, int i, int status)
{
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  long long ran = now_ms() - w->started;

  w->pid = 0;
  if(ran > RESTART_MAX_MS)
    w->backoff_ms = RESTART_MIN_MS;
  else
    w->backoff_ms = w->backoff_ms ? (w->backoff_ms * 2 > RESTART_MAX_MS ? RESTART_MAX_MS
                                                                         : w->backoff_ms * 2)
                                  : RESTART_MIN_MS;
  w->restart_at = now_ms() + w->backoff_ms;
  if(code == DRAIN_SLOTS_BUSY)
    log_warn("run_slots_busy", "worker=%d retry_ms=%ld reason=%s", i, w->backoff_ms,
             "every slot is held (another sandhook run, or webhook drainers); raise "
             "SANDHOOK_MAX_SESSIONS or run one sandhook run per state directory");
  else
    log_warn("run_worker_exited", "worker=%d status=%d signal=%d ran_ms=%lld retry_ms=%ld", i,
             code, WIFSIGNALED(status) ? WTERMSIG(status) : 0, ran, w->backoff_ms);
}

int
run_main(const struct config *cfg)
{
  struct sigaction sa;
  struct errmsg err;
  struct worker *w;
  int i, n = cfg->max_sessions, alive;

  if(config_require(cfg, CONFIG_NEED_WORKER, &err) < 0) {
    log_err("config_incomplete", "error=%s", err.text);
    return 1;
  }
  w = calloc((size_t)n, sizeof(*w));
  if(!w) {
    log_err("run_failed", "error=%s", strerror(errno));
    return 1;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  proctitle_set("sandhook: run (%d workers)", n);
  log_info("run_started", "workers=%d", n);
  for(i = 0; i < n; i++)
    start_worker(cfg, &w[i], i);
  while(!run_term) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);

    if(pid > 0) {
      for(i = 0; i < n; i++)
        if(w[i].pid == pid)
          worker_ended(&w[i], i, status);
      continue;
    }
    for(i = 0; i < n; i++)
      if(!w[i].pid && now_ms() >= w[i].restart_at)
        start_worker(cfg, &w[i], i);
    sleep_ms(200, &run_term);
  }
  for(i = 0; i < n; i++)
    if(w[i].pid > 0)
      kill(w[i].pid, SIGTERM);
  do {
    int status;
    pid_t pid = waitpid(-1, &status, 0);

    alive = 0;
    for(i = 0; i < n; i++) {
      if(w[i].pid == pid)
        w[i].pid = 0;
      alive += w[i].pid > 0;
    }
    if(pid < 0 && errno == ECHILD)
      break;
  } while(alive);
  free(w);
  log_info("run_stopped", "reason=signal");
  return 0;
}

/* The secret: ANTHROPIC_WORK_SECRET, ANTHROPIC_WORK_SECRET_FILE (a 0600
 * file, as the newer CLI takes it), or the work item the CLI writes on
 * stdin.  NULL when none was given: the environment key is the bearer. */
static char *
given_secret(struct errmsg *err, int *failed)
{
  const char *v = getenv("ANTHROPIC_WORK_SECRET"), *file = getenv("ANTHROPIC_WORK_SECRET_FILE");
  char *text = NULL, *secret = NULL;
  struct work_item item;
  size_t len;

  *failed = 0;
  if(v && *v)
    return strdup(v);
  if(file && *file) {
    secret = config_read_secret_file(file, err);
    *failed = !secret;
    return secret;
  }
  if(isatty(STDIN_FILENO) || read_fd(STDIN_FILENO, 1 << 20, &text, &len) < 0 || len == 0) {
    free(text);
    return NULL;
  }
  if(work_parse(text, len, &item, &secret) < 0)
    secret = NULL;
  explicit_bzero(text, len);
  free(text);
  return secret;
}

int
handle_main(const struct config *cfg)
{
  const char *work = getenv("ANTHROPIC_WORK_ID"), *sid = getenv("ANTHROPIC_SESSION_ID");
  struct work_item item;
  struct errmsg err = ERRMSG_INIT;
  char *secret;
  int failed, rc;

  if(!work || !*work || !sid || !*sid) {
    log_err("handle_unnamed", "error=%s is not set hint=%s",
            !work || !*work ? "ANTHROPIC_WORK_ID" : "ANTHROPIC_SESSION_ID",
            "sandhook handle serves the item a poller claimed: run it from "
            "'ant beta:worker poll --on-work', which sets both");
    return 2;
  }
  memset(&item, 0, sizeof(item));
  if(strlen(work) >= sizeof(item.id) || strlen(sid) >= sizeof(item.data_id)) {
    log_err("handle_unnamed", "error=%s", "ANTHROPIC_WORK_ID or ANTHROPIC_SESSION_ID is too long");
    return 2;
  }
  strcpy(item.id, work);
  strcpy(item.data_id, sid);
  strcpy(item.data_type, "session");
  secret = given_secret(&err, &failed);
  if(failed) {
    log_err("handle_secret_unreadable", "error=%s", err.text);
    return 1;
  }
  if(secret) {
    item.sessions_token = secret_sessions_token(secret);
    if(!item.sessions_token)
      log_warn("work_secret_undecodable", "hint=%s", "the environment key is used instead");
    explicit_bzero(secret, strlen(secret));
    free(secret);
  }
  proctitle_set("sandhook: handle %s", item.data_id);
  rc = drain_run(cfg, DRAIN_ONE, &item);
  work_item_clear(&item);
  return rc;
}
