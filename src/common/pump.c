#include "common/pump.h"
#include "common/fsutil.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PUMP_BUF 65536

int
pump(int a, int b, unsigned long long *ab, unsigned long long *ba)
{
  char buf[PUMP_BUF];
  int open_a = 1, open_b = 1;

  while(open_a || open_b) {
    struct pollfd pfd[2] = { { open_a ? a : -1, POLLIN, 0 }, { open_b ? b : -1, POLLIN, 0 } };
    int k;

    if(poll(pfd, 2, -1) < 0) {
      if(errno == EINTR)
        continue;
      return -1;
    }
    for(k = 0; k < 2; k++) {
      int from = k ? b : a, to = k ? a : b;
      unsigned long long *count = k ? ba : ab;
      ssize_t n;

      if(!pfd[k].revents)
        continue;
      n = read(from, buf, sizeof(buf));
      if(n <= 0) {
        shutdown(to, SHUT_WR);
        if(k)
          open_b = 0;
        else
          open_a = 0;
        continue;
      }
      if(write_all(to, buf, (size_t)n) < 0)
        return -1;
      if(count)
        *count += (unsigned long long)n;
    }
  }
  return 0;
}

void
read_lines(int fd, void (*fn)(char *line, void *ctx), void *ctx)
{
  char buf[8192];
  size_t have = 0;
  int dropping = 0;

  for(;;) {
    ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
    char *p, *nl;

    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0)
      return;
    have += (size_t)n;
    buf[have] = '\0';
    for(p = buf; (nl = memchr(p, '\n', have - (size_t)(p - buf))); p = nl + 1) {
      *nl = '\0';
      if(!dropping)
        fn(p, ctx);
      dropping = 0;
    }
    have -= (size_t)(p - buf);
    memmove(buf, p, have);
    if(have == sizeof(buf) - 1) {
      have = 0;                     /* longer than any line we send: dropped */
      dropping = 1;
    }
  }
}
