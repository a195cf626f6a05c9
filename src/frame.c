#include "frame.h"
#include "fsutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
safe_id(const char *id)
{
  size_t n = strlen(id), i;

  if(n == 0 || n > 200)
    return 0;
  for(i = 0; i < n; i++)
    if(!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
         (id[i] >= '0' && id[i] <= '9') || id[i] == '_' || id[i] == '-'))
      return 0;
  return 1;
}

int
send_frame(int fd, const char *data, size_t len)
{
  unsigned char hdr[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                           (unsigned char)(len >> 8), (unsigned char)len };

  return write_all(fd, hdr, 4) < 0 || write_all(fd, data, len) < 0 ? -1 : 0;
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

char *
recv_frame(int fd, size_t *len)
{
  unsigned char hdr[4];
  char *buf;

  if(read_exact(fd, hdr, 4) < 0)
    return NULL;
  *len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
  if(*len > FRAME_MAX)
    return NULL;
  buf = malloc(*len + 1);
  if(!buf)
    return NULL;
  if(read_exact(fd, buf, *len) < 0) {
    free(buf);
    return NULL;
  }
  buf[*len] = '\0';
  return buf;
}

