/* A minimal TAP producer for the unit tests. */
#ifndef SANDHOOK_TAP_H
#define SANDHOOK_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) \
  tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
  tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)

static int __attribute__((unused, format(printf, 4, 5)))
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
  va_list ap;

  printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  if(!cond) {
    tap_failed++;
    printf("#   failed at %s:%d\n", file, line);
  }
  return cond;
}

static int __attribute__((unused, format(printf, 5, 6)))
tap_is_str(const char *got, const char *want, const char *file, int line, const char *fmt, ...)
{
  int cond = got && want ? !strcmp(got, want) : got == want;
  va_list ap;

  printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  if(!cond) {
    tap_failed++;
    printf("#   failed at %s:%d\n#   got:  '%s'\n#   want: '%s'\n", file, line,
           got ? got : "(null)", want ? want : "(null)");
  }
  return cond;
}

static int __attribute__((unused, format(printf, 5, 6)))
tap_is_int(long long got, long long want, const char *file, int line, const char *fmt, ...)
{
  int cond = got == want;
  va_list ap;

  printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  if(!cond) {
    tap_failed++;
    printf("#   failed at %s:%d\n#   got:  %lld\n#   want: %lld\n", file, line, got, want);
  }
  return cond;
}

static int __attribute__((unused))
tap_done(void)
{
  printf("1..%d\n", tap_n);
  return tap_failed ? 1 : 0;
}

#endif
