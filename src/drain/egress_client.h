/* egress_client: the drainer's side of SANDHOOK_JAIL_NETWORK=allowlist.
 *
 * egress_start makes the proxy's listening socket (STATE/run/egress.<pid>.<n>.sock,
 * one per jail of this drainer, whose threads serve several sessions at
 * once, each with its own proxy and session id;
 * owned by the jail uid, mode 0600: the jail's relay reaches it through a
 * bind mount, nothing else of the host's users can) and starts
 * sandhook-egress (src/egress/) on it with an environment of the policy
 * and the session id alone: no key, no token.  The proxy dies with the
 * drainer.  egress_call tells it which call opens connections from now
 * on; egress_stop ends it (after the jail, so no connection is cut short
 * by the host while a tool still runs) and removes the socket.  With
 * SANDHOOK_AUDIT_FILE, the proxy sends each connection's record back on
 * the control channel and a thread here appends it to the trail. */
#ifndef SANDHOOK_EGRESS_CLIENT_H
#define SANDHOOK_EGRESS_CLIENT_H

#include <limits.h>
#include <pthread.h>
#include <sys/types.h>

#include "common/config.h"

struct egress {
  pid_t pid;                    /* > 0 while a proxy runs; 0 in a zeroed struct: none */
  int ctl;
  char sock[PATH_MAX];          /* its path, for the jail's bind mount */
  pthread_t reader;             /* with SANDHOOK_AUDIT_FILE: the proxy's records to the trail */
  int reading;
};

/* 0 (e->pid > 0 when a proxy runs; none unless the policy is allowlist),
 * or -1 with errno. */
int egress_start(struct egress *e, const struct config *cfg, const char *session_id);
void egress_call(struct egress *e, const char *tool_use_id);
void egress_stop(struct egress *e);

#endif
