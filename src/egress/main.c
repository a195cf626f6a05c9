/* sandhook-egress: the egress proxy of one jail, for
 * SANDHOOK_JAIL_NETWORK=allowlist.  The drainer starts it beside the jail
 * with the listening Unix socket (bound into the jail, where the jail's
 * relay reaches it) on fd 0 and a control channel on fd 3: one line per
 * change of the call in flight ("call <tool_use_id>", "call" for none).
 * Its environment carries the policy and nothing secret:
 * SANDHOOK_EGRESS_ALLOW, SANDHOOK_EGRESS_DENY, SANDHOOK_EGRESS_RESOLVE,
 * SANDHOOK_SESSION_ID, SANDHOOK_LOG_FORMAT, and SANDHOOK_EGRESS_AUDIT when each
 * connection's record should also go back on the control channel ("audit
 * <json>" lines, for the drainer's audit trail).  It drops to --uid/--gid and
 * its own syscall filter before it accepts, and exits when the control
 * channel closes (the drainer ended the jail, or died). */
#include "common/errmsg.h"
#include "common/log.h"
#include "common/pump.h"
#include "egress/proxy.h"
#include "egress/sandbox.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONTROL_FD 3

static void
control_line(char *line, void *ctx)
{
  (void)ctx;
  if(!strncmp(line, "call", 4))
    proxy_set_call(line[4] == ' ' ? line + 5 : NULL);
}

static void *
control(void *arg)
{
  (void)arg;
  read_lines(CONTROL_FD, control_line, NULL);
  log_info("egress_stopped", "reason=%s", "the drainer closed the control channel");
  _exit(0);
}

int
main(int argc, char **argv)
{
  struct proxy p = { .audit_fd = -1 };
  struct errmsg err = ERRMSG_INIT;
  unsigned uid = 65534, gid = 65534;
  const char *fmt = getenv("SANDHOOK_LOG_FORMAT");
  pthread_t t;
  int i;

  log_init("egress");
  log_set_json(fmt && !strcmp(fmt, "json"));
  for(i = 1; i + 1 < argc; i += 2) {
    if(!strcmp(argv[i], "--uid"))
      uid = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if(!strcmp(argv[i], "--gid"))
      gid = (unsigned)strtoul(argv[i + 1], NULL, 10);
  }
  log_ids(NULL, getenv("SANDHOOK_SESSION_ID"));
  if(getenv("SANDHOOK_EGRESS_AUDIT"))
    p.audit_fd = CONTROL_FD;
  signal(SIGPIPE, SIG_IGN);
  if(egress_policy_parse(&p.policy, getenv("SANDHOOK_EGRESS_ALLOW"), getenv("SANDHOOK_EGRESS_DENY"), &err) < 0 ||
     egress_pins_parse(getenv("SANDHOOK_EGRESS_RESOLVE"), &p.pins, &p.npins, &err) < 0) {
    log_err("egress_config_invalid", "error=%s", err.text);
    return 2;
  }
  if(sandbox_enter(uid, gid) < 0) {
    log_err("egress_sandbox_failed", "errno=%d error=%s", errno, strerror(errno));
    return 1;
  }
  if(log_thread_create(&t, NULL, control, NULL) != 0) {
    log_err("egress_start_failed", "errno=%d", errno);
    return 1;
  }
  log_info("egress_started", "allow_entries=%zu deny_entries=%zu pins=%zu", p.policy.nallow,
           p.policy.ndeny, p.npins);
  return proxy_serve(&p, STDIN_FILENO);
}
