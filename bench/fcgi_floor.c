/* fcgi_floor: the cheapest FastCGI responder, the floor under any other.
 *
 *   spawn-fcgi -n -s SOCKET -- bench/fcgi_floor WORKERS
 *
 * WORKERS processes on the listening socket on fd 0, each one thread and
 * epoll over every connection it accepts, kept open while the web server
 * asks (FCGI_KEEP_CONN): each request is read to its end and answered 202,
 * with nothing verified, stored or logged.  bench/run puts it behind the
 * same nginx as sandhook: what it serves is what nginx and FastCGI leave
 * to any responder on the machine. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BEGIN_REQUEST = 1, END_REQUEST = 3, STDIN = 5, STDOUT = 6, KEEP_CONN = 1 };

struct conn {
  int fd, keep;
  size_t len;
  /* Two of the largest record (header, 65535 of content, 255 of padding):
   * a full buffer always holds a whole one to consume. */
  unsigned char in[2 * (8 + 65535 + 255)];
};

static const char answer[] = "Status: 202 Accepted\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";

static void
header(unsigned char *h, int type, unsigned id, size_t len)
{
  h[0] = 1;
  h[1] = (unsigned char)type;
  h[2] = (unsigned char)(id >> 8);
  h[3] = (unsigned char)id;
  h[4] = (unsigned char)(len >> 8);
  h[5] = (unsigned char)len;
  h[6] = h[7] = 0;
}

/* STDOUT with the answer, an empty STDOUT, END_REQUEST: one write. */
static int
reply(int fd, unsigned id)
{
  unsigned char out[256];
  size_t n = sizeof(answer) - 1, at = 0;

  header(out, STDOUT, id, n);
  memcpy(out + 8, answer, n);
  at = 8 + n;
  header(out + at, STDOUT, id, 0);
  at += 8;
  header(out + at, END_REQUEST, id, 8);
  memset(out + at + 8, 0, 8);
  at += 16;
  return write(fd, out, at) == (ssize_t)at ? 0 : -1;
}

/* Consumes whole records; -1 when the connection is to close. */
static int
serve(struct conn *c)
{
  size_t at = 0;

  /* A full buffer is read on at the next wake-up (level-triggered). */
  while(c->len < sizeof(c->in)) {
    ssize_t n = read(c->fd, c->in + c->len, sizeof(c->in) - c->len);

    if(n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
      return -1;
    if(n < 0)
      break;
    c->len += (size_t)n;
  }
  while(c->len - at >= 8) {
    unsigned char *h = c->in + at;
    unsigned id = (unsigned)h[2] << 8 | h[3];
    size_t body = (size_t)h[4] << 8 | h[5], whole = 8 + body + h[6];

    if(c->len - at < whole)
      break;
    if(h[1] == BEGIN_REQUEST && body >= 3)
      c->keep = h[8 + 2] & KEEP_CONN;
    else if(h[1] == STDIN && body == 0 && (reply(c->fd, id) < 0 || !c->keep))
      return -1;
    at += whole;
  }
  memmove(c->in, c->in + at, c->len - at);
  c->len -= at;
  return 0;
}

int
main(int argc, char **argv)
{
  struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL }, got[64];
  int workers = argc > 1 ? atoi(argv[1]) : 0, i, ep;

  if(workers < 1 || workers > 256) {
    fprintf(stderr, "usage: fcgi_floor WORKERS (1-256), the listening socket on fd 0\n");
    return 2;
  }
  for(i = 1; i < workers; i++) {
    pid_t pid = fork();

    if(pid < 0) {
      perror("fcgi_floor: fork");
      return 1;
    }
    if(pid == 0)
      break;
  }
  /* Non-blocking, so a worker woken with others never waits in accept. */
  if(fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK) < 0 || (ep = epoll_create1(0)) < 0 ||
     epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) < 0) {
    perror("fcgi_floor: epoll");
    return 1;
  }
  for(;;) {
    int n = epoll_wait(ep, got, 64, -1);

    if(n < 0 && errno != EINTR) {
      perror("fcgi_floor: epoll_wait");
      return 1;
    }
    for(i = 0; i < n; i++) {
      struct conn *c = got[i].data.ptr;

      if(!c) {
        int fd = accept4(0, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct epoll_event cev = { .events = EPOLLIN };

        if(fd < 0)
          continue;
        if(!(c = calloc(1, sizeof(*c)))) {
          close(fd);
          continue;
        }
        c->fd = fd;
        cev.data.ptr = c;
        if(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0) {
          close(fd);
          free(c);
        }
        continue;
      }
      if(serve(c) < 0) {
        close(c->fd);
        free(c);
      }
    }
  }
}
