/* run: the always-on worker, for sites that take no inbound HTTPS.
 *
 * `sandhook run` keeps SANDHOOK_MAX_SESSIONS workers, each a drainer in
 * DRAIN_FOREVER mode holding one slot: it long-polls the queue and serves
 * each item exactly as the webhook's drainer does.  A worker that exits
 * is started again after a pause that doubles up to a minute (reset once
 * one ran for a minute), so a revoked key does not spin; SIGTERM or SIGINT
 * is passed to every worker, which answers its call in flight and stops
 * its item, and run exits when all have.
 *
 * `sandhook handle` serves one item another poller claimed and acked
 * (`ant beta:worker poll --on-work`): ANTHROPIC_WORK_ID and
 * ANTHROPIC_SESSION_ID name it, ANTHROPIC_WORK_SECRET (or
 * ANTHROPIC_WORK_SECRET_FILE, or the work item's JSON on stdin, as the CLI
 * passes it) carries its secret.  Both return the exit status. */
#ifndef SANDHOOK_RUN_H
#define SANDHOOK_RUN_H

#include "common/config.h"

int run_main(const struct config *cfg);
int handle_main(const struct config *cfg);

#endif
