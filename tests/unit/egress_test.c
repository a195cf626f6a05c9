/* The egress policy: the entries an operator writes, the names and
 * literals a tool asks for, and the addresses they resolve to. */
#include "common/egress_policy.h"
#include "tap.h"

#include <arpa/inet.h>

static struct egress_policy pol;

static void
load(const char *allow, const char *deny)
{
  struct errmsg err = ERRMSG_INIT;

  egress_policy_free(&pol);
  ok(egress_policy_parse(&pol, allow, deny, &err) == 0, "parses allow '%s' deny '%s' %s", allow,
     deny ? deny : "", err.text);
}

static enum egress_verdict
name(const char *host, int port)
{
  return egress_check_name(&pol, host, port, NULL);
}

/* The whole decision for host resolving to addr. */
static enum egress_verdict
reach(const char *host, int port, const char *addr)
{
  const struct egress_rule *rule;
  struct sockaddr_storage sa;
  enum egress_verdict v = egress_check_name(&pol, host, port, &rule);

  memset(&sa, 0, sizeof(sa));
  if(inet_pton(AF_INET, addr, &((struct sockaddr_in *)&sa)->sin_addr) == 1)
    sa.ss_family = AF_INET;
  else if(inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&sa)->sin6_addr) == 1)
    sa.ss_family = AF_INET6;
  return v != EGRESS_OK ? v : egress_check_addr(&pol, rule, host, port, (struct sockaddr *)&sa);
}

static void
parsing(void)
{
  struct egress_policy p;
  struct errmsg err = ERRMSG_INIT;
  static const char *const bad[] = {
    "pypi.org:0", "pypi.org:65536", "pypi.org:http", "exa!mple.com", "a..b", "*.", "[::1",
    "[::1]x", "host:", "-.com:80:90", "x.com/path", "\"q\"",
  };
  size_t i;

  ok(egress_policy_parse(&p, "pypi.org, *.github.com:443 10.1.2.3 [2001:db8::1]:22 ::1",
                         "evil.pypi.org", &err) == 0 && p.nallow == 5 && p.ndeny == 1,
     "commas and spaces separate entries; names, wildcards, ports, IPv4 and IPv6");
  egress_policy_free(&p);
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ok(egress_policy_parse(&p, bad[i], NULL, &err) < 0 && strstr(err.text, "SANDHOOK_EGRESS_ALLOW"),
       "'%s' is refused, naming the setting: %s", bad[i], err.text);
    egress_policy_free(&p);
  }
  ok(egress_policy_parse(&p, NULL, "x..y", &err) < 0 && strstr(err.text, "SANDHOOK_EGRESS_DENY"),
     "a bad deny entry names SANDHOOK_EGRESS_DENY");
  egress_policy_free(&p);
}

static void
names(void)
{
  load("pypi.org files.pythonhosted.org:443 *.github.com registry.npmjs.org:443", "gist.github.com");
  is_int(name("pypi.org", 443), EGRESS_OK, "an allowed name, any port");
  is_int(name("PyPI.org.", 80), EGRESS_OK, "case and a trailing dot do not matter");
  is_int(name("files.pythonhosted.org", 443), EGRESS_OK, "an allowed name on its port");
  is_int(name("files.pythonhosted.org", 80), EGRESS_NOT_ALLOWED, "the same name on another port is not");
  is_int(name("api.github.com", 443), EGRESS_OK, "a subdomain matches the wildcard");
  is_int(name("a.b.github.com", 22), EGRESS_OK, "a deeper subdomain too");
  is_int(name("github.com", 443), EGRESS_NOT_ALLOWED, "the wildcard does not match the domain itself");
  is_int(name("evilgithub.com", 443), EGRESS_NOT_ALLOWED, "nor a name that only ends the same");
  is_int(name("gist.github.com", 443), EGRESS_DENIED, "deny wins over the wildcard");
  is_int(name("example.com", 443), EGRESS_NOT_ALLOWED, "a name nobody listed");
  is_int(name("exa mple.com", 443), EGRESS_BAD_NAME, "a name with a space is no name");
  is_int(name("pypi.org", 0), EGRESS_BAD_NAME, "port 0 is no port");
  is_int(name("127.0.0.1", 443), EGRESS_LITERAL, "an IP literal nobody listed");
  is_int(name("2130706433", 80), EGRESS_LITERAL, "the resolver's other forms of it too (2130706433)");
  is_int(name("0x7f.1", 80), EGRESS_LITERAL, "(0x7f.1)");
  is_int(name("[::1]", 80), EGRESS_LITERAL, "and IPv6 in brackets");
}

