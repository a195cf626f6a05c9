#include "common/clock.h"

#include <time.h>

long long
now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
wall_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec
deadline_in(long ms)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000L;
  if(ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

void
sleep_ms(long ms, const volatile sig_atomic_t *cancel)
{
  long long end = now_ms() + ms;

  /* In slices of at most 100 ms, so a cancel is noticed quickly. */
  while(!flag_raised(cancel)) {
    long long left = end - now_ms();
    struct timespec ts;

    if(left <= 0)
      break;
    if(left > 100)
      left = 100;
    ts.tv_sec = 0;
    ts.tv_nsec = (long)left * 1000000L;
    nanosleep(&ts, NULL);
  }
}
