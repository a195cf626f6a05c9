#include "egress/proxy.h"
#include "egress/request.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/pump.h"

#include <cjson/cJSON.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNECTIONS 256
#define REQUEST_WAIT_MS 30000
#define CONNECT_WAIT_MS 10000
#define MAX_ADDRS 16
#define SPARE_ACCEPTORS 4

static pthread_mutex_t call_mu = PTHREAD_MUTEX_INITIALIZER;
static char current_call[128];

void
proxy_set_call(const char *tool_use_id)
{
  pthread_mutex_lock(&call_mu);
  snprintf(current_call, sizeof(current_call), "%s", tool_use_id ? tool_use_id : "");
  pthread_mutex_unlock(&call_mu);
}

struct conn {
  struct proxy *proxy;
  int fd, up;
  char call[128];
  char buf[REQUEST_HEAD_MAX];
  size_t have;
  struct egress_request req;
  char address[INET6_ADDRSTRLEN + 8];
  unsigned long long bytes_up, bytes_down;
  long long started;
};

/* Reads more of the request; 0 on EOF, error or the wait running out. */
static ssize_t
read_more(struct conn *c)
{
  struct pollfd pfd = { c->fd, POLLIN, 0 };
  ssize_t n;

  if(c->have >= sizeof(c->buf) || poll(&pfd, 1, REQUEST_WAIT_MS) <= 0)
    return 0;
  n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
  if(n > 0)
    c->have += (size_t)n;
  return n > 0 ? n : 0;
}

static void
send_all(int fd, const void *buf, size_t len)
{
  if(write_all(fd, buf, len) < 0)
    log_debug("egress_write_failed", "errno=%d", errno);
}

/* The answer to a refused or failed HTTP request: the status line itself
 * says why (pip and git print it; curl prints the code), the body says it
 * whole. */
static void
http_refuse(struct conn *c, int status, const char *why)
{
  char body[1024], head[1024];
  int bn, hn;

  bn = snprintf(body, sizeof(body), "sandhook egress: %s %s:%d refused: %s.\n",
                c->req.kind == REQUEST_CONNECT ? "CONNECT" : "request to", c->req.host[0] ? c->req.host : "-",
                c->req.port, why);
  if(bn < 0 || bn >= (int)sizeof(body))
    bn = (int)sizeof(body) - 1;
  hn = snprintf(head, sizeof(head),
                "HTTP/1.1 %d sandhook egress refused %.200s: %.600s\r\nContent-Type: text/plain\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n",
                status, c->req.host[0] ? c->req.host : "the request", why, bn);
  if(hn < 0 || hn >= (int)sizeof(head))
    return;
  send_all(c->fd, head, (size_t)hn);
  send_all(c->fd, body, (size_t)bn);
}

static void
socks_reply(int fd, int code)
{
  unsigned char r[10] = { 5, (unsigned char)code, 0, 1, 0, 0, 0, 0, 0, 0 };

  send_all(fd, r, sizeof(r));
}

static const char *
kind_name(const struct conn *c)
{
  return c->req.kind == REQUEST_SOCKS5 ? "socks5" : c->req.kind == REQUEST_CONNECT ? "connect" : "http";
}

/* The connection's record: one log line, and for the drainer's audit
 * trail one JSON line on the control channel. */
static void
report(struct conn *c, const char *verdict, const char *why)
{
  static pthread_mutex_t audit_mu = PTHREAD_MUTEX_INITIALIZER;
  long long ms = now_ms() - c->started;
  cJSON *o;
  char *text;

  log_info("egress_connection", "tool_use_id=%s kind=%s host=%s port=%d address=%s bytes_up=%llu "
           "bytes_down=%llu duration_ms=%lld verdict=%s reason=%s", c->call[0] ? c->call : "-",
           kind_name(c), c->req.host[0] ? c->req.host : "-", c->req.port,
           c->address[0] ? c->address : "-", c->bytes_up, c->bytes_down, ms, verdict, why ? why : "-");
  if(c->proxy->audit_fd < 0 || !(o = cJSON_CreateObject()))
    return;
  cJSON_AddStringToObject(o, "tool_use_id", c->call);
  cJSON_AddStringToObject(o, "kind", kind_name(c));
  cJSON_AddStringToObject(o, "host", c->req.host);
  cJSON_AddNumberToObject(o, "port", c->req.port);
  cJSON_AddStringToObject(o, "address", c->address);
  cJSON_AddNumberToObject(o, "bytes_up", (double)c->bytes_up);
  cJSON_AddNumberToObject(o, "bytes_down", (double)c->bytes_down);
  cJSON_AddNumberToObject(o, "duration_ms", (double)ms);
  cJSON_AddStringToObject(o, "verdict", verdict);
  if(why)
    cJSON_AddStringToObject(o, "reason", why);
  if((text = cJSON_PrintUnformatted(o))) {
    pthread_mutex_lock(&audit_mu);
    if(write_all(c->proxy->audit_fd, "audit ", 6) < 0 || write_all(c->proxy->audit_fd, text, strlen(text)) < 0 ||
       write_all(c->proxy->audit_fd, "\n", 1) < 0)
      log_warn("egress_audit_failed", "errno=%d", errno);
    pthread_mutex_unlock(&audit_mu);
    free(text);
  }
  cJSON_Delete(o);
}

