/* egress_policy: which host a tool in the jail may reach, for
 * SANDHOOK_JAIL_NETWORK=allowlist.
 *
 * SANDHOOK_EGRESS_ALLOW and SANDHOOK_EGRESS_DENY are lists (commas or
 * spaces) of entries: a host name ("pypi.org"), a wildcard for its
 * subdomains ("*.github.com", which does not match github.com itself), an
 * IPv4 address or an IPv6 one in brackets, each with an optional ":port"
 * (any port without).  Names compare case-insensitively, without a
 * trailing dot.  A deny entry wins over any allow entry.
 *
 * The decision has two steps, because a name is only as good as what it
 * resolves to: egress_check_name before resolving (the name or literal
 * against the lists), egress_check_addr for each address it resolved to,
 * on the address actually connected to, so that no DNS answer can move a
 * connection from what was checked (no rebinding race).  An address that
 * is not public (loopback, link-local such as cloud metadata at
 * 169.254.169.254, private, shared, multicast, reserved; IPv4 inside IPv6
 * by what it embeds) is refused unless the allow entry that matched names
 * that very host or that very address, not a wildcard. */
#ifndef SANDHOOK_EGRESS_POLICY_H
#define SANDHOOK_EGRESS_POLICY_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/errmsg.h"

#define EGRESS_HOST_MAX 253

struct egress_rule {
  char host[EGRESS_HOST_MAX + 1];   /* lower case; the part after "*." for a wildcard */
  int wildcard;
  int port;                         /* 0: any */
  int family;                       /* AF_INET / AF_INET6 for an address entry, else 0 */
  unsigned char addr[16];
};

struct egress_policy {
  struct egress_rule *allow, *deny;
  size_t nallow, ndeny;
};

/* Parses both lists (either may be NULL or empty).  0, or -1 with a
 * message naming the setting and the entry. */
int egress_policy_parse(struct egress_policy *p, const char *allow, const char *deny,
                        struct errmsg *err);
void egress_policy_free(struct egress_policy *p);

enum egress_verdict {
  EGRESS_OK,
  EGRESS_DENIED,          /* a deny entry matched */
  EGRESS_NOT_ALLOWED,     /* no allow entry matched */
  EGRESS_LITERAL,         /* an IP literal no allow entry names */
  EGRESS_BAD_NAME,        /* not a host name at all */
  EGRESS_NOT_PUBLIC,      /* resolved to a non-public address the entry does not name */
};

/* The name (or literal) and port asked for.  On EGRESS_OK *rule (may be
 * NULL) is the allow entry that matched, for egress_check_addr. */
enum egress_verdict egress_check_name(const struct egress_policy *p, const char *host, int port,
                                      const struct egress_rule **rule);

/* One address the name resolved to (or the literal itself). */
enum egress_verdict egress_check_addr(const struct egress_policy *p, const struct egress_rule *rule,
                                      const char *host, int port, const struct sockaddr *sa);

/* "loopback", "link-local", "private", "shared", "multicast", "reserved",
 * "unspecified", "documentation", or NULL for a public address. */
const char *egress_addr_class(const struct sockaddr *sa);

/* SANDHOOK_EGRESS_RESOLVE: "name=address" entries (commas or spaces
 * between) that the proxy uses instead of the resolver, to pin a name to
 * an internal mirror.  0, or -1 with a message. */
struct egress_pin {
  char host[EGRESS_HOST_MAX + 1];
  char addr[64];
};
int egress_pins_parse(const char *list, struct egress_pin **pins, size_t *n, struct errmsg *err);

/* "1".."65535" exactly (len bytes): 0 with *port, or -1. */
int egress_parse_port(const char *s, size_t len, int *port);

/* One sentence for a refusal, naming the setting that would allow it. */
const char *egress_verdict_text(enum egress_verdict v);

/* Whether host is an IP literal in any form the resolver would take as
 * one ("127.1", "0x7f000001", "::1"); its address in sa when it is. */
int egress_literal(const char *host, struct sockaddr_storage *sa);

#endif
