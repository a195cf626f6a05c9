/* doorbell: run/doorbell (statedir.h), a FIFO by which the front hands a
 * webhook's wake-up to a queue drainer already running, instead of paying
 * for the start of another.
 *
 * A queue drainer listens on it while it runs: each ring asks it to serve
 * one more slot at once, on a thread of its own, up to
 * SANDHOOK_MAX_SESSIONS.  The front rings it after bumping the wake
 * counter; when nobody listens it starts a drainer as before and hands it
 * the listening end it opened, so the webhooks right behind ring instead
 * of each starting a drainer of their own.  A ring is a hint, and may be
 * dropped (every slot busy, the drainer on its way out): what makes sure
 * no wake-up is lost is the counter (drain.h). */
#ifndef SANDHOOK_DOORBELL_H
#define SANDHOOK_DOORBELL_H

/* The front's side: 0 when a drainer listens and was rung (or has rings
 * pending it has not read yet), -1 with errno (ENXIO or ENOENT: nobody
 * listens). */
int doorbell_ring(const char *state_dir);

/* The listening end, made first if missing: a descriptor (non-blocking,
 * close-on-exec), or -1 with errno. */
int doorbell_open(const char *state_dir);

/* The drainer's side.  given is a listening end the front handed over, or
 * -1; one that is not run/doorbell's (replaced meanwhile) is closed and
 * another opened.  The bell holds a writing end too, so that poll never
 * sees the FIFO hang up between rings. */
struct doorbell {
  int rd, keep;
};

int doorbell_listen(struct doorbell *b, const char *state_dir, int given);
/* Reads every pending ring: their count, 0 when none. */
int doorbell_rings(struct doorbell *b);
/* Stops listening: rings from now on find nobody (the front starts a
 * drainer); rings not read yet are dropped. */
void doorbell_close(struct doorbell *b);

#endif
