/* seen: the duplicate-delivery store.
 *
 * STATE/seen.table is one hash table shared by every process on the host:
 * a header, then buckets of 64 entries, each entry 192 bits of the id's
 * SHA-256 and the second it was first seen.  A mark takes the table's
 * flock, scans one bucket and writes one entry, so of several processes
 * receiving the same id at once exactly one sees it as new, with no file
 * per delivery.  An entry older than ttl counts as free, so nothing needs
 * sweeping.  A process killed mid-mark leaves the entry free (the stamp is
 * written last) and the lock goes with it.  A bucket seven-eighths full
 * has the table doubled after the response (seen_grow); a full one
 * before the mark.  The bigger table is built from a copy and written whole
 * without the flock, which is taken only to bring it up to date and rename
 * it over; every holder checks under the flock that its table is still the
 * one at the path.  A grower holds an OFD write lock on the table's first
 * byte (the grow lock), so growers take turns while marks go on.  At the
 * size cap the bucket's oldest entry is evicted instead (logged). */
#ifndef SANDHOOK_SEEN_H
#define SANDHOOK_SEEN_H

#include <time.h>

enum seen_mark { SEEN_ERROR = -1, SEEN_NEW = 0, SEEN_DUPLICATE = 1 };

/* SEEN_NEW when id is new (and now marked), SEEN_DUPLICATE, or SEEN_ERROR
 * on an I/O error (errno set).  The first mark on a host imports the
 * one-file-per-id store of earlier versions (STATE/seen/) and removes it. */
enum seen_mark seen_mark(const char *state_dir, const char *id, long ttl, time_t now);

/* Whether a mark of this process left its bucket seven-eighths full, once:
 * the front then runs seen_grow after the response, in a process of its
 * own (wake_seen_grower). */
int seen_grow_wanted(void);

/* Doubles the table that this process's last mark was made in, unless it
 * was replaced since (grown already) or another process is growing it.  A
 * failure is logged; the next full bucket grows it before its mark. */
void seen_grow(const char *state_dir, long ttl, time_t now);

/* Drops a mark, so a delivery that could not be acted on can be retried. */
void seen_forget(const char *state_dir, const char *id);

#endif