static void
addresses(void)
{
  load("pypi.org *.pythonhosted.org mirror.internal 10.9.8.7:8080 [fd00::5]", "203.0.113.9");
  is_int(reach("pypi.org", 443, "151.101.0.223"), EGRESS_OK, "a public address of an allowed name");
  is_int(reach("pypi.org", 443, "127.0.0.1"), EGRESS_OK,
         "a name the allowlist names itself may resolve to loopback");
  is_int(reach("files.pythonhosted.org", 443, "169.254.169.254"), EGRESS_NOT_PUBLIC,
         "a wildcard's name resolving to the metadata address is refused");
  is_int(reach("files.pythonhosted.org", 443, "10.0.0.1"), EGRESS_NOT_PUBLIC, "or to a private one");
  is_int(reach("files.pythonhosted.org", 443, "::ffff:127.0.0.1"), EGRESS_NOT_PUBLIC,
         "or to loopback inside IPv6");
  is_int(reach("files.pythonhosted.org", 443, "fe80::1"), EGRESS_NOT_PUBLIC, "or IPv6 link-local");
  is_int(reach("files.pythonhosted.org", 443, "2a04:4e42::223"), EGRESS_OK, "a public IPv6 address");
  is_int(reach("mirror.internal", 443, "192.168.1.10"), EGRESS_OK, "a named internal mirror");
  is_int(reach("10.9.8.7", 8080, "10.9.8.7"), EGRESS_OK, "an address the allowlist names, on its port");
  is_int(reach("10.9.8.7", 22, "10.9.8.7"), EGRESS_LITERAL, "not on another port");
  is_int(reach("[fd00::5]", 443, "fd00::5"), EGRESS_OK, "an IPv6 address the allowlist names");
  is_int(reach("pypi.org", 443, "203.0.113.9"), EGRESS_DENIED, "a deny entry naming the address wins");
}

static void
classes(void)
{
  static const struct { const char *addr, *class; } cases[] = {
    { "127.0.0.1", "loopback" }, { "169.254.169.254", "link-local" }, { "10.1.1.1", "private" },
    { "172.16.0.1", "private" }, { "172.32.0.1", NULL }, { "192.168.0.1", "private" },
    { "100.64.0.1", "shared" }, { "224.0.0.1", "multicast" }, { "0.0.0.0", "unspecified" },
    { "255.255.255.255", "reserved" }, { "8.8.8.8", NULL }, { "::1", "loopback" },
    { "::", "unspecified" }, { "fc00::1", "private" }, { "ff02::1", "multicast" },
    { "64:ff9b::a9fe:a9fe", "link-local" }, { "2001:db8::1", "documentation" },
    { "2606:4700::1111", NULL },
  };
  size_t i;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct sockaddr_storage sa;
    const char *got;

    egress_literal(cases[i].addr, &sa);
    got = egress_addr_class((struct sockaddr *)&sa);
    ok(cases[i].class ? got && !strcmp(got, cases[i].class) : !got, "%s is %s", cases[i].addr,
       cases[i].class ? cases[i].class : "public");
  }
}

int
main(void)
{
  parsing();
  names();
  addresses();
  classes();
  egress_policy_free(&pol);
  return tap_done();
}
