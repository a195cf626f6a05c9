/* lease: the heartbeat that holds a claimed work item.
 *
 * lease_start starts the heartbeat thread, whose first beat (NO_HEARTBEAT)
 * claims the lease while the caller fetches the session, as the official
 * worker does: one round trip less before the first call.  lease_confirm
 * waits for that first verdict; nothing of the item's but that fetch
 * happens before it says held.  The thread then beats every clamp(ttl/2,
 * 1 s, 30 s), echoing the server's last_heartbeat, so a beat is never late
 * because a tool is slow.  It uses an HTTP handle of the heartbeats'
 * alone, which the drainer keeps from one item to the next, so each
 * item's first beat goes on a kept connection (in production, no TLS
 * handshake a session).
 * The verdict is read with lease_state:
 * LOST (412, a fatal 4xx, or no success within the TTL: the item is no
 * longer ours, so no stop) or STOP (the server says stopping/stopped or did
 * not extend: force-stop at once). */
#ifndef SANDHOOK_LEASE_H
#define SANDHOOK_LEASE_H

#include <pthread.h>

#include "drain/api.h"
#include "drain/queue.h"

enum lease_state { LEASE_HELD, LEASE_LOST, LEASE_STOP };

struct lease {
  struct api *api;        /* the caller's, this lease's alone until lease_end */
  const struct work_item *item;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int running, quit, first_done;
  enum lease_state state;
  char last[96];
  long ttl_ms, interval_ms;
  long long last_ok_ms;
  volatile sig_atomic_t cancel;
};

/* lease_start returns 0 when the thread runs, -1 when it could not start
 * (the lease counts as lost).  lease_confirm returns 0 once the first
 * heartbeat held the lease, -1 when it did not (lease_state says why). */
int lease_start(struct lease *l, struct api *api, const struct work_item *item);
int lease_confirm(struct lease *l);
enum lease_state lease_state(struct lease *l);
long lease_ttl_ms(struct lease *l);
/* A heartbeat's ttl_seconds in milliseconds, at most a day; 0 for anything
 * that is not a positive number. */
long lease_ttl_from_json(const cJSON *v);
void lease_end(struct lease *l);

#endif
