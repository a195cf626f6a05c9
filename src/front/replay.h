/* replay: "sandhook replay [--resign] [--dry-run] FILE...".
 *
 * Each file (a capture, or a hand-written raw HTTP/1.1 request) goes
 * through responder_serve, exactly the path a live request takes, and one
 * line per file says the status and what happened.  By default a request is
 * verified as captured, so a stale capture fails the timestamp check and
 * says so; --resign signs it again with the local key and the current time;
 * --dry-run verifies and parses without marking it seen or claiming work.
 * The exit status is 0 when every file got a 2xx. */
#ifndef SANDHOOK_REPLAY_H
#define SANDHOOK_REPLAY_H

#include "common/config.h"

#include <stdio.h>

int replay_main(const struct config *cfg, int argc, char **argv);
void replay_usage(FILE *f);

#endif
