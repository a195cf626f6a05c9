/* jail_client: the drainer's side of the per-work-item jail, and the
 * channel to it.
 *
 * jail_open starts the jail helper, sandhook-jail (src/jail/), with an
 * empty environment and only its end of a socketpair, so no key or token is
 * ever in the jail's memory; it dies with the drainer.  The layers the
 * helper builds are described once, in the README's "Security model"; the
 * drainer adds the cgroup (memory, pids and CPU limits, where the machine
 * has them) and the workspace image.  Killing the helper ends every process
 * in the jail. */
#ifndef SANDHOOK_JAIL_CLIENT_H
#define SANDHOOK_JAIL_CLIENT_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <sys/types.h>

#include "drain/cgroup.h"
#include "common/config.h"
#include "common/frame.h"
#include "drain/egress_client.h"
#include "drain/workspace.h"


struct jail {
  pid_t pid;
  int fd;
  char root[4096];
  struct cgroup cg;
  struct workspace ws;
  struct egress egress;         /* allowlist: the jail's proxy */
};

/* Prepares STATE/sessions/<sid>/workspace (owned by the jail uid) and starts
 * the jail process.  memdir, when not NULL, is bound at /mnt/memory, with the
 * stores named in ro_stores (comma-separated paths below it) read-only.
 * While the helper builds the jail, abort(ctx) is asked every 100 ms; when
 * it says so the helper is killed and -1 returned with ECANCELED. */
int jail_open(struct jail *j, const struct config *cfg, const char *session_id,
              const char *work_id, const char *memdir, const char *ro_stores,
              int (*abort)(void *), void *ctx);

enum jail_rc { JAIL_OK = 0, JAIL_ABORTED = 1, JAIL_FAILED = -1 };

/* Runs one tool call; *result gets {"is_error":..,"content":[..]}, the
 * caller's to cJSON_Delete (NULL unless JAIL_OK).  Waits up
 * to wall_ms, polling abort(ctx) every 100 ms; on abort or timeout the jail
 * is killed (JAIL_ABORTED / JAIL_FAILED) and must be reopened. */
enum jail_rc jail_call(struct jail *j, const char *tool, const cJSON *input,
                       long timeout_ms, long wall_ms, int (*abort_fn)(void *),
                       void *ctx, cJSON **result);

/* Sends any request (frame.h), passing descriptor fd along when fd >= 0,
 * and waits like jail_call; the drainer's skill and memory-store
 * operations go this way.  req and fd stay the caller's. */
enum jail_rc jail_request(struct jail *j, cJSON *req, int fd, long wall_ms,
                     int (*abort_fn)(void *), void *ctx, cJSON **result);

/* Tells the jail to end (the helper sees its channel close and ends its
 * namespace) without waiting for it. */
void jail_hangup(struct jail *j);
/* Ends the jail: 0 once no process of it is left (the namespace's end or
 * an emptied cgroup says so), -1 when that could not be confirmed, and the
 * host must then leave the trees the agent could write alone. */
int jail_close(struct jail *j);

#endif
