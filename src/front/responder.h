/* responder: one webhook request, whatever the transport.
 *
 * The front ends (cgi.c, fcgi.c) map their transport onto struct request;
 * responder_serve verifies, drops duplicates, starts the drainer for
 * session.status_run_started, writes the answer and finishes the HTTP
 * response, and only then lets the drainer make its first API call. */
#ifndef SANDHOOK_RESPONDER_H
#define SANDHOOK_RESPONDER_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "common/config.h"
#include "front/webhook.h"

struct request {
  void *ctx;
  const char *(*param)(void *ctx, const char *name);
  char **(*params)(void *ctx);          /* every NAME=value, for capture */
  ssize_t (*read)(void *ctx, void *buf, size_t n);
  int (*write)(void *ctx, const char *data, size_t n);
  void (*finish)(void *ctx);
};

struct responder {
  const struct config *cfg;
  struct wh_key keys[WEBHOOK_KEYS_MAX];   /* the current key, then the previous one */
  int nkeys;
  int replaying;        /* sandhook replay: the request was captured already */
  int dry_run;          /* replay --dry-run: no duplicate mark, no drain either */
  time_t (*now)(void);
  long long state_seen_ms;      /* when state_why was last looked at (monotonic) */
  const char *state_why;        /* statedir_unusable's verdict then */
  const char *audit_why;        /* and whether the audit trail could be opened */
  int audit_errno;
};

struct reply {
  int status;
  const char *allow;          /* Allow header for 405 */
  char message[160];
  int start_drain;
  int start_gc;               /* the session ended: remove its storage */
  struct wh_event ev;
};

void responder_init(struct responder *r, const struct config *cfg);

/* Decides the answer without side effects beyond the duplicate store. */
void responder_handle(struct responder *r, struct request *rq, struct reply *rep);

/* Why no delivery can be taken now, or NULL: the state directory's
 * filesystem (statedir_unusable); with drain set, also a delivery that
 * would start a drainer: its audit trail (SANDHOOK_AUDIT_FILE), without
 * which it serves nothing, cannot be opened.  Looked at once a second;
 * the reason is a fixed sentence. */
const char *responder_unusable(struct responder *r, int drain);

/* The whole request; rep (may be NULL) receives the answer given. */
void responder_serve(struct responder *r, struct request *rq, struct reply *rep);

#endif
