/* wake: the front starting a drainer for a session.status_run_started.
 *
 * wake_drainer bumps the wake counter, then rings the doorbell of a
 * drainer already running (doorbell.h; WAKE_RUNNING), or, when nobody
 * listens, starts sandhook-drain detached
 * (double fork, setsid, every inherited descriptor closed, stderr the
 * drainer log, an environment without the request's CGI variables) and
 * returns a descriptor: the drainer makes no API call until it is closed,
 * i.e. until the HTTP response is finished, and listening on the doorbell
 * from the start (the front opened it).  -1 when the drainer could not
 * be started (its program missing, no log file), errno saying why.  At
 * most SANDHOOK_MAX_SESSIONS drainers run, and a drainer polls again when
 * the wake counter moved before it let its slot go, so no wake-up is lost:
 * the front locks a free slot and hands it to the drainer it starts; when
 * every slot is held, none is started (it would pay its start only to find
 * the slots taken) and WAKE_RUNNING is returned. */
#ifndef SANDHOOK_WAKE_H
#define SANDHOOK_WAKE_H

#include <time.h>

#include "common/config.h"

#define WAKE_RUNNING (-2)

int wake_drainer(const struct config *cfg);

/* The same for `sandhook-drain gc --session SID`, for a session that
 * ended (session.status_terminated, session.deleted): its storage goes. */
int wake_gc(const struct config *cfg, const char *session_id);

/* seen_grow (seen.h) in a detached process (double fork, setsid, stdin
 * and stdout /dev/null, stderr the log file), so neither the delivery that
 * filled a bucket nor the next ones on this worker's connections wait for
 * the table to double.  A failure to start it is logged. */
void wake_seen_grower(const struct config *cfg, time_t now);

#endif
