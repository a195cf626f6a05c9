/* front: the two transports.  cgi_serve answers the one request of a CGI
 * process; fcgi_serve accepts on the listening socket on fd 0 until told to
 * stop or, with idle_s > 0, until no request came for idle_s seconds, and
 * rereads its settings on SIGHUP, between requests. */
#ifndef SANDHOOK_FRONT_H
#define SANDHOOK_FRONT_H

#include "front/responder.h"
#include "front/settings.h"

int cgi_serve(struct responder *r);
int fcgi_serve(struct responder *r, struct front_settings *s, int idle_s);
int fcgi_is_listening_socket(void);
/* Socket activation without StandardInput=socket: takes the one socket a
 * systemd-style activator passed on fd 3 (LISTEN_FDS) onto fd 0. */
int fcgi_adopt_systemd_socket(void);

#endif
