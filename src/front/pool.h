/* pool: the FastCGI responder as a prefork pool, four workers per CPU by
 * default (SANDHOOK_FCGI_WORKERS), all accepting on the listening socket.
 *
 * The master serves nothing.  It starts the workers, starts again one that
 * dies (at most once a second), forwards SIGHUP (each worker rereads its
 * settings) and SIGTERM (each finishes the request it serves), and with
 * idle_s > 0 stops the pool when no worker has served a request for that
 * long: nothing runs between webhooks.  A worker whose master is gone
 * stops (PR_SET_PDEATHSIG).  Returns the process's exit status. */
#ifndef SANDHOOK_POOL_H
#define SANDHOOK_POOL_H

#include "front/responder.h"
#include "front/settings.h"

int pool_run(struct responder *r, struct front_settings *s, int idle_s, int workers);

#endif
