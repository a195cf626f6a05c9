#include "common/random.h"

#include <errno.h>
#include <sys/random.h>
#include <sys/types.h>

int
random_hex(char *out, size_t nbytes)
{
  static const char digits[] = "0123456789abcdef";
  unsigned char rnd[64];
  size_t got = 0, i;

  if(nbytes > sizeof(rnd)) {
    errno = EINVAL;
    return -1;
  }
  while(got < nbytes) {
    ssize_t n = getrandom(rnd + got, nbytes - got, 0);

    if(n < 0 && errno != EINTR)
      return -1;
    if(n > 0)
      got += (size_t)n;
  }
  for(i = 0; i < nbytes; i++) {
    out[2 * i] = digits[rnd[i] >> 4];
    out[2 * i + 1] = digits[rnd[i] & 15];
  }
  out[2 * nbytes] = '\0';
  return 0;
}
