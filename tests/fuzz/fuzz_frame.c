/* The channel to and from the jail: the jail's side is the agent's, so the
 * drainer reads frames whose every byte, and every descriptor riding on
 * them, the agent chose.  Input: segments of [flags][len][bytes], each sent
 * with one sendmsg, a descriptor attached when flags says so.  Every frame
 * read is whole and NUL-terminated, no descriptor leaks, and a frame sent
 * with send_frame_fd comes back as it went. */
#include "fuzz.h"
#include "common/frame.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static int
lowest_free_fd(void)
{
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

  FUZZ_ASSERT(fd >= 0);
  close(fd);
  return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  int sv[2], before = lowest_free_fd(), fd;
  size_t off = 0, len;
  char *frame;

  FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
  while(off + 2 <= size) {
    int flags = data[off];
    size_t n = data[off + 1];

    off += 2;
    if(n > size - off)
      n = size - off;
    if(n) {
      int fd = flags & 1 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;

      (void)send_with_fd(sv[0], data + off, n, fd);
      if(fd >= 0)
        close(fd);
    }
    off += n;
  }
  close(sv[0]);
  while((frame = recv_frame_fd(sv[1], &len, &fd))) {
    FUZZ_ASSERT(len <= FRAME_MAX && frame[len] == '\0');
    if(fd >= 0) {
      FUZZ_ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
      close(fd);
    }
    free(frame);
  }
  close(sv[1]);
  /* And the codec's own round trip, the input as one frame. */
  FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  if(size <= 65536) {
    int dn = open("/dev/null", O_RDONLY | O_CLOEXEC);

    FUZZ_ASSERT(send_frame_fd(sv[0], (const char *)data, size, size & 1 ? dn : -1) == 0);
    close(dn);
    close(sv[0]);
    frame = recv_frame_fd(sv[1], &len, &fd);
    FUZZ_ASSERT(frame && len == size && !memcmp(frame, data, size));
    FUZZ_ASSERT((fd >= 0) == (size & 1));
    if(fd >= 0)
      close(fd);
    free(frame);
  }
  else
    close(sv[0]);
  close(sv[1]);
  FUZZ_ASSERT(lowest_free_fd() == before);
  return 0;
}
