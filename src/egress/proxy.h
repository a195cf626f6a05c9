/* proxy: the egress proxy's connections.  Each connection from the jail
 * (through its relay) is served by the thread that accepted it: its
 * request is read (request.h),
 * checked against the policy by name, resolved with the host's resolver
 * (or the operator's SANDHOOK_EGRESS_RESOLVE pins), checked again for each
 * address, connected to the first address that passes, and relayed both
 * ways until either side closes.  A refusal is answered in the request's
 * own protocol (an HTTP 403 whose status line and body say which policy
 * refused which host and which setting would allow it; SOCKS5 reply 2).
 * Every connection ends in one log line: the call in flight when it
 * opened (proxy_set_call), host, port, address, bytes each way, duration
 * and verdict. */
#ifndef SANDHOOK_PROXY_H
#define SANDHOOK_PROXY_H

#include "common/egress_policy.h"

struct proxy {
  struct egress_policy policy;
  int audit_fd;               /* >= 0: each connection also goes there, one JSON line */
  struct egress_pin *pins;    /* SANDHOOK_EGRESS_RESOLVE */
  size_t npins;
};

/* The tool_use_id connections opening from now on are charged to; NULL
 * or "" for none. */
void proxy_set_call(const char *tool_use_id);

/* Serves listen_fd; never returns (a failed accept ends the process). */
int proxy_serve(struct proxy *p, int listen_fd);

#endif
