#include "jail/egress_relay.h"
#include "common/pump.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static int enabled;
static pid_t relay_pid;

static const char *const proxy_env[] = {
  "HTTP_PROXY=http://127.0.0.1:3128", "HTTPS_PROXY=http://127.0.0.1:3128",
  "http_proxy=http://127.0.0.1:3128", "https_proxy=http://127.0.0.1:3128",
  "ALL_PROXY=socks5h://127.0.0.1:1080", "all_proxy=socks5h://127.0.0.1:1080",
  "NO_PROXY=localhost,127.0.0.1,::1", "no_proxy=localhost,127.0.0.1,::1", NULL
};

_Static_assert(EGRESS_HTTP_PORT == 3128 && EGRESS_SOCKS_PORT == 1080,
               "proxy_env names the ports");

void
egress_relay_enable(void)
{
  enabled = 1;
}

const char *const *
egress_relay_env(void)
{
  return enabled ? proxy_env : NULL;
}

static int
listen_on(int port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if(fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
     bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
    if(fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

/* One connection, in its own process: to the proxy and back. */
static void __attribute__((noreturn))
carry(int client)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = EGRESS_SOCKET };
  int up = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if(up < 0 || connect(up, (struct sockaddr *)&sa, sizeof(sa)) < 0)
    _exit(1);
  _exit(pump(client, up, NULL, NULL) < 0);
}

static void __attribute__((noreturn))
relay(int http, int socks)
{
  signal(SIGCHLD, SIG_IGN);         /* the carriers reap themselves */
  for(;;) {
    struct pollfd pfd[2] = { { http, POLLIN, 0 }, { socks, POLLIN, 0 } };
    int k;

    if(poll(pfd, 2, -1) < 0 && errno != EINTR)
      _exit(1);
    for(k = 0; k < 2; k++) {
      int c;

      if(!(pfd[k].revents & POLLIN) || (c = accept4(pfd[k].fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
        continue;
      if(fork() == 0) {
        close(http);
        close(socks);
        carry(c);
      }
      close(c);
    }
  }
}

int
egress_relay_ensure(void)
{
  int http, socks;

  if(!enabled || (relay_pid > 0 && kill(relay_pid, 0) == 0))
    return 0;
  http = listen_on(EGRESS_HTTP_PORT);
  socks = http < 0 ? -1 : listen_on(EGRESS_SOCKS_PORT);
  if(socks < 0) {
    int e = errno;

    log_err("egress_relay_failed", "errno=%d error=%s", e, strerror(e));
    if(http >= 0)
      close(http);
    errno = e;
    return -1;
  }
  relay_pid = fork();
  if(relay_pid == 0) {
    /* Only the two listeners (http < socks: opened in that order, each
     * the lowest free number): not the drainer's channel, nothing else. */
    if(http > 3)
      syscall(SYS_close_range, 3, http - 1, 0);
    if(socks > http + 1)
      syscall(SYS_close_range, http + 1, socks - 1, 0);
    syscall(SYS_close_range, socks + 1, ~0U, 0);
    relay(http, socks);
  }
  close(http);
  close(socks);
  return relay_pid > 0 ? 0 : -1;
}
