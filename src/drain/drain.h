/* drain: claim and serve the work queue.
 *
 * At most SANDHOOK_MAX_SESSIONS items are served at once on the host, each
 * in a slot (a lock file, see statedir.h), which the front may have locked
 * for the drainer it starts; a drainer that finds every slot taken exits
 * at once.  A queue drainer serves each slot on a thread of its own: it
 * starts with one, and takes another for each ring of its doorbell
 * (doorbell.h) while a slot is free, so a burst of webhooks costs one
 * process start, not one each.  A slot's thread polls until the queue is
 * empty; before it lets the slot go for good, it polls again if the wake
 * counter moved since its last poll, and so does the drainer after it
 * stopped listening: a webhook that found every slot taken, or rang as the
 * drainer left, is not lost.  drain_run returns the process exit status. */
#ifndef SANDHOOK_DRAIN_H
#define SANDHOOK_DRAIN_H

#include "common/config.h"
#include "drain/queue.h"

/* DRAIN_QUEUE drains and exits (the webhook's drainer, sandhook drain);
 * DRAIN_FOREVER long-polls and serves until SIGTERM (a worker of sandhook
 * run), and returns DRAIN_SLOTS_BUSY when it found no free slot;
 * DRAIN_ONE serves the one item given, already acknowledged (sandhook
 * handle), in a slot when one is free. */
enum drain_mode { DRAIN_QUEUE, DRAIN_FOREVER, DRAIN_ONE };
#define DRAIN_SLOTS_BUSY 75
#define RUN_POLL_BLOCK_MS 999L
#define RUN_IDLE_LOG_MS 60000L

int drain_run(const struct config *cfg, enum drain_mode mode, struct work_item *one);

/* fd is slot index_text, locked by the front that started us: drain_run
 * serves in it first.  0, or -1 (logged, fd closed) when fd is not that
 * slot's file or its lock is not ours; drain_run then finds a slot. */
int drain_adopt_slot(const struct config *cfg, int fd, const char *index_text);
/* fd is the doorbell's listening end, opened by the front that started us:
 * a DRAIN_QUEUE drain_run listens on it (one that is not the doorbell is
 * closed, and the drainer opens its own). */
void drain_adopt_doorbell(int fd);

#endif
