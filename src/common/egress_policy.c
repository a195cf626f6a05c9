#include "common/egress_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Lower case, no trailing dot, labels of [a-z0-9-] (and '_', which real
 * DNS names carry) of 1..63 bytes, at most 253 in all.  0, or -1. */
static int
normalize_name(const char *in, size_t len, char *out)
{
  size_t i, label = 0;

  if(len && in[len - 1] == '.')
    len--;
  if(len == 0 || len > EGRESS_HOST_MAX)
    return -1;
  for(i = 0; i < len; i++) {
    unsigned char c = (unsigned char)tolower((unsigned char)in[i]);

    if(c == '.') {
      if(label == 0)
        return -1;
      label = 0;
    }
    else if(isalnum(c) || c == '-' || c == '_') {
      if(++label > 63)
        return -1;
    }
    else
      return -1;
    out[i] = (char)c;
  }
  out[len] = '\0';
  return label == 0 ? -1 : 0;
}

int
egress_literal(const char *host, struct sockaddr_storage *sa)
{
  struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
  char buf[64];
  size_t n = strlen(host);

  memset(sa, 0, sizeof(*sa));
  /* inet_aton takes every form the resolver does: "127.1", "0x7f.1",
   * "2130706433". */
  if(inet_aton(host, &v4->sin_addr)) {
    v4->sin_family = AF_INET;
    return 1;
  }
  if(n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(buf)) {
    memcpy(buf, host + 1, n - 2);
    buf[n - 2] = '\0';
    host = buf;
  }
  if(inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    return 1;
  }
  return 0;
}

