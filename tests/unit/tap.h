/* A minimal TAP producer for the unit tests. */
#ifndef SANDHOOK_TAP_H
#define SANDHOOK_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) tap_check(!!(cond), __FILE__, __LINE__, NULL, __VA_ARGS__)
#define is_str(got, want, ...) \
  tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
  tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)

/* One result line; on failure, where and (when given) why. */
static int __attribute__((unused))
tap_vcheck(int cond, const char *file, int line, const char *why, const char *fmt, va_list ap)
{
  printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
  vprintf(fmt, ap);
  printf("\n");
  if(!cond) {
    tap_failed++;
    printf("#   failed at %s:%d\n%s", file, line, why ? why : "");
  }
  return cond;
}

static int __attribute__((unused, format(printf, 5, 6)))
tap_check(int cond, const char *file, int line, const char *why, const char *fmt, ...)
{
  va_list ap;
  int r;

  va_start(ap, fmt);
  r = tap_vcheck(cond, file, line, why, fmt, ap);
  va_end(ap);
  return r;
}

static int __attribute__((unused, format(printf, 5, 6)))
tap_is_str(const char *got, const char *want, const char *file, int line, const char *fmt, ...)
{
  int cond = got && want ? !strcmp(got, want) : got == want;
  char why[4096];
  va_list ap;
  int r;

  snprintf(why, sizeof(why), "#   got:  '%s'\n#   want: '%s'\n", got ? got : "(null)",
           want ? want : "(null)");
  va_start(ap, fmt);
  r = tap_vcheck(cond, file, line, why, fmt, ap);
  va_end(ap);
  return r;
}

static int __attribute__((unused, format(printf, 5, 6)))
tap_is_int(long long got, long long want, const char *file, int line, const char *fmt, ...)
{
  char why[128];
  va_list ap;
  int r;

  snprintf(why, sizeof(why), "#   got:  %lld\n#   want: %lld\n", got, want);
  va_start(ap, fmt);
  r = tap_vcheck(got == want, file, line, why, fmt, ap);
  va_end(ap);
  return r;
}

static int __attribute__((unused))
tap_done(void)
{
  printf("1..%d\n", tap_n);
  return tap_failed ? 1 : 0;
}

#endif
