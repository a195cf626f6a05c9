/* The egress policy: an allow list, a deny list (the operator's), and the
 * host and port a tool asks the proxy for (the agent's, untrusted).
 * Whatever they hold: no crash, and a host an allow entry did not match
 * is never let through; a denied one never either. */
#include "fuzz.h"
#include "common/egress_policy.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = fuzz_str(data, size), *f[4];
  struct egress_policy p;
  struct errmsg err = ERRMSG_INIT;

  fuzz_fields(s, f, 4);
  if(egress_policy_parse(&p, f[0], f[1], &err) == 0) {
    const struct egress_rule *rule = NULL;
    int port = f[3] ? atoi(f[3]) : 443;
    enum egress_verdict v = egress_check_name(&p, f[2] ? f[2] : "", port, &rule);
    struct sockaddr_storage sa;

    FUZZ_ASSERT(v != EGRESS_OK || (rule && p.nallow > 0));
    FUZZ_ASSERT(egress_verdict_text(v) != NULL);
    if(v == EGRESS_OK && f[2] && egress_literal(f[2], &sa))
      FUZZ_ASSERT(egress_check_addr(&p, rule, f[2], port, (struct sockaddr *)&sa) != EGRESS_NOT_PUBLIC);
  }
  else
    FUZZ_ASSERT(err.text[0]);
  egress_policy_free(&p);
  free(s);
  return 0;
}
