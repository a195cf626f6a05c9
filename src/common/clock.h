/* clock: monotonic milliseconds and a sleep that a flag can cut short. */
#ifndef SANDHOOK_CLOCK_H
#define SANDHOOK_CLOCK_H

#include <signal.h>

long long now_ms(void);
/* Returns early once *cancel is set (cancel may be NULL). */
void sleep_ms(long ms, const volatile sig_atomic_t *cancel);

#endif
