/* egress_relay: the jail's way out under SANDHOOK_JAIL_NETWORK=allowlist.
 *
 * The jail has its own network namespace with loopback alone.  The relay,
 * a child of the jail's PID 1 running as the jail uid under the jail's
 * filter, listens on 127.0.0.1:EGRESS_HTTP_PORT (HTTP proxy) and
 * 127.0.0.1:EGRESS_SOCKS_PORT (SOCKS5) and carries each connection, byte
 * for byte, to the egress proxy's Unix socket bound at EGRESS_SOCKET; the
 * proxy, outside, decides.  Tools find it through HTTP_PROXY, HTTPS_PROXY,
 * ALL_PROXY and NO_PROXY (egress_relay_env).  A tool's timeout kills every
 * process of the namespace, the relay too: egress_relay_ensure starts it
 * again before the next call. */
#ifndef SANDHOOK_EGRESS_RELAY_H
#define SANDHOOK_EGRESS_RELAY_H

#define EGRESS_SOCKET "/run/sandhook/egress.sock"
#define EGRESS_HTTP_PORT 3128
#define EGRESS_SOCKS_PORT 1080

/* Turns the relay on for this jail (the setup named a proxy socket). */
void egress_relay_enable(void);
/* Starts the relay unless it runs; 0, or -1 with errno. */
int egress_relay_ensure(void);
/* The proxy variables for the tools' environment (NULL-terminated), or
 * NULL when the relay is off. */
const char *const *egress_relay_env(void);

#endif
