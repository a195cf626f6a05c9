#include "front/front.h"
#include "common/clock.h"
#include "common/log.h"
#include "front/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <fcgiapp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* On a kept connection the next request follows this one's stdin, so a
 * body left unread (an early refusal) is read to its end and dropped
 * first; past KEPT_DISCARD bytes the connection is not kept. */
enum { KEPT_DISCARD = 4 << 20 };

static void
fcgi_finish(void *ctx)
{
  FCGX_Request *req = ctx;
  char sink[8192];
  long left = KEPT_DISCARD;
  int n;

  while(req->keepConnection && (n = FCGX_GetStr(sink, sizeof(sink), req->in)) > 0)
    if((left -= n) < 0)
      req->keepConnection = 0;
  FCGX_Finish_r(req);
}

/* Connections a worker keeps open between requests (nginx's
 * fastcgi_keep_conn with an upstream keepalive).  nginx holds no more
 * connections than it has requests in flight plus its `keepalive` idle
 * ones, and picks any of them for the next request, so a worker keeps
 * every connection it accepted: closing one that nginx may already have
 * picked again would fail that request (nginx does not resend a POST).
 * Only past this many is a connection served once and closed. */
enum { KEPT_MAX = 256 };

struct worker {
  struct responder *r;
  long long *activity;
  /* conn[KEPT_MAX] takes the connections beyond the kept ones. */
  FCGX_Request conn[KEPT_MAX + 1];
  int cap;                      /* slots kept: KEPT_MAX, or fewer descriptors */
  int hi;                       /* past the last slot that may be in use */
};

/* Serves the next request of c: a new connection when c has none, else
 * the next one on c.  0 when served or when there was none after all
 * (another worker took the connection, or the web server closed a kept
 * one: libfcgi then closes it too); -1 when accepting failed. */
static int
serve_next(struct worker *w, FCGX_Request *c)
{
  struct request rq = { c, fcgi_param, fcgi_params, fcgi_read, fcgi_write, fcgi_finish };
  int rc = FCGX_Accept_r(c);

  if(rc == -EAGAIN || rc == -EWOULDBLOCK)
    return 0;
  if(rc < 0) {
    log_err("fcgi_accept_failed", "call=accept errno=%d error=%s", -rc, strerror(-rc));
    return -1;
  }
  if(c == &w->conn[KEPT_MAX])
    c->keepConnection = 0;
  else if(c - w->conn >= w->hi)
    w->hi = (int)(c - w->conn) + 1;
  responder_serve(w->r, &rq, NULL);
  if(w->activity)
    __atomic_store_n(w->activity, now_ms(), __ATOMIC_RELAXED);
  return 0;
}

/* The polled descriptors: the listening socket first, then each kept
 * connection, whose slot goes in slot[]. */
static nfds_t
poll_set(struct worker *w, struct pollfd *pfd, int *slot, int listen)
{
  nfds_t n = 0;
  int i;

  if(listen) {
    pfd[n] = (struct pollfd){ STDIN_FILENO, POLLIN, 0 };
    slot[n++] = -1;
  }
  while(w->hi > 0 && w->conn[w->hi - 1].ipcFd < 0)
    w->hi--;
  for(i = 0; i < w->hi; i++)
    if(w->conn[i].ipcFd >= 0) {
      pfd[n] = (struct pollfd){ w->conn[i].ipcFd, POLLIN, 0 };
      slot[n++] = i;
    }
  return n;
}

static int
free_slot(struct worker *w)
{
  int i;

  for(i = 0; i < w->cap; i++)
    if(w->conn[i].ipcFd < 0)
      return i;
  return KEPT_MAX;
}

/* Serves what the poll found ready; -1 when accepting failed. */
static int
serve_ready(struct worker *w, const struct pollfd *pfd, const int *slot, nfds_t n)
{
  nfds_t k;

  for(k = 0; k < n; k++) {
    if(!pfd[k].revents)
      continue;
    if(serve_next(w, &w->conn[slot[k] < 0 ? free_slot(w) : slot[k]]) < 0)
      return -1;
  }
  return 0;
}

/* At a stop: requests the web server already sent on kept connections
 * are answered, then every connection is closed.  An idle one has nothing
 * unread, so it is closed at once (libfcgi's close would wait for the
 * peer's end, up to 2 s each). */
static void
close_kept(struct worker *w)
{
  struct pollfd pfd[KEPT_MAX];
  int slot[KEPT_MAX], i;
  nfds_t n = poll_set(w, pfd, slot, 0);

  if(n && poll(pfd, n, 0) > 0)
    for(i = 0; i < (int)n; i++)
      if(pfd[i].revents & POLLIN)
        (void)serve_next(w, &w->conn[slot[i]]);
  for(i = 0; i <= KEPT_MAX; i++) {
    if(w->conn[i].ipcFd >= 0)
      close(w->conn[i].ipcFd);
    w->conn[i].ipcFd = -1;
    FCGX_Free(&w->conn[i], 0);
  }
}

/* Waits for a connection, a request on a kept one, or the idle deadline;
 * 0 means idle.  The wait is ours, not libfcgi's accept loop, which
 * retries through signals: a SIGTERM (mod_fcgid retiring an idle
 * responder, systemd stopping us) or a SIGHUP must end it.  Those signals
 * are blocked except inside ppoll (waitmask), so one that comes while a
 * request is served is acted on at the next wait, never lost between a
 * check of the flags and the wait. */
static int
wait_ready(struct pollfd *pfd, nfds_t n, int idle_s, const sigset_t *waitmask)
{
  struct timespec ts = { idle_s, 0 };
  int rc;

  do
    rc = ppoll(pfd, n, idle_s > 0 ? &ts : NULL, waitmask);
  while(rc < 0 && errno == EINTR && !fcgi_stop && !fcgi_reload);
  return rc;
}

int
fcgi_worker(struct responder *r, struct front_settings *s, int idle_s, long long *activity)
{
  struct worker w = { r, activity, { { 0 } }, KEPT_MAX, 0 };
  struct rlimit nofile;
  struct sigaction sa;
  sigset_t ours, waitmask;
  int i, failed = 0;

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
  if(FCGX_Init() != 0) {
    log_err("fcgi_init_failed", "errno=%d", errno);
    return 1;
  }
  for(i = 0; i <= KEPT_MAX; i++)
    if(FCGX_InitRequest(&w.conn[i], STDIN_FILENO, 0) != 0) {
      log_err("fcgi_init_failed", "errno=%d", errno);
      return 1;
    }
  /* Kept connections never make an accept fail for want of descriptors:
   * the request's own files and the drainer's start need a few. */
  if(getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < (rlim_t)KEPT_MAX + 64)
    w.cap = nofile.rlim_cur > 64 ? (int)nofile.rlim_cur - 64 : 0;
  if(!activity)
    log_info("fcgi_started", "idle_timeout_s=%d", idle_s);
  while(!fcgi_stop && !failed) {
    struct pollfd pfd[KEPT_MAX + 1];
    int slot[KEPT_MAX + 1];
    nfds_t n = poll_set(&w, pfd, slot, 1);
    int ready = wait_ready(pfd, n, idle_s, &waitmask);

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
    if(ready < 0) {
      log_err("fcgi_accept_failed", "call=ppoll errno=%d error=%s", errno, strerror(errno));
      failed = 1;
      break;
    }
    failed = serve_ready(&w, pfd, slot, n) < 0;
  }
  close_kept(&w);
  if(!activity)
    log_info("fcgi_stopped", "reason=%s", fcgi_stop ? "signal" : failed ? "error" : "done");
  return failed;
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
