#include "common/proctitle.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char *area;
static size_t room;
static pthread_mutex_t title_mu = PTHREAD_MUTEX_INITIALIZER;

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
  char title[256];
  va_list ap;
  size_t n;

  if(!area || room < 2)
    return;
  va_start(ap, fmt);
  vsnprintf(title, sizeof(title), fmt, ap);
  va_end(ap);
  n = strlen(title);
  if(n >= room)
    n = room - 1;
  /* The rest zeroed, so the kernel shows the title and nothing after it;
   * one writer at a time, so a title is never two threads' halves. */
  pthread_mutex_lock(&title_mu);
  memcpy(area, title, n);
  memset(area + n, 0, room - n);
  pthread_mutex_unlock(&title_mu);
}
