#include "front/front.h"
#include "common/clock.h"
#include "common/log.h"
#include "front/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <fcgiapp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t fcgi_stop, fcgi_reload;

static void
on_term(int sig)
{
  (void)sig;
  fcgi_stop = 1;
}

static void
on_hup(int sig)
{
  (void)sig;
  fcgi_reload = 1;
}

int
fcgi_adopt_systemd_socket(void)
{
  const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");

  /* sd_listen_fds(3): one socket on fd 3, meant for this very process.
   * libfcgi wants the listening socket on fd 0. */
  if(!fds || !pid || strcmp(fds, "1") || atol(pid) != (long)getpid())
    return 0;
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDNAMES");
  if(dup2(3, STDIN_FILENO) < 0)
    return -1;
  close(3);
  return 1;
}

int
fcgi_is_listening_socket(void)
{
  struct sockaddr_storage sa;
  socklen_t len = sizeof(sa);
  int listening = 0;
  socklen_t ol = sizeof(listening);

  /* A listening socket has no peer; a connected one (systemd Accept=yes)
   * would be a single CGI-like connection we do not support. */
  if(getpeername(STDIN_FILENO, (struct sockaddr *)&sa, &len) == 0 || errno != ENOTCONN)
    return 0;
  if(getsockopt(STDIN_FILENO, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ol) < 0)
    return 0;
  return listening;
}

static const char *
fcgi_param(void *ctx, const char *name)
{
  return FCGX_GetParam(name, ((FCGX_Request *)ctx)->envp);
}

static char **
fcgi_params(void *ctx)
{
  return ((FCGX_Request *)ctx)->envp;
}

static ssize_t
fcgi_read(void *ctx, void *buf, size_t n)
{
  int cap = n > 1 << 20 ? 1 << 20 : (int)n;

  return FCGX_GetStr(buf, cap, ((FCGX_Request *)ctx)->in);
}

static int
fcgi_write(void *ctx, const char *data, size_t n)
{
  return FCGX_PutStr(data, (int)n, ((FCGX_Request *)ctx)->out) == (int)n ? 0 : -1;
}

static void
fcgi_finish(void *ctx)
{
  FCGX_Finish_r((FCGX_Request *)ctx);
}

/* Waits for a connection or the idle deadline; 0 means idle.  The wait is
 * ours, not libfcgi's accept loop, which retries through signals: a SIGTERM
 * (mod_fcgid retiring an idle responder, systemd stopping us) or a SIGHUP
 * must end it.  Those signals are blocked except inside ppoll (waitmask),
 * so one that comes while a request is served is acted on at the next
 * wait, never lost between a check of the flags and the wait. */
static int
wait_readable(int idle_s, const sigset_t *waitmask)
{
  struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
  struct timespec ts = { idle_s, 0 };
  int rc;

  do
    rc = ppoll(&pfd, 1, idle_s > 0 ? &ts : NULL, waitmask);
  while(rc < 0 && errno == EINTR && !fcgi_stop && !fcgi_reload);
  return rc;
}

int
fcgi_worker(struct responder *r, struct front_settings *s, int idle_s, long long *activity)
{
  struct sigaction sa;
  sigset_t ours, waitmask;
  FCGX_Request req;
  int rc;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = on_hup;
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&ours);
  sigaddset(&ours, SIGTERM);
  sigaddset(&ours, SIGINT);
  sigaddset(&ours, SIGHUP);
  sigprocmask(SIG_BLOCK, &ours, &waitmask);
  sigdelset(&waitmask, SIGTERM);
  sigdelset(&waitmask, SIGINT);
  sigdelset(&waitmask, SIGHUP);
  if(FCGX_Init() != 0 || FCGX_InitRequest(&req, STDIN_FILENO, 0) != 0) {
    log_err("fcgi_init_failed", "errno=%d", errno);
    return 1;
  }
  if(!activity)
    log_info("fcgi_started", "idle_timeout_s=%d", idle_s);
  while(!fcgi_stop) {
    struct request rq = { &req, fcgi_param, fcgi_params, fcgi_read, fcgi_write, fcgi_finish };
    int ready = wait_readable(idle_s, &waitmask);

    if(fcgi_reload) {
      fcgi_reload = 0;
      settings_reload(s, r);
      continue;
    }
    if(ready == 0) {
      log_info("fcgi_idle_exit", "idle_timeout_s=%d", idle_s);
      break;
    }
    if(fcgi_stop)
      break;
    /* The listening socket is non-blocking: another worker woken by the
     * same connection may have taken it. */
    if((rc = FCGX_Accept_r(&req)) == -EAGAIN || rc == -EWOULDBLOCK)
      continue;
    if(rc < 0)
      break;
    responder_serve(r, &rq, NULL);
    if(activity)
      __atomic_store_n(activity, now_ms(), __ATOMIC_RELAXED);
  }
  FCGX_Free(&req, 1);
  if(!activity)
    log_info("fcgi_stopped", "reason=%s", fcgi_stop ? "signal" : "done");
  return 0;
}

int
fcgi_serve(struct responder *r, struct front_settings *s, int idle_s)
{
  int flags = fcntl(STDIN_FILENO, F_GETFL);

  /* Every accept happens after a wait says a connection is there; one that
   * is gone by then must not block the process outside its wait, where
   * its signals and its idle deadline could not reach it. */
  if(flags < 0 || fcntl(STDIN_FILENO, F_SETFL, flags | O_NONBLOCK) < 0) {
    log_err("fcgi_init_failed", "errno=%d error=%s", errno, strerror(errno));
    return 1;
  }
  if(r->cfg->fcgi_workers > 1)
    return pool_run(r, s, idle_s, r->cfg->fcgi_workers);
  return fcgi_worker(r, s, idle_s, NULL);
}
