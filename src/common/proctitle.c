#include "common/proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char *area;
static size_t room;

void
proctitle_init(int argc, char **argv)
{
  int i;

  /* The arguments lie end to end; the title may use all of them.  The
   * environment after them is left alone: getenv still reads it. */
  if(argc < 1 || !argv[0])
    return;
  area = argv[0];
  room = strlen(area) + 1;
  for(i = 1; i < argc && argv[i] == area + room; i++)
    room += strlen(argv[i]) + 1;
}

void
proctitle_set(const char *fmt, ...)
{
  va_list ap;
  int n;

  if(!area || room < 2)
    return;
  va_start(ap, fmt);
  n = vsnprintf(area, room, fmt, ap);
  va_end(ap);
  /* The rest zeroed, so the kernel shows the title and nothing after it. */
  if(n >= 0 && (size_t)n + 1 < room)
    memset(area + n + 1, 0, room - (size_t)n - 1);
}