int
egress_parse_port(const char *s, size_t len, int *port)
{
  long v = 0;
  size_t i;

  if(len == 0 || len > 5)
    return -1;
  for(i = 0; i < len; i++) {
    if(!isdigit((unsigned char)s[i]))
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  if(v < 1 || v > 65535)
    return -1;
  *port = (int)v;
  return 0;
}

/* One entry: host, *.domain, a.b.c.d, [v6], each with an optional :port;
 * a bare IPv6 address (more than one ':') takes no port. */
static int
parse_entry(const char *s, size_t len, struct egress_rule *r)
{
  char host[EGRESS_HOST_MAX + 3];
  const char *colon = NULL;
  struct sockaddr_storage sa;
  size_t hl = len, i, ncolon = 0;

  memset(r, 0, sizeof(*r));
  for(i = 0; i < len; i++)
    if(s[i] == ':') {
      ncolon++;
      colon = s + i;
    }
  if(len && s[0] == '[') {
    const char *end = memchr(s, ']', len);

    if(!end)
      return -1;
    hl = (size_t)(end - s) + 1;
    if(hl < len && (s[hl] != ':' || egress_parse_port(s + hl + 1, len - hl - 1, &r->port) < 0))
      return -1;
  }
  else if(ncolon == 1) {
    hl = (size_t)(colon - s);
    if(egress_parse_port(colon + 1, len - hl - 1, &r->port) < 0)
      return -1;
  }
  if(hl == 0 || hl >= sizeof(host))
    return -1;
  memcpy(host, s, hl);
  host[hl] = '\0';
  if(egress_literal(host, &sa)) {
    r->family = sa.ss_family;
    if(sa.ss_family == AF_INET)
      memcpy(r->addr, &((struct sockaddr_in *)&sa)->sin_addr, 4);
    else
      memcpy(r->addr, &((struct sockaddr_in6 *)&sa)->sin6_addr, 16);
    /* For log lines: the address as written (a literal is short). */
    snprintf(r->host, sizeof(r->host), "%.64s", host);
    return 0;
  }
  if(hl > 2 && host[0] == '*' && host[1] == '.') {
    r->wildcard = 1;
    return normalize_name(host + 2, hl - 2, r->host);
  }
  return normalize_name(host, hl, r->host);
}

static int
parse_list(const char *name, const char *list, struct egress_rule **out, size_t *n,
           struct errmsg *err)
{
  const char *p = list;

  *out = NULL;
  *n = 0;
  while(p && *p) {
    size_t len;
    struct egress_rule *grown;

    p += strspn(p, ", \t\n");
    len = strcspn(p, ", \t\n");
    if(!len)
      break;
    grown = realloc(*out, (*n + 1) * sizeof(**out));
    if(!grown)
      return errmsg_set(err, "out of memory");
    *out = grown;
    if(parse_entry(p, len, &(*out)[*n]) < 0)
      return errmsg_set(err, "%s: '%.*s' is not an entry: write a host name (pypi.org), "
                        "*. and a domain (*.github.com), an IPv4 address or an IPv6 one in "
                        "brackets, each with an optional :port", name, (int)(len > 300 ? 300 : len), p);
    ++*n;
    p += len;
  }
  return 0;
}

int
egress_policy_parse(struct egress_policy *p, const char *allow, const char *deny,
                    struct errmsg *err)
{
  memset(p, 0, sizeof(*p));
  if(parse_list("SANDHOOK_EGRESS_ALLOW", allow, &p->allow, &p->nallow, err) < 0 ||
     parse_list("SANDHOOK_EGRESS_DENY", deny, &p->deny, &p->ndeny, err) < 0) {
    egress_policy_free(p);
    return -1;
  }
  return 0;
}

void
egress_policy_free(struct egress_policy *p)
{
  free(p->allow);
  free(p->deny);
  memset(p, 0, sizeof(*p));
}

static int
addr_equal(const struct egress_rule *r, const struct sockaddr_storage *a)
{
  if(!r->family || a->ss_family != r->family)
    return 0;
  return r->family == AF_INET ? !memcmp(r->addr, &((const struct sockaddr_in *)a)->sin_addr, 4)
                              : !memcmp(r->addr, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
}

/* name is normalized; lit (may be NULL) is the literal's address. */
static int
rule_matches(const struct egress_rule *r, const char *name, const struct sockaddr_storage *lit,
             int port)
{
  size_t n, h;

  if(r->port && r->port != port)
    return 0;
  if(lit || r->family)
    return lit && addr_equal(r, lit);
  if(!r->wildcard)
    return !strcmp(r->host, name);
  n = strlen(name);
  h = strlen(r->host);
  return n > h + 1 && name[n - h - 1] == '.' && !strcmp(name + n - h, r->host);
}

static const struct egress_rule *
find(const struct egress_rule *rules, size_t n, const char *name,
     const struct sockaddr_storage *lit, int port)
{
  size_t i;

  for(i = 0; i < n; i++)
    if(rule_matches(&rules[i], name, lit, port))
      return &rules[i];
  return NULL;
}

enum egress_verdict
egress_check_name(const struct egress_policy *p, const char *host, int port,
                  const struct egress_rule **rule)
{
  struct sockaddr_storage lit;
  char name[EGRESS_HOST_MAX + 1] = "";
  int is_lit = egress_literal(host, &lit);
  const struct egress_rule *allow;

  if(rule)
    *rule = NULL;
  if(port < 1 || port > 65535 || (!is_lit && normalize_name(host, strlen(host), name) < 0))
    return EGRESS_BAD_NAME;
  if(find(p->deny, p->ndeny, name, is_lit ? &lit : NULL, port))
    return EGRESS_DENIED;
  allow = find(p->allow, p->nallow, name, is_lit ? &lit : NULL, port);
  if(!allow)
    return is_lit ? EGRESS_LITERAL : EGRESS_NOT_ALLOWED;
  if(rule)
    *rule = allow;
  return EGRESS_OK;
}

/* An IPv4 address (network order bytes) against the special ranges. */
static const char *
v4_class(const unsigned char *a)
{
  if(a[0] == 0)
    return "unspecified";
  if(a[0] == 127)
    return "loopback";
  if(a[0] == 169 && a[1] == 254)
    return "link-local";
  if(a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168))
    return "private";
  if(a[0] == 100 && (a[1] & 0xc0) == 64)
    return "shared";
  if(a[0] >= 224 && a[0] <= 239)
    return "multicast";
  if(a[0] >= 240)
    return "reserved";
  if((a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2)) || (a[0] == 198 && (a[1] & 0xfe) == 18) ||
     (a[0] == 198 && a[1] == 51 && a[2] == 100) || (a[0] == 203 && a[1] == 0 && a[2] == 113))
    return "documentation";
  return NULL;
}

