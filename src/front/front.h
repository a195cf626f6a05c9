/* front: the two transports.  cgi_serve answers the one request of a CGI
 * process; fcgi_serve accepts on the listening socket on fd 0 until told to
 * stop or, with idle_s > 0, until no request came for idle_s seconds, and
 * rereads its settings on SIGHUP, between requests: in this process when
 * SANDHOOK_FCGI_WORKERS is 1, else in a pool of that many (pool.h). */
#ifndef SANDHOOK_FRONT_H
#define SANDHOOK_FRONT_H

#include "front/responder.h"
#include "front/settings.h"

int cgi_serve(struct responder *r);
int fcgi_serve(struct responder *r, struct front_settings *s, int idle_s);
/* The accept loop of one process.  A pool's worker passes activity, where
 * it stores the time of each request served (the pool judges idleness,
 * idle_s is then 0); a lone responder passes NULL. */
int fcgi_worker(struct responder *r, struct front_settings *s, int idle_s, long long *activity);
int fcgi_is_listening_socket(void);
/* Socket activation without StandardInput=socket: takes the one socket a
 * systemd-style activator passed on fd 3 (LISTEN_FDS) onto fd 0. */
int fcgi_adopt_systemd_socket(void);

#endif
