/* seen: the duplicate-delivery store.
 *
 * STATE/seen.table is one hash table shared by every process on the host:
 * a header, then buckets of 64 entries, each entry 192 bits of the id's
 * SHA-256 and the second it was first seen.  A mark takes the table's
 * flock, scans one bucket and writes one entry, so of several processes
 * receiving the same id at once exactly one sees it as new, with no file
 * per delivery.  An entry older than ttl counts as free, so nothing needs
 * sweeping.  A process killed mid-mark leaves the entry free (the stamp is
 * written last) and the lock goes with it.  A full bucket doubles the
 * table: the bigger one is written whole and renamed over, and the old one
 * marked replaced, which every holder checks under the lock.  At the size
 * cap the bucket's oldest entry is evicted instead (logged). */
#ifndef SANDHOOK_SEEN_H
#define SANDHOOK_SEEN_H

#include <time.h>

enum seen_mark { SEEN_ERROR = -1, SEEN_NEW = 0, SEEN_DUPLICATE = 1 };

/* SEEN_NEW when id is new (and now marked), SEEN_DUPLICATE, or SEEN_ERROR
 * on an I/O error (errno set).  The first mark on a host imports the
 * one-file-per-id store of earlier versions (STATE/seen/) and removes it. */
enum seen_mark seen_mark(const char *state_dir, const char *id, long ttl, time_t now);

/* Drops a mark, so a delivery that could not be acted on can be retried. */
void seen_forget(const char *state_dir, const char *id);

#endif
