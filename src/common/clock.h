/* clock: monotonic milliseconds, deadlines for condition waits, and a
 * sleep that a flag can cut short.  Everything here is CLOCK_MONOTONIC: a
 * lease or a timeout must not move when someone sets the wall clock; only
 * wall_ms, for what an operator reads (when a call started), is not. */
#ifndef SANDHOOK_CLOCK_H
#define SANDHOOK_CLOCK_H

#include <signal.h>
#include <time.h>

long long now_ms(void);
long long wall_ms(void);
/* The CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait on a
 * condition variable whose clock was set to CLOCK_MONOTONIC. */
struct timespec deadline_in(long ms);
/* Returns early once *cancel is set (cancel may be NULL). */
void sleep_ms(long ms, const volatile sig_atomic_t *cancel);

/* A stop flag that another thread, or a signal handler, raises: read and
 * raised with atomics, so each thread sees the other's store.  NULL is
 * never raised. */
static inline int
flag_raised(const volatile sig_atomic_t *f)
{
  return f && __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

static inline void
flag_raise(volatile sig_atomic_t *f)
{
  __atomic_store_n(f, 1, __ATOMIC_RELEASE);
}

#endif
