/* loadgen: HTTP/1.1 load of unique, signed Standard Webhooks deliveries.
 *
 *   bench/loadgen HOST PORT PATH CONNECTIONS SECONDS SECRET [ID_PREFIX]
 *
 * Keeps CONNECTIONS keep-alive connections busy for SECONDS, each request
 * a session.status_idled delivery with its own webhook-id, signed with
 * SECRET (whsec_...) as the sender signs it (built as it is sent, so no
 * delivery repeats however fast the server is).  A connection the server
 * closes between requests is opened again (not an error).  Prints one line:
 *
 *   requests=N seconds=S rps=R p50_ms= p90_ms= p99_ms= p999_ms= max_ms= non2xx=N errors=N
 *
 * One thread and epoll: the client's own cost stays small beside the
 * server's, and is the same for every server it is pointed at. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  char out[2048], in[8193];             /* in: NUL-terminated for the header scan */
  size_t out_len, out_off, in_len;
  double t0;
};

static unsigned char key[64];
static int key_len;
static EVP_MAC_CTX *keyed;             /* HMAC-SHA256 with the key set, copied per request */
static const char *host, *path, *prefix = "whe_load";
static long long seq;

static double
now_s(void)
{
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
build_request(struct conn *c)
{
  char body[512], id[96], sig_in[700], prefix_ts[160];
  unsigned char mac[32];
  unsigned int mac_len = 0;
  char sig[64];
  long ts = (long)time(NULL);
  int blen, n;

  snprintf(id, sizeof(id), "%s_%d_%lld", prefix, (int)getpid(), seq++);
  blen = snprintf(body, sizeof(body),
                  "{\"type\":\"event\",\"id\":\"%s\",\"created_at\":\"2026-12-03T00:00:00Z\","
                  "\"data\":{\"type\":\"session.status_idled\",\"id\":\"sesn_load\"}}", id);
  n = snprintf(prefix_ts, sizeof(prefix_ts), "%s.%ld.", id, ts);
  memcpy(sig_in, prefix_ts, (size_t)n);
  memcpy(sig_in + n, body, (size_t)blen);
  {
    EVP_MAC_CTX *m = EVP_MAC_CTX_dup(keyed);
    size_t got = 0;

    if(!m || !EVP_MAC_update(m, (unsigned char *)sig_in, (size_t)(n + blen)) ||
       !EVP_MAC_final(m, mac, &got, sizeof(mac)))
      abort();
    EVP_MAC_CTX_free(m);
    mac_len = (unsigned int)got;
  }
  EVP_EncodeBlock((unsigned char *)sig, mac, (int)mac_len);
  c->out_len = (size_t)snprintf(c->out, sizeof(c->out),
                                "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                                "webhook-id: %s\r\nwebhook-timestamp: %ld\r\n"
                                "webhook-signature: v1,%s\r\nContent-Length: %d\r\n\r\n%s",
                                path, host, id, ts, sig, blen, body);
  c->out_off = 0;
  c->in_len = 0;
}

/* The length of a whole response at the start of buf, 0 when more is
 * needed, -1 when it cannot be read.  *status gets its status code. */
static long
response_len(const char *buf, size_t len, int *status)
{
  const char *end = memmem(buf, len, "\r\n\r\n", 4), *cl;
  size_t head;
  long body = 0;

  if(!end)
    return 0;
  head = (size_t)(end - buf) + 4;
  if(sscanf(buf, "HTTP/1.%*d %d", status) != 1)
    return -1;
  if((cl = memmem(buf, head, "Content-Length:", 15)) || (cl = memmem(buf, head, "content-length:", 15)))
    body = atol(cl + 15);
  else if(memmem(buf, head, "chunked", 7)) {
    const char *z = memmem(buf + head, len - head, "0\r\n\r\n", 5);

    return z ? (long)(z - buf) + 5 : 0;
  }
  return head + (size_t)body <= len ? (long)head + body : 0;
}

/* Writes what is left of the request; EPOLLOUT is asked for only while
 * some is (a socket is nearly always writable: asking for it always would
 * spin). */
static void
send_rest(struct conn *c, int ep)
{
  struct epoll_event ev = { EPOLLIN, { .ptr = c } };
  ssize_t got = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

  if(got > 0)
    c->out_off += (size_t)got;
  ev.events |= c->out_off < c->out_len ? EPOLLOUT : 0;
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int
open_conn(struct conn *c, const struct sockaddr_in *sa, int ep)
{
  struct epoll_event ev = { EPOLLIN | EPOLLOUT, { .ptr = c } };
  int one = 1;

  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if(c->fd < 0)
    return -1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if(connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno != EINPROGRESS)
    return -1;
  build_request(c);
  c->t0 = now_s();
  return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  struct epoll_event evs[256];
  struct conn *conns;
  double start, end, *lat = NULL, secs;
  size_t nlat = 0, cap = 0;
  long long non2xx = 0, errors = 0;
  int ep, nconn, i, n;

  if(argc < 7) {
    fprintf(stderr, "usage: loadgen HOST PORT PATH CONNECTIONS SECONDS SECRET [ID_PREFIX]\n");
    return 2;
  }
  host = argv[1];
  path = argv[3];
  nconn = atoi(argv[4]);
  secs = atof(argv[5]);
  if(argc > 7)
    prefix = argv[7];
  if(strncmp(argv[6], "whsec_", 6) || (key_len = EVP_DecodeBlock(key, (unsigned char *)argv[6] + 6,
                                                                  (int)strlen(argv[6] + 6))) < 0) {
    fprintf(stderr, "loadgen: the secret is not whsec_<base64>\n");
    return 2;
  }
  /* EVP_DecodeBlock counts the padding as bytes. */
  for(n = (int)strlen(argv[6]); n > 6 && argv[6][n - 1] == '='; n--)
    key_len--;
  {
    static char sha256[] = "SHA256";
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha256, 0),
                            OSSL_PARAM_construct_end() };

    if(!hmac || !(keyed = EVP_MAC_CTX_new(hmac)) || !EVP_MAC_init(keyed, key, (size_t)key_len, params)) {
      fprintf(stderr, "loadgen: OpenSSL has no HMAC-SHA256\n");
      return 1;
    }
    EVP_MAC_free(hmac);
  }
  sa.sin_port = htons((unsigned short)atoi(argv[2]));
  if(inet_pton(AF_INET, host, &sa.sin_addr) != 1 || nconn < 1 || secs <= 0) {
    fprintf(stderr, "loadgen: bad host, connections or seconds\n");
    return 2;
  }
  conns = calloc((size_t)nconn, sizeof(*conns));
  ep = epoll_create1(EPOLL_CLOEXEC);
  if(!conns || ep < 0)
    return 1;
  for(i = 0; i < nconn; i++)
    if(open_conn(&conns[i], &sa, ep) < 0) {
      perror("loadgen: connect");
      return 1;
    }
  start = now_s();
  end = start + secs;
  while(now_s() < end) {
    n = epoll_wait(ep, evs, 256, 100);
    for(i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      ssize_t got;
      long rlen;
      int status = 0;

      if(c->out_off < c->out_len && (evs[i].events & EPOLLOUT))
        send_rest(c, ep);
      if(!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        continue;
      got = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
      if(got < 0 && errno == EAGAIN)
        continue;
      if(got > 0)
        c->in[c->in_len += (size_t)got] = '\0';
      if(got <= 0 || (rlen = response_len(c->in, c->in_len, &status)) < 0) {
        /* Closed between requests (keep-alive's end: the request is sent
         * again on a new connection), or mid-response (an error). */
        errors += got != 0 || c->in_len != 0;
        close(c->fd);
        if(open_conn(c, &sa, ep) < 0)
          return 1;
        continue;
      }
      if(rlen == 0)
        continue;
      if(nlat == cap) {
        cap = cap ? cap * 2 : 65536;
        if(!(lat = realloc(lat, cap * sizeof(*lat))))
          return 1;
      }
      lat[nlat++] = now_s() - c->t0;
      non2xx += status < 200 || status > 299;
      build_request(c);
      c->t0 = now_s();
      send_rest(c, ep);
    }
  }
  secs = now_s() - start;
  qsort(lat, nlat, sizeof(*lat), cmp_double);
#define PCT(p) (nlat ? lat[(size_t)((double)(nlat - 1) * (p))] * 1e3 : 0.0)
  printf("requests=%zu seconds=%.2f rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
         "max_ms=%.3f non2xx=%lld errors=%lld\n", nlat, secs, (double)nlat / secs, PCT(0.5), PCT(0.9),
         PCT(0.99), PCT(0.999), PCT(1.0), non2xx, errors);
  for(i = 0; i < nconn; i++)
    close(conns[i].fd);
  close(ep);
  free(conns);
  free(lat);
  EVP_MAC_CTX_free(keyed);
  return 0;
}
