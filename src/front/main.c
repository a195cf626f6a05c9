/* sandhook: a webhook-triggered environment worker for Claude Managed
 * Agents.  main only picks the mode; each mode lives in its own module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/errmsg.h"
#include "common/log.h"
#include "common/spawn.h"
#include "common/unconst.h"
#include "front/front.h"
#include "front/replay.h"
#include "front/responder.h"
#include "front/status.h"

#include <errno.h>
#include <limits.h>

/* "sandhook drain ARGS" is the drainer's own program, which alone links
 * the HTTP client: the front hands over, --config included. */
static int
exec_drain(const char *config_file, int argc, char **argv)
{
  const char *args[argc + 4];
  char prog[PATH_MAX];
  int n = 0, i;

  args[n++] = PROGRAM_DRAIN;
  if(config_file && !*config_file)
    args[n++] = "--no-config";
  else if(config_file) {
    args[n++] = "--config";
    args[n++] = config_file;
  }
  for(i = 0; i < argc; i++)
    args[n++] = argv[i];
  args[n] = NULL;
  if(spawn_program_path(PROGRAM_DRAIN, prog, sizeof(prog)) == 0)
    execv(prog, exec_args(args));
  fprintf(stderr, "sandhook: cannot run %s: %s\n", PROGRAM_DRAIN, strerror(errno));
  return 1;
}

/* A configuration that cannot work: one log line with the reason (stderr,
 * the web server's error log), a 503 for a CGI request, exit status 1. */
static int
refuse(const char *event, const struct errmsg *err)
{
  log_err(event, "error=%s", err->text);
  if(getenv("GATEWAY_INTERFACE"))
    printf("Status: 503 Service Unavailable\r\nContent-Type: application/json\r\n\r\n"
           "{\"status\":503,\"message\":\"sandhook is misconfigured; see the server log\"}\n");
  return 1;
}

static void
usage(FILE *f)
{
  fprintf(f,
          "usage: sandhook [--config FILE | --no-config] [--idle-exit SECONDS]\n"
          "       sandhook drain [--config FILE | --no-config]\n"
          "       sandhook check [--user NAME] [--config FILE | --no-config]\n"
          "       sandhook status [--json] [--config FILE | --no-config]\n"
          "       sandhook metrics [--config FILE | --no-config]\n"
          "       sandhook gc [--session SESSION_ID] [--config FILE | --no-config]\n"
          "       sandhook run [--config FILE | --no-config]\n"
          "       sandhook handle [--config FILE | --no-config]\n"
          "       sandhook audit verify FILE\n"
          "       sandhook replay [--config FILE] [--resign] [--dry-run] FILE...\n"
          "       sandhook -h | --help | -V | --version\n"
          "\n"
          "Run by a web server, sandhook is a FastCGI responder when fd 0 is a\n"
          "listening socket and a CGI program when GATEWAY_INTERFACE is set.\n"
          "It verifies Standard Webhooks deliveries and, on\n"
          "session.status_run_started, drains the environment's work queue,\n"
          "running each tool call in a jail.  'drain' runs the drainer in the\n"
          "foreground; 'run' is the always-on worker for sites without inbound\n"
          "HTTPS; 'handle' serves one item for 'ant beta:worker poll --on-work';\n"
          "'status' and 'metrics' show what runs; 'gc' removes idle sessions'\n"
          "storage; 'audit verify' checks the audit trail's chain; 'replay' sends\n"
          "captured requests through the same path as a live one.\n"
          "Settings are read from --config FILE, SANDHOOK_CONFIG\n"
          "or /etc/sandhook/sandhook.conf (not with --no-config), then the\n"
          "environment.  Every setting, log event and status: see sandhook(8).\n");
}

int
main(int argc, char **argv)
{
  struct front_settings fs = { NULL, { 0 } };
  int fcgi = 0, idle_exit = 0, replay_at = 0, nreplay = 0, i, status = 0, json = 0;
  struct responder r;
  struct errmsg err = ERRMSG_INIT;
  int rc;

  for(i = 1; i < argc; i++) {
    if(replay_at) {
      /* After "replay": its own options and files; --config still ours. */
      if(!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
        replay_usage(stdout);
        return 0;
      }
      if(!strcmp(argv[i], "--config") && i + 1 < argc)
        fs.file = argv[++i];
      else
        argv[replay_at + nreplay++] = argv[i];
      continue;
    }
    if(!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    if(!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
      printf("sandhook %s\n", PACKAGE_VERSION);
      return 0;
    }
    if(!strcmp(argv[i], "--config") && i + 1 < argc)
      fs.file = argv[++i];
    else if(!strcmp(argv[i], "--no-config"))
      fs.file = CONFIG_NO_FILE;
    else if(!strcmp(argv[i], "--idle-exit") && i + 1 < argc)
      idle_exit = atoi(argv[++i]);
    else if(!strcmp(argv[i], "drain"))
      return exec_drain(fs.file, argc - i - 1, argv + i + 1);
    else if(!strcmp(argv[i], "check") || !strcmp(argv[i], "gc") || !strcmp(argv[i], "run") ||
            !strcmp(argv[i], "handle") || !strcmp(argv[i], "audit"))
      return exec_drain(fs.file, argc - i, argv + i);
    else if(!strcmp(argv[i], "status") || !strcmp(argv[i], "metrics"))
      status = argv[i][0];
    else if(status == 's' && !strcmp(argv[i], "--json"))
      json = 1;
    else if(!strcmp(argv[i], "replay"))
      replay_at = i + 1;
    else {
      fprintf(stderr, "sandhook: unknown argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  log_init(replay_at ? "replay" : status ? "status" : "responder");
  if(settings_load(&fs, 0, &err) < 0)
    return refuse("config_invalid", &err);
  if(log_setup(&fs.cfg, 0) < 0)
    log_warn("log_unavailable", "error=%s hint=%s", strerror(errno),
             "check SANDHOOK_LOG, SANDHOOK_LOG_FILE and SANDHOOK_SYSLOG_SOCKET; logging to stderr");
  if(status)
    rc = status == 's' ? status_main(&fs.cfg, json) : metrics_main(&fs.cfg);
  else if(replay_at)
    rc = replay_main(&fs.cfg, nreplay, argv + replay_at);
  else if((fcgi = fcgi_adopt_systemd_socket() >= 0 && fcgi_is_listening_socket()) ||
          getenv("GATEWAY_INTERFACE")) {
    /* A responder that cannot verify or cannot drain would answer 202 to
     * what it will never do: Anthropic would not retry, the session would
     * wait.  It refuses to start instead (a CGI request gets a 503). */
    if(config_require(&fs.cfg, CONFIG_NEED_SIGNING | CONFIG_NEED_WORKER, &err) < 0) {
      config_free(&fs.cfg);
      return refuse("config_incomplete", &err);
    }
    responder_init(&r, &fs.cfg);
    rc = fcgi ? fcgi_serve(&r, &fs, idle_exit) : cgi_serve(&r);
  }
  else {
    /* Someone at a terminal: say why nothing is served, and what to run. */
    fprintf(stderr,
            "sandhook: not serving: fd 0 is not a listening socket (FastCGI) and\n"
            "GATEWAY_INTERFACE is not set (CGI), so no web server started this.\n"
            "Deploy it behind nginx or Apache (see sandhook(8) and the README's\n"
            "Deploy section); to drain the queue by hand run 'sandhook drain';\n"
            "to serve the queue without webhooks run 'sandhook run';\n"
            "to send a captured webhook run 'sandhook replay --resign FILE'.\n");
    rc = 2;
  }
  config_free(&fs.cfg);
  return rc;
}
