/* The channel's framing: frames and descriptors come back as sent, a
 * frame over the limit is refused, and a peer that announces a huge frame
 * and sends little makes the reader hold what arrived, not what was
 * announced. */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/frame.h"
#include "tap.h"

static void *
reader(void *p)
{
  size_t len;

  return recv_frame(*(int *)p, &len);
}

int
main(void)
{
  int sv[2], fd = -1, dn = open("/dev/null", O_RDONLY | O_CLOEXEC);
  unsigned char big[4] = { (unsigned char)((60u << 20) >> 24), (unsigned char)((60u << 20) >> 16), 0, 0 };
  unsigned char over[4] = { (unsigned char)((FRAME_MAX + 1) >> 24), (unsigned char)((FRAME_MAX + 1) >> 16),
                            (unsigned char)((FRAME_MAX + 1) >> 8), (unsigned char)(FRAME_MAX + 1) };
  size_t len, before;
  char *f;
  pthread_t th;
  void *got;
  int pending = 1, tries;

  ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "a socket pair");
  ok(send_frame_fd(sv[0], "{\"a\":1}", 7, dn) == 0, "a frame sent with a descriptor");
  f = recv_frame_fd(sv[1], &len, &fd);
  ok(f && len == 7 && !strcmp(f, "{\"a\":1}") && fd >= 0, "comes back whole, with a descriptor");
  ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "which is close-on-exec");
  free(f);
  if(fd >= 0)
    close(fd);
  ok(write(sv[0], over, 4) == 4, "a header over FRAME_MAX");
  ok(recv_frame(sv[1], &len) == NULL, "is refused");
  close(sv[0]);
  close(sv[1]);

  /* 60 MiB announced, 10 bytes sent, the peer silent: while the reader
   * waits, the heap holds about what arrived.  (mallinfo2 counts glibc's
   * heap; under a sanitizer's allocator it reads zero.) */
  ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "another pair");
  before = mallinfo2().uordblks + mallinfo2().hblkhd;
  ok(write(sv[0], big, 4) == 4 && write(sv[0], "0123456789", 10) == 10, "60 MiB announced, 10 bytes sent");
  ok(pthread_create(&th, NULL, reader, &sv[1]) == 0, "a reader waits for the rest");
  /* Once the socket is drained the reader has read the 10 bytes, so it
   * has allocated its buffer: the state to wait for. */
  for(tries = 0; tries < 10000 && ioctl(sv[1], FIONREAD, &pending) == 0 && pending > 0; tries++)
    usleep(1000);
  ok(pending == 0, "the reader took what was sent");
  {
    size_t held = mallinfo2().uordblks + mallinfo2().hblkhd - before;

    ok(held < (1u << 20), "while it waits the reader holds %zu bytes, not 60 MiB", held);
  }
  close(sv[0]);
  pthread_join(th, &got);
  ok(got == NULL, "the peer gone, the frame is an error");
  close(sv[1]);
  close(dn);
  return tap_done();
}
