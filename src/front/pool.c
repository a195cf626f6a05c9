#include "front/pool.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "front/front.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_term, got_hup, got_chld;

static void
on_signal(int sig)
{
  if(sig == SIGHUP)
    got_hup = 1;
  else if(sig == SIGCHLD)
    got_chld = 1;
  else
    got_term = 1;
}

struct worker {
  pid_t pid;                    /* 0: not running */
  long long started_ms, restart_ms;
};

/* The child's side: the worker loop, dying with the master. */
static pid_t
start_worker(struct responder *r, struct front_settings *s, long long *activity, pid_t master)
{
  sigset_t chld;
  pid_t pid = fork();

  if(pid != 0)
    return pid;
  /* A worker left without its master would hold the socket with nothing
   * to stop it or start the others again. */
  if(prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != master)
    _exit(0);
  /* SIGTERM, SIGINT and SIGHUP stay blocked until the worker's own
   * handlers are in (fcgi_worker takes them in its wait): unblocked here,
   * one already pending, such as the death signal of a master killed this
   * instant, would run the master's handler, which the child still has,
   * and be lost. */
  signal(SIGCHLD, SIG_DFL);
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_UNBLOCK, &chld, NULL);
  proctitle_set("sandhook: fastcgi worker");
  _exit(fcgi_worker(r, s, 0, activity));
}

static void
signal_all(const struct worker *w, int n, int sig)
{
  int i;

  for(i = 0; i < n; i++)
    if(w[i].pid > 0)
      kill(w[i].pid, sig);
}

/* Reaps every worker that exited; the count of them. */
static int
reap(struct worker *w, int n, int stopping)
{
  int i, status, gone = 0;
  long long now;
  pid_t pid;

  while((pid = waitpid(-1, &status, WNOHANG)) > 0)
    for(i = 0; i < n; i++) {
      if(w[i].pid != pid)
        continue;
      w[i].pid = 0;
      gone++;
      if(stopping)
        break;
      now = now_ms();
      log_warn("fcgi_worker_exited", "worker_pid=%ld exit_code=%d signal=%d ran_ms=%lld", (long)pid,
               WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
               now - w[i].started_ms);
      /* One that dies at once would otherwise be started again at once,
       * forever. */
      w[i].restart_ms = now - w[i].started_ms < 1000 ? now + 1000 : now;
      break;
    }
  return gone;
}

int
pool_run(struct responder *r, struct front_settings *s, int idle_s, int n)
{
  long long *activity = mmap(NULL, sizeof(*activity), PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct worker *w = calloc((size_t)n, sizeof(*w));
  const char *reason = "signal";
  sigset_t ours, waitmask;
  struct sigaction sa;
  pid_t master = getpid();
  int i, live = 0, stopping = 0;
  long long now;

  if(!w || activity == MAP_FAILED) {
    log_err("fcgi_init_failed", "errno=%d error=%s", errno, strerror(errno));
    free(w);
    if(activity != MAP_FAILED)
      munmap(activity, sizeof(*activity));
    return 1;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&ours);
  sigaddset(&ours, SIGTERM);
  sigaddset(&ours, SIGINT);
  sigaddset(&ours, SIGHUP);
  sigaddset(&ours, SIGCHLD);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGCHLD, &sa, NULL);
  /* As in the worker loop: signals are taken inside the wait only. */
  sigprocmask(SIG_BLOCK, &ours, &waitmask);
  sigdelset(&waitmask, SIGTERM);
  sigdelset(&waitmask, SIGINT);
  sigdelset(&waitmask, SIGHUP);
  sigdelset(&waitmask, SIGCHLD);
  *activity = now_ms();
  log_info("fcgi_started", "workers=%d idle_timeout_s=%d", n, idle_s);
  proctitle_set("sandhook: fastcgi pool of %d", n);
  for(;;) {
    struct timespec tick = { 1, 0 };

    now = now_ms();
    for(i = 0; i < n && !stopping; i++) {
      pid_t pid;

      if(w[i].pid != 0 || now < w[i].restart_ms)
        continue;
      if((pid = start_worker(r, s, activity, master)) < 0) {
        log_err("fcgi_worker_start_failed", "errno=%d error=%s", errno, strerror(errno));
        w[i].restart_ms = now + 1000;
        continue;
      }
      w[i].pid = pid;
      w[i].started_ms = now;
      live++;
    }
    if(stopping && live == 0)
      break;
    ppoll(NULL, 0, &tick, &waitmask);
    if(got_chld) {
      got_chld = 0;
      live -= reap(w, n, stopping);
    }
    if(got_hup) {
      /* The master's own copy too: a worker it starts later is a copy of
       * the master.  Settings the master refuses, every worker would
       * refuse the same way: said once, and the workers keep serving. */
      got_hup = 0;
      if(settings_reload(s, r) == 0)
        signal_all(w, n, SIGHUP);
    }
    if(got_term && !stopping) {
      stopping = 1;
      signal_all(w, n, SIGTERM);
    }
    if(!stopping && idle_s > 0 &&
       now_ms() - __atomic_load_n(activity, __ATOMIC_RELAXED) >= idle_s * 1000LL) {
      log_info("fcgi_idle_exit", "idle_timeout_s=%d workers=%d", idle_s, n);
      reason = "idle";
      stopping = 1;
      signal_all(w, n, SIGTERM);
    }
  }
  log_info("fcgi_stopped", "reason=%s", reason);
  free(w);
  munmap(activity, sizeof(*activity));
  return 0;
}
