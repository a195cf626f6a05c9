/* probe: what the responder answers besides webhooks, for monitoring.
 *
 * A GET (or HEAD) at SANDHOOK_METRICS_PATH (/sandhook/metrics) is the
 * Prometheus exposition (metrics.h); at SANDHOOK_HEALTH_PATH
 * (/sandhook/health) a small JSON answer, 200 while deliveries can be
 * taken, 503 with the reason while they cannot.  Any other GET is left to
 * the webhook path, which answers 405.  The web server decides who may
 * reach these locations (nginx/sandhook-metrics.conf). */
#ifndef SANDHOOK_PROBE_H
#define SANDHOOK_PROBE_H

#include "front/responder.h"

/* 1 when rq was a probe and has been answered, else 0. */
int probe_serve(struct responder *r, struct request *rq);

/* Rewrites SANDHOOK_METRICS_FILE when it is missing or older than ten
 * seconds: current enough for a scrape, and no write per delivery. */
void probe_refresh_file(const struct config *cfg);

#endif
