/* The configuration file: an operator writes it, but a parser of bytes it
 * is, and a line from anywhere must be answered with an error, never a
 * crash.  A refused file always says why. */
#include "fuzz.h"
#include "common/config.h"

#include <fcntl.h>
#include <unistd.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static char path[64];
  struct config cfg;
  struct errmsg err = ERRMSG_INIT;
  int fd;

  if(!path[0]) {
    snprintf(path, sizeof(path), "/tmp/sandhook-fuzz-config.%d", (int)getpid());
    clearenv();
  }
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_ASSERT(fd >= 0);
  FUZZ_ASSERT(write(fd, data, size) == (ssize_t)size);
  close(fd);
  memset(&cfg, 0, sizeof(cfg));
  if(config_load(&cfg, path, &err) < 0)
    FUZZ_ASSERT(errmsg_isset(&err));
  config_free(&cfg);
  return 0;
}
