#include "common/errmsg.h"

#include <stdarg.h>
#include <stdio.h>

int
errmsg_set(struct errmsg *e, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(e->text, sizeof(e->text), fmt, ap);
  va_end(ap);
  return -1;
}
