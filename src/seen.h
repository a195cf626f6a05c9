/* seen: the duplicate-delivery store.
 *
 * One empty file per webhook-id under STATE/seen, created with O_EXCL so
 * that of several processes receiving the same id at once exactly one sees
 * it as new.  A mark older than ttl no longer counts, and seen_sweep removes
 * such marks (at most once a minute, whoever gets there first). */
#ifndef SANDHOOK_SEEN_H
#define SANDHOOK_SEEN_H

#include <time.h>

/* Returns 0 when id is new (and now marked), 1 for a duplicate, -1 on an
 * I/O error (errno set). */
int seen_mark(const char *state_dir, const char *id, long ttl, time_t now);

/* Drops a mark, so a delivery that could not be acted on can be retried. */
void seen_forget(const char *state_dir, const char *id);

void seen_sweep(const char *state_dir, long ttl, time_t now);

#endif