static void
refuse(struct conn *c, int status, int socks_code, const char *verdict, const char *why)
{
  if(c->req.kind == REQUEST_SOCKS5)
    socks_reply(c->fd, socks_code);
  else
    http_refuse(c, status, why);
  report(c, verdict, why);
}

/* Connects with a deadline; the socket, or -1. */
static int
connect_to(const struct sockaddr *sa, socklen_t len)
{
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err = 0;
  socklen_t el = sizeof(err);
  struct pollfd pfd;

  if(fd < 0)
    return -1;
  if(connect(fd, sa, len) < 0 && errno != EINPROGRESS)
    goto fail;
  pfd.fd = fd;
  pfd.events = POLLOUT;
  if(poll(&pfd, 1, CONNECT_WAIT_MS) <= 0) {
    errno = ETIMEDOUT;
    goto fail;
  }
  if(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
    errno = err ? err : errno;
    goto fail;
  }
  if(fcntl(fd, F_SETFL, 0) < 0)
    goto fail;
  return fd;
fail:
  {
    int e = errno;

    close(fd);
    errno = e;
  }
  return -1;
}

/* The name's addresses: an operator's pin, the literal itself, or the
 * host's resolver (/etc/hosts, DNS). */
static int
resolve(struct conn *c, struct sockaddr_storage *out, socklen_t *lens, int max, const char **why)
{
  const char *host = c->req.host;
  struct addrinfo hints = { 0 }, *res = NULL, *ai;
  size_t i;
  int n = 0, rc;

  for(i = 0; i < c->proxy->npins; i++)
    if(!strcasecmp(c->proxy->pins[i].host, host))
      host = c->proxy->pins[i].addr;
  if(egress_literal(host, &out[0])) {
    lens[0] = out[0].ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    ((struct sockaddr_in *)&out[0])->sin_port = htons((unsigned short)c->req.port);
    return 1;
  }
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  rc = getaddrinfo(host, NULL, &hints, &res);
  if(rc != 0) {
    *why = gai_strerror(rc);
    return 0;
  }
  for(ai = res; ai && n < max; ai = ai->ai_next) {
    if(ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
      continue;
    memcpy(&out[n], ai->ai_addr, ai->ai_addrlen);
    lens[n] = ai->ai_addrlen;
    ((struct sockaddr_in *)&out[n])->sin_port = htons((unsigned short)c->req.port);
    n++;
  }
  freeaddrinfo(res);
  if(!n)
    *why = "the name has no address";
  return n;
}

static void
format_address(const struct sockaddr_storage *sa, char *buf, size_t cap)
{
  const void *a = sa->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                                           : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;

  if(!inet_ntop(sa->ss_family, a, buf, (socklen_t)cap))
    snprintf(buf, cap, "?");
}

/* Checks and connects; c->up is the upstream socket on success. */
static int
open_upstream(struct conn *c)
{
  struct sockaddr_storage addrs[MAX_ADDRS];
  socklen_t lens[MAX_ADDRS];
  const struct egress_rule *rule;
  const char *why = NULL, *class = NULL;
  enum egress_verdict v = egress_check_name(&c->proxy->policy, c->req.host, c->req.port, &rule);
  char reason[512];
  int n, i, last_errno = 0;

  if(v != EGRESS_OK) {
    refuse(c, 403, 2, "refused", egress_verdict_text(v));
    return -1;
  }
  n = resolve(c, addrs, lens, MAX_ADDRS, &why);
  if(n == 0) {
    snprintf(reason, sizeof(reason), "the name does not resolve: %s", why);
    refuse(c, 502, 4, "failed", reason);
    return -1;
  }
  for(i = 0; i < n; i++) {
    format_address(&addrs[i], c->address, sizeof(c->address));
    v = egress_check_addr(&c->proxy->policy, rule, c->req.host, c->req.port, (struct sockaddr *)&addrs[i]);
    if(v != EGRESS_OK) {
      class = egress_addr_class((struct sockaddr *)&addrs[i]);
      continue;
    }
    c->up = connect_to((struct sockaddr *)&addrs[i], lens[i]);
    if(c->up >= 0)
      return 0;
    last_errno = errno;
    why = strerror(errno);
  }
  if(!last_errno) {
    snprintf(reason, sizeof(reason), "%s (it resolved to %s, a %s address)", egress_verdict_text(v),
             c->address, class ? class : "refused");
    refuse(c, 403, 2, "refused", reason);
    return -1;
  }
  snprintf(reason, sizeof(reason), "cannot connect to %s: %s", c->address, why);
  refuse(c, 502, last_errno == ECONNREFUSED ? 5 : last_errno == ETIMEDOUT ? 4 : 1, "failed", reason);
  return -1;
}

static int
read_request(struct conn *c)
{
  int status, reply;
  const char *why;
  size_t used = 0, end;

  if(!read_more(c))
    return -1;
  if((unsigned char)c->buf[0] == 5) {
    int rc;

    while((rc = request_socks5_greeting((unsigned char *)c->buf, c->have, &used)) == 1)
      if(!read_more(c))
        return -1;
    send_all(c->fd, rc == 0 ? "\x05\x00" : "\x05\xff", 2);
    if(rc < 0)
      return -1;
    memmove(c->buf, c->buf + used, c->have - used);
    c->have -= used;
    while((rc = request_parse_socks5((unsigned char *)c->buf, c->have, &c->req, &used, &reply)) == 1)
      if(!read_more(c))
        return -1;
    if(rc < 0) {
      c->req.kind = REQUEST_SOCKS5;
      refuse(c, 400, reply, "refused", "not a SOCKS5 CONNECT");
      return -1;
    }
    memmove(c->buf, c->buf + used, c->have - used);
    c->have -= used;
    return 0;
  }
  while(!(end = request_head_end(c->buf, c->have)))
    if(!read_more(c)) {
      if(c->have >= sizeof(c->buf))
        refuse(c, 431, 1, "refused", "the request head is too long");
      return -1;
    }
  if(request_parse_http(c->buf, end, &c->req, &status, &why) < 0) {
    refuse(c, status, 1, "refused", why);
    return -1;
  }
  memmove(c->buf, c->buf + end, c->have - end);
  c->have -= end;
  return 0;
}

static void
serve(struct conn *c)
{
  if(read_request(c) == 0 && open_upstream(c) == 0) {
    if(c->req.kind == REQUEST_CONNECT)
      send_all(c->fd, "HTTP/1.1 200 Connection established\r\n\r\n", 39);
    else if(c->req.kind == REQUEST_SOCKS5)
      socks_reply(c->fd, 0);
    else {
      send_all(c->up, c->req.head, c->req.head_len);
      c->bytes_up += c->req.head_len;
    }
    if(c->have) {                   /* what the client sent early */
      send_all(c->up, c->buf, c->have);
      c->bytes_up += c->have;
    }
    pump(c->fd, c->up, &c->bytes_up, &c->bytes_down);
    report(c, "allowed", NULL);
  }
  if(c->up >= 0)
    close(c->up);
  close(c->fd);
  request_clear(&c->req);
}

/* Leader/followers: every thread accepts and then serves what it accepted
 * itself, so no connection waits for a thread to be created or woken;
 * the last idle acceptor to take a connection starts another, up to
 * MAX_CONNECTIONS threads, past which new connections wait in the
 * listening socket's backlog. */
static struct proxy *serving;
static int listen_sock, idle, threads;

static void *acceptor(void *arg);

static void
add_acceptor(void)
{
  pthread_attr_t attr;
  pthread_t t;

  if(__atomic_add_fetch(&threads, 1, __ATOMIC_RELAXED) > MAX_CONNECTIONS) {
    __atomic_sub_fetch(&threads, 1, __ATOMIC_RELAXED);
    return;
  }
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if(log_thread_create(&t, &attr, acceptor, NULL) != 0) {
    __atomic_sub_fetch(&threads, 1, __ATOMIC_RELAXED);
    log_warn("egress_thread_failed", "errno=%d", errno);
  }
  pthread_attr_destroy(&attr);
}

static void *
acceptor(void *arg)
{
  struct conn *c = calloc(1, sizeof(*c));

  (void)arg;
  if(!c) {
    __atomic_sub_fetch(&threads, 1, __ATOMIC_RELAXED);
    return NULL;
  }
  for(;;) {
    int fd;

    __atomic_add_fetch(&idle, 1, __ATOMIC_RELAXED);
    fd = accept4(listen_sock, NULL, NULL, SOCK_CLOEXEC);
    if(__atomic_sub_fetch(&idle, 1, __ATOMIC_RELAXED) == 0 && fd >= 0)
      add_acceptor();
    if(fd < 0) {
      if(errno == EINTR || errno == ECONNABORTED)
        continue;
      log_err("egress_accept_failed", "errno=%d error=%s", errno, strerror(errno));
      _exit(1);
    }
    memset(c, 0, sizeof(*c));
    c->proxy = serving;
    c->fd = fd;
    c->up = -1;
    c->started = now_ms();
    pthread_mutex_lock(&call_mu);
    memcpy(c->call, current_call, sizeof(c->call));
    pthread_mutex_unlock(&call_mu);
    serve(c);
  }
}

int
proxy_serve(struct proxy *p, int listen_fd)
{
  int i;

  serving = p;
  listen_sock = listen_fd;
  for(i = 0; i < SPARE_ACCEPTORS; i++)
    add_acceptor();
  for(;;)
    sleep(3600);                    /* the acceptors do the work */
}
