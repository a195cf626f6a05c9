#include "common/frame.h"
#include "common/fsutil.h"
#include "common/unconst.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

ssize_t
send_with_fd(int sock, const void *data, size_t len, int fd)
{
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } cm;
  struct iovec iov = { unconst(data), len };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
  ssize_t n;

  if(fd >= 0) {
    memset(&cm, 0, sizeof(cm));
    msg.msg_control = cm.buf;
    msg.msg_controllen = sizeof(cm.buf);
    CMSG_FIRSTHDR(&msg)->cmsg_level = SOL_SOCKET;
    CMSG_FIRSTHDR(&msg)->cmsg_type = SCM_RIGHTS;
    CMSG_FIRSTHDR(&msg)->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(CMSG_FIRSTHDR(&msg)), &fd, sizeof(int));
  }
  do
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while(n < 0 && errno == EINTR);
  return n;
}

/* The descriptor rides on the header's first byte; the receiver takes it
 * with the header. */
int
send_frame_fd(int sock, const char *data, size_t len, int fd)
{
  unsigned char hdr[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                           (unsigned char)(len >> 8), (unsigned char)len };
  ssize_t n = send_with_fd(sock, hdr, 4, fd);

  if(n < 0 || write_all(sock, hdr + n, 4 - (size_t)n) < 0)
    return -1;
  return write_all(sock, data, len);
}

int
send_frame(int sock, const char *data, size_t len)
{
  return send_frame_fd(sock, data, len, -1);
}

static int
read_exact(int fd, void *buf, size_t len)
{
  char *p = buf;

  while(len) {
    ssize_t n = read(fd, p, len);

    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Reads the header's first bytes with recvmsg; a descriptor that came with
 * them goes to *fd (close-on-exec), or is closed when fd is NULL. */
static ssize_t
recv_header(int sock, unsigned char *hdr, int *fd)
{
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * 4)]; } cm;
  struct iovec iov = { hdr, 4 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                        .msg_controllen = sizeof(cm.buf) };
  struct cmsghdr *c;
  ssize_t n;

  do
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while(n < 0 && errno == EINTR);
  for(c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c)) {
    size_t i, k;

    if(c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for(i = 0; i < k; i++) {
      int got;

      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if(fd && *fd < 0)
        *fd = got;
      else
        close(got);
    }
  }
  return n;
}

char *
recv_frame_fd(int sock, size_t *len, int *fd)
{
  unsigned char hdr[4];
  size_t cap, have = 0;
  ssize_t n;
  char *buf;

  if(fd)
    *fd = -1;
  n = recv_header(sock, hdr, fd);
  if(n <= 0 || read_exact(sock, hdr + n, 4 - (size_t)n) < 0)
    goto fail;
  *len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
  if(*len > FRAME_MAX)
    goto fail;
  /* The buffer grows with what arrives, not with what the header claims:
   * a peer cannot make us hold FRAME_MAX for a frame it never sends. */
  cap = *len < 65536 ? *len : 65536;
  buf = malloc(cap + 1);
  while(buf && have < *len) {
    if(have == cap) {
      char *nb;

      cap = cap * 2 < *len ? cap * 2 : *len;
      nb = realloc(buf, cap + 1);
      if(!nb)
        break;
      buf = nb;
    }
    n = read(sock, buf + have, cap - have);
    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0)
      break;
    have += (size_t)n;
  }
  if(!buf || have < *len) {
    free(buf);
    goto fail;
  }
  buf[*len] = '\0';
  return buf;
fail:
  if(fd && *fd >= 0) {
    close(*fd);
    *fd = -1;
  }
  return NULL;
}

char *
recv_frame(int sock, size_t *len)
{
  return recv_frame_fd(sock, len, NULL);
}
