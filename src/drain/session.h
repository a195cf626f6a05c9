/* session: serve one claimed session until it ends.
 *
 * With the session fetched, opens the event stream (its own thread and HTTP
 * handle, reconnecting with 0.5 s to 10 s backoff), lists the history after
 * every (re)connect and reconciles by event id, applies the permission gate
 * and the ownership rule, runs calls one at a time in the session's jail and
 * posts exactly one user.tool_result per executed call.  Ends on
 * session.status_terminated / session.deleted, the end_turn idle timeout,
 * a fatal stream error, the lease's verdict, or *term. */
#ifndef SANDHOOK_SESSION_H
#define SANDHOOK_SESSION_H

#include <cjson/cJSON.h>
#include <signal.h>

#include "drain/api.h"
#include "drain/lease.h"
#include "drain/queue.h"
#include "common/runstate.h"

enum session_end {
  SESSION_DONE,       /* force-stop the item */
  SESSION_LOST,       /* the lease is gone: no stop, poll again */
  SESSION_TERM,       /* SIGTERM: stop the item and exit */
};

/* The permission gate, failing closed as the official worker does: the
 * field absent or "allow" runs, "deny" never runs, and "ask", an explicit
 * null or any other value waits for a user.tool_confirmation. */
enum gate { GATE_RUN, GATE_DENY, GATE_HOLD };
enum gate permission_gate(const cJSON *tool_use);

/* The session's record (GET /v1/sessions/{id}), which the drainer fetches
 * while the item's first heartbeat is in flight (lease.h): the parsed
 * body, or NULL with *status the HTTP status (0: no answer; -1: an id not
 * safe to put in a path, nothing sent).
 * session_run takes over record and status, session_fetch's answer.
 * rs: this drainer's status (runstate.h), which shows the call in flight.
 * released(ctx, end) is called once, with what session_run returns, as
 * soon as nothing more of the session can reach the control plane (its
 * stream closed, its jail told to end), before the jail's end is waited
 * for: the caller stops the item there, and the stop waits for nothing
 * local (the jail's namespaces and workspace mount take milliseconds to
 * go).  A session with memory stores is released after its memory folder,
 * which its next item would make again under the same name, is gone.
 * *ended is set when the session itself ended (terminated or deleted) and
 * no process of its jail is left: its storage is then the caller's to
 * remove. */
cJSON *session_fetch(struct api *api, const struct work_item *item, long *status);
enum session_end session_run(const struct config *cfg, struct api *api,
                             struct lease *lease, const struct work_item *item, cJSON *record,
                             long status, struct runstate *rs,
                             const volatile sig_atomic_t *term,
                             void (*released)(void *ctx, enum session_end end), void *ctx,
                             int *ended);

#endif
