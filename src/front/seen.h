/* seen: the duplicate-delivery store.
 *
 * One empty file per webhook-id under STATE/seen, created with O_EXCL so
 * that of several processes receiving the same id at once exactly one sees
 * it as new.  A mark older than ttl no longer counts, and seen_sweep removes
 * such marks (at most once a minute, whoever gets there first). */
#ifndef SANDHOOK_SEEN_H
#define SANDHOOK_SEEN_H

#include <time.h>

enum seen_mark { SEEN_ERROR = -1, SEEN_NEW = 0, SEEN_DUPLICATE = 1 };

/* SEEN_NEW when id is new (and now marked), SEEN_DUPLICATE, or SEEN_ERROR
 * on an I/O error (errno set). */
enum seen_mark seen_mark(const char *state_dir, const char *id, long ttl, time_t now);

/* Drops a mark, so a delivery that could not be acted on can be retried. */
void seen_forget(const char *state_dir, const char *id);

void seen_sweep(const char *state_dir, long ttl, time_t now);

#endif