const char *
egress_addr_class(const struct sockaddr *sa)
{
  static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
  const unsigned char *a;

  if(sa->sa_family == AF_INET)
    return v4_class((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
  if(sa->sa_family != AF_INET6)
    return "reserved";
  a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
  if(!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12))
    return v4_class(a + 12);
  if(IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)a))
    return "unspecified";
  if(IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a))
    return "loopback";
  if(a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
    return "link-local";
  if((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0))
    return "private";
  if(a[0] == 0xff)
    return "multicast";
  if(a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
    return "documentation";
  if(!a[0] && !a[1] && !a[2] && !a[3] && !a[4] && !a[5] && !a[6] && !a[7] && !a[8] && !a[9] &&
     !a[10] && !a[11])
    return "reserved";                /* IPv4-compatible, deprecated */
  return NULL;
}

enum egress_verdict
egress_check_addr(const struct egress_policy *p, const struct egress_rule *rule, const char *host,
                  int port, const struct sockaddr *sa)
{
  struct sockaddr_storage a;
  char name[EGRESS_HOST_MAX + 1];

  memset(&a, 0, sizeof(a));
  memcpy(&a, sa, sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
  /* A deny entry naming the address itself wins too. */
  if(find(p->deny, p->ndeny, "", &a, port))
    return EGRESS_DENIED;
  if(!egress_addr_class(sa))
    return EGRESS_OK;
  /* Not public: only an entry naming this host (not a wildcard) or this
   * address lets it through. */
  if(rule && rule->family && addr_equal(rule, &a))
    return EGRESS_OK;
  if(rule && !rule->family && !rule->wildcard &&
     normalize_name(host, strlen(host), name) == 0 && !strcmp(rule->host, name))
    return EGRESS_OK;
  return EGRESS_NOT_PUBLIC;
}

const char *
egress_verdict_text(enum egress_verdict v)
{
  switch(v) {
  case EGRESS_OK: return "allowed";
  case EGRESS_DENIED: return "a SANDHOOK_EGRESS_DENY entry matches it";
  case EGRESS_NOT_ALLOWED: return "no SANDHOOK_EGRESS_ALLOW entry matches it";
  case EGRESS_LITERAL:
    return "an IP address is reached only when SANDHOOK_EGRESS_ALLOW names that address";
  case EGRESS_BAD_NAME: return "it is not a host name and port";
  case EGRESS_NOT_PUBLIC:
    return "it resolves to a non-public address (loopback, link-local, private, multicast or "
           "reserved), reached only when SANDHOOK_EGRESS_ALLOW names this host itself";
  }
  return "refused";
}

int
egress_pins_parse(const char *list, struct egress_pin **pins, size_t *n, struct errmsg *err)
{
  const char *s = list;

  *pins = NULL;
  *n = 0;
  while(s && *s) {
    size_t len, hl;
    const char *eq;
    struct egress_pin *grown;
    struct sockaddr_storage sa;

    s += strspn(s, ", \t\n");
    len = strcspn(s, ", \t\n");
    if(!len)
      break;
    eq = memchr(s, '=', len);
    hl = eq ? (size_t)(eq - s) : 0;
    if(!eq || hl == 0 || hl > EGRESS_HOST_MAX || len - hl - 1 == 0 || len - hl - 1 >= sizeof(grown->addr))
      goto bad;
    grown = realloc(*pins, (*n + 1) * sizeof(**pins));
    if(!grown)
      return errmsg_set(err, "out of memory");
    *pins = grown;
    grown += *n;
    memcpy(grown->addr, eq + 1, len - hl - 1);
    grown->addr[len - hl - 1] = '\0';
    if(normalize_name(s, hl, grown->host) < 0 || !egress_literal(grown->addr, &sa))
      goto bad;
    ++*n;
    s += len;
    continue;
bad:
    free(*pins);
    *pins = NULL;
    *n = 0;
    return errmsg_set(err, "SANDHOOK_EGRESS_RESOLVE: '%.*s' is not name=address (a host name, "
                      "then an IPv4 or IPv6 address)", (int)(len > 200 ? 200 : len), s);
  }
  return 0;
}
