/* sandhook-drain: the drainer, the one program holding the environment key
 * and the session tokens.  The front starts it after answering a
 * session.status_run_started (--after-response: no API call until fd 3
 * closes, i.e. until the HTTP response is finished; --slot N: fd 4 is that
 * slot, locked by the front for it; --doorbell: fd 5 is the doorbell's
 * listening end, which the front opened); "sandhook drain" runs
 * it in the foreground. */
#include "common/config.h"
#include "common/errmsg.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "drain/check.h"
#include "drain/drain.h"
#include "drain/audit.h"
#include "drain/gc.h"
#include "drain/run.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef __SANITIZE_THREAD__
/* ./configure --enable-tsan: the drainer starts jails and shells with
 * clone (a copy of its memory under TSan, see spawn.c) while its other
 * threads run, which ThreadSanitizer takes for a fork and then stops the
 * next thread start. */
const char *__tsan_default_options(void);
const char *
__tsan_default_options(void)
{
  return "die_after_fork=0";
}
#endif

static void
usage(FILE *f)
{
  fprintf(f,
          "usage: sandhook drain [--config FILE | --no-config]\n"
          "       sandhook check [--user NAME] [--config FILE | --no-config]\n"
          "       sandhook gc [--session SESSION_ID] [--config FILE | --no-config]\n"
          "       sandhook run [--config FILE | --no-config]\n"
          "       sandhook handle [--config FILE | --no-config]\n"
          "       sandhook audit verify FILE\n"
          "\n"
          "Claims every work item of the environment's queue, one session at a\n"
          "time, runs its tool calls in a jail, and exits when the queue is empty.\n"
          "The web front starts it on session.status_run_started; run it by hand\n"
          "to drain the queue without a webhook.  'check' tests the settings, the\n"
          "control plane, the state directory and what the jail needs, one line\n"
          "each, and exits 1 when anything failed; with --user, as that user (run\n"
          "as root), for a service that runs as it.  'gc' removes the storage of the\n"
          "session named and of every session idle longer than\n"
          "SANDHOOK_WORKSPACE_KEEP_HOURS.  'run' is the always-on worker (no\n"
          "webhooks): SANDHOOK_MAX_SESSIONS workers long-poll the queue until\n"
          "SIGTERM.  'handle' serves the one item named by ANTHROPIC_WORK_ID and\n"
          "ANTHROPIC_SESSION_ID (ant beta:worker poll --on-work).  'audit verify'\n"
          "checks SANDHOOK_AUDIT_FILE's chain and names the first line changed,\n"
          "removed or moved.  Settings: see\n"
          "sandhook(8).\n");
}

int
main(int argc, char **argv)
{
  const char *config_file = NULL, *gc_sid = NULL, *verify = NULL, *slot = NULL, *user = NULL;
  int after_response = 0, check = 0, gc = 0, run = 0, handle = 0, bell = 0, i, rc;
  struct config cfg;
  struct errmsg err = ERRMSG_INIT;

  for(i = 1; i < argc; i++) {
    if(!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    if(!strcmp(argv[i], "--config") && i + 1 < argc)
      config_file = argv[++i];
    else if(!strcmp(argv[i], "--no-config"))
      config_file = CONFIG_NO_FILE;
    else if(!strcmp(argv[i], "--after-response"))
      after_response = 1;
    else if(!strcmp(argv[i], "--slot") && i + 1 < argc)
      slot = argv[++i];
    else if(!strcmp(argv[i], "--doorbell"))
      bell = 1;
    else if(!strcmp(argv[i], "check"))
      check = 1;
    else if(!strcmp(argv[i], "gc"))
      gc = 1;
    else if(!strcmp(argv[i], "run"))
      run = 1;
    else if(!strcmp(argv[i], "handle"))
      handle = 1;
    else if(!strcmp(argv[i], "audit") && i + 2 < argc && !strcmp(argv[i + 1], "verify")) {
      verify = argv[i + 2];
      i += 2;
    }
    else if(gc && !strcmp(argv[i], "--session") && i + 1 < argc)
      gc_sid = argv[++i];
    else if(check && !strcmp(argv[i], "--user") && i + 1 < argc)
      user = argv[++i];
    else {
      fprintf(stderr, "sandhook drain: unknown argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  /* Reads a file and nothing else: no settings needed. */
  if(verify)
    return audit_verify_main(verify);
  proctitle_init(argc, argv);
  log_init("drainer");
  /* Before the settings: whether that user can read its key files is a
   * check too. */
  if(user && check_become(user) < 0)
    return 1;
  if(config_load(&cfg, config_file, &err) < 0) {
    if(check) {
      printf("FAIL %-16s %s\nsandhook check: some checks failed\n", "settings", err.text);
      return 1;
    }
    log_err("config_invalid", "error=%s", err.text);
    return 1;
  }
  if(check) {
    rc = check_run(&cfg);
    config_free(&cfg);
    return rc;
  }
  if(log_setup(&cfg, after_response) < 0)
    log_warn("log_unavailable", "error=%s hint=%s", strerror(errno),
             "check SANDHOOK_LOG, SANDHOOK_LOG_FILE and SANDHOOK_SYSLOG_SOCKET; logging to stderr");
  if(after_response) {
    char c;

    while(read(3, &c, 1) < 0 && errno == EINTR)
      ;
    close(3);
  }
  if(gc)
    rc = gc_main(&cfg, gc_sid);
  else if(run)
    rc = run_main(&cfg);
  else if(handle)
    rc = handle_main(&cfg);
  else {
    /* The front's slot, as fd 4, when it locked one for us. */
    if(slot)
      drain_adopt_slot(&cfg, 4, slot);
    if(bell)
      drain_adopt_doorbell(5);
    proctitle_set("sandhook: drain polling");
    rc = drain_run(&cfg, DRAIN_QUEUE, NULL);
  }
  config_free(&cfg);
  return rc;
}
