#include "common/spawn.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
spawn_program_path(const char *name, char *buf, size_t cap)
{
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  char *slash;

  if(n > 0) {
    self[n] = '\0';
    slash = strrchr(self, '/');
    if(slash && snprintf(buf, cap, "%.*s/%s", (int)(slash - self), self, name) < (int)cap &&
       access(buf, X_OK) == 0)
      return 0;
  }
  if(snprintf(buf, cap, "%s/%s", PKGLIBEXECDIR, name) < (int)cap)
    return 0;
  errno = ENAMETOOLONG;
  return -1;
}
