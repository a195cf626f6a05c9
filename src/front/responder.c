#include "front/responder.h"
#include "front/capture.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "front/wake.h"
#include "common/log.h"
#include "front/seen.h"
#include "front/probe.h"
#include "common/metrics.h"
#include "common/runstate.h"
#include "common/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static time_t
wall_now(void)
{
  return time(NULL);
}

void
responder_init(struct responder *r, const struct config *cfg)
{
  memset(r, 0, sizeof(*r));
  r->cfg = cfg;
  r->now = wall_now;
  if(cfg->signing_key && webhook_key_decode(cfg->signing_key, &r->keys[0]) == 0) {
    r->nkeys = 1;
    if(cfg->signing_key_previous &&
       webhook_key_decode(cfg->signing_key_previous, &r->keys[1]) == 0)
      r->nkeys = 2;
  }
  else if(cfg->signing_key)
    log_err("config_invalid", "reason=%s", "ANTHROPIC_WEBHOOK_SIGNING_KEY is not valid base64");
  /* Counting is best effort: a state directory this user cannot write
   * (fcgiwrap as www-data) still verifies and answers. */
  if(metrics_open(cfg->state_dir) < 0)
    log_debug("metrics_unavailable", "error=%s", strerror(errno));
  runstate_record_errors(cfg->state_dir);
}

static void
set_reply(struct reply *rep, int status, const char *msg)
{
  rep->status = status;
  snprintf(rep->message, sizeof(rep->message), "%s", msg);
}

/* Strict CONTENT_LENGTH: digits only; nginx always sends it for a buffered
 * body, and a body without it is read to EOF under the same cap. */
static int
parse_length(const char *s, size_t *out)
{
  size_t v = 0;

  if(!s || !*s)
    return 1;
  for(; *s; s++) {
    if(*s < '0' || *s > '9' || v > (SIZE_MAX - 9) / 10)
      return -1;
    v = v * 10 + (size_t)(*s - '0');
  }
  *out = v;
  return 0;
}

/* Reads the body into a buffer of max+1 bytes so an over-long body is seen
 * without trusting the declared length. */
static char *
read_body(struct request *rq, size_t max, size_t want, int have_len,
          size_t *got, int *too_big)
{
  char *buf = malloc(max + 1);
  size_t len = 0;

  *too_big = 0;
  if(!buf)
    return NULL;
  while(len < max + 1 && (!have_len || len < want)) {
    ssize_t n = rq->read(rq->ctx, buf + len, max + 1 - len);

    if(n < 0) {
      free(buf);
      return NULL;
    }
    if(n == 0)
      break;
    len += (size_t)n;
  }
  if(len > max)
    *too_big = 1;
  *got = len;
  return buf;
}

/* Whether the drainer could open its audit trail as audit_open does
 * (read-write, appending, never through a symlink) or make it: NULL, or
 * the reason, errno kept in *err. */
static const char *
audit_unusable(const char *path, int *err)
{
  char dir[PATH_MAX];
  int fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);

  if(fd >= 0) {
    close(fd);
    return NULL;
  }
  *err = errno;
  if(errno == ENOENT) {
    snprintf(dir, sizeof(dir), "%s", path);
    path_parent(dir);
    if(access(dir, W_OK | X_OK) == 0)
      return NULL;
    *err = errno;
  }
  return "the audit trail (SANDHOOK_AUDIT_FILE) cannot be opened for appending, and the drainer "
         "serves nothing without it";
}

/* Looked at once a second by a process that serves many webhooks: a disk
 * that fills is refused a second late, where a statvfs of every webhook
 * was a tenth of the front's system calls. */
const char *
responder_unusable(struct responder *r, int drain)
{
  long long now = now_ms();

  if(!r->state_seen_ms || now - r->state_seen_ms >= 1000) {
    r->state_why = statedir_unusable(r->cfg->state_dir);
    r->audit_why = r->cfg->audit_file ? audit_unusable(r->cfg->audit_file, &r->audit_errno) : NULL;
    r->state_seen_ms = now;
  }
  return r->state_why ? r->state_why : drain ? r->audit_why : NULL;
}

/* Writes the capture, once, before anything is verified. */
static void
capture(struct responder *r, struct request *rq, const char *body, size_t len)
{
  char path[4096];

  if(!r->cfg->capture_dir || r->replaying)
    return;
  if(capture_write(r->cfg->capture_dir, rq, body, len, r->cfg->capture_max_mb, path,
                   sizeof(path)) < 0)
    log_warn("capture_failed", "errno=%d error=%s", errno, strerror(errno));
  capture_sweep(r->cfg->capture_dir, r->cfg->capture_keep_hours * 3600L, r->now());
}

void
responder_handle(struct responder *r, struct request *rq, struct reply *rep)
{
  const struct config *cfg = r->cfg;
  const char *method = rq->param(rq->ctx, "REQUEST_METHOD");
  const char *id, *ts, *sig, *why = NULL;
  size_t want = 0, got = 0;
  enum wh_status st;
  enum seen_mark dup;
  int lenrc, too_big, which = -1;
  char *body = NULL;

  memset(rep, 0, sizeof(*rep));
  if(!method || strcmp(method, "POST")) {
    rep->allow = "POST";
    set_reply(rep, 405, "only POST is accepted");
    log_info("webhook_rejected", "status=405 method=%s", method ? method : "-");
    goto early;
  }
  lenrc = parse_length(rq->param(rq->ctx, "CONTENT_LENGTH"), &want);
  if(lenrc < 0) {
    set_reply(rep, 400, "malformed Content-Length");
    log_info("webhook_rejected", "status=400 reason=bad_content_length");
    goto early;
  }
  if(lenrc == 0 && want > cfg->max_body) {
    set_reply(rep, 413, "body too large");
    log_info("webhook_rejected", "status=413 content_length=%zu limit=%zu", want, cfg->max_body);
    goto early;
  }
  body = read_body(rq, cfg->max_body, want, lenrc == 0, &got, &too_big);
  if(!body) {
    set_reply(rep, 500, "cannot read request body");
    log_err("webhook_rejected", "status=500 reason=body_read_failed errno=%d", errno);
    goto early;
  }
  capture(r, rq, body, got);
  if(too_big) {
    set_reply(rep, 413, "body too large");
    log_info("webhook_rejected", "status=413 limit=%zu", cfg->max_body);
    goto out;
  }
  if(!r->nkeys) {
    set_reply(rep, 503, "no webhook signing key is configured");
    log_err("webhook_rejected", "status=503 reason=no_signing_key");
    goto out;
  }
  if(lenrc == 0 && got != want) {
    set_reply(rep, 400, "body shorter than Content-Length");
    log_info("webhook_rejected", "status=400 reason=short_body got=%zu want=%zu", got, want);
    goto out;
  }
  id = rq->param(rq->ctx, "HTTP_WEBHOOK_ID");
  ts = rq->param(rq->ctx, "HTTP_WEBHOOK_TIMESTAMP");
  sig = rq->param(rq->ctx, "HTTP_WEBHOOK_SIGNATURE");
  st = webhook_verify(r->keys, r->nkeys, id, ts, sig, body, got, r->now(), &which);
  if(st != WH_OK) {
    set_reply(rep, webhook_http_status(st), webhook_status_text(st));
    /* The id is logged only once it passed the alphabet check. */
    log_info("webhook_rejected", "status=%d reason=%s webhook_id=%s",
             rep->status, webhook_status_text(st),
             st == WH_MISSING_HEADER || st == WH_BAD_ID ? "-" : id);
    goto out;
  }
  if(webhook_parse(body, got, id, &rep->ev, &why) < 0) {
    set_reply(rep, 400, why);
    log_info("webhook_rejected", "status=400 reason=%s webhook_id=%s", why, id);
    goto out;
  }
  if(!r->dry_run && (why = responder_unusable(r, 0))) {
    set_reply(rep, 503, why);
    log_err("webhook_rejected", "status=503 reason=%s state_dir=%s webhook_id=%s", why,
            cfg->state_dir, id);
    goto out;
  }
  /* Before the duplicate mark: the sender's retry is then a new delivery. */
  if(!r->dry_run && !strcmp(rep->ev.data_type, "session.status_run_started") &&
     (why = responder_unusable(r, 1))) {
    set_reply(rep, 503, "the drainer's audit trail cannot be opened");
    log_err("webhook_rejected", "status=503 reason=%s audit_file=%s error=%s webhook_id=%s", why,
            cfg->audit_file, strerror(r->audit_errno), id);
    goto out;
  }
  dup = r->dry_run ? SEEN_NEW : seen_mark(cfg->state_dir, id, cfg->dedupe_seconds, r->now());
  if(dup == SEEN_ERROR) {
    set_reply(rep, 503, "duplicate store unavailable");
    log_err("webhook_rejected", "status=503 reason=seen_store error=%s state_dir=%s webhook_id=%s",
            strerror(errno), cfg->state_dir, id);
    goto out;
  }
  if(dup == SEEN_DUPLICATE) {
    /* The first copy may have been marked and then lost (the responder
     * killed before it started a drainer, the sender never answered), so
     * a repeated run_started polls the queue again: an empty poll at
     * worst, never a second run, since claims are atomic. */
    rep->start_drain = !r->dry_run && !strcmp(rep->ev.data_type, "session.status_run_started");
    set_reply(rep, 200, rep->start_drain ? "duplicate delivery; polling the queue again"
                                         : "duplicate delivery ignored");
    log_info("webhook_duplicate", "webhook_id=%s type=%s", id, rep->ev.data_type);
    goto out;
  }
  if(!strcmp(rep->ev.data_type, "session.status_run_started")) {
    rep->start_drain = !r->dry_run;
    set_reply(rep, 202, r->dry_run ? "would drain the work queue (dry run)" : "draining the work queue");
  }
  else if(!strcmp(rep->ev.data_type, "session.status_terminated") ||
          !strcmp(rep->ev.data_type, "session.deleted")) {
    rep->start_gc = !r->dry_run && rep->ev.data_id[0];
    set_reply(rep, 200, "session ended; its storage on this host is removed");
  }
  else
    set_reply(rep, 200, "event type ignored");
  /* signing_key says which key verified: once none say "previous", the
   * rotation is over and the previous key can go. */
  log_info("webhook_accepted", "webhook_id=%s type=%s resource_id=%s status=%d signing_key=%s",
           id, rep->ev.data_type, rep->ev.data_id[0] ? rep->ev.data_id : "-",
           rep->status, which == 1 ? "previous" : "current");
  goto out;
early:
  capture(r, rq, NULL, 0);
out:
  free(body);
}

static const char *
reason_phrase(int status)
{
  switch(status) {
  case 200: return "OK";
  case 202: return "Accepted";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 405: return "Method Not Allowed";
  case 413: return "Payload Too Large";
  case 503: return "Service Unavailable";
  default: return "Internal Server Error";
  }
}

static void
write_reply(struct request *rq, const struct reply *rep)
{
  char head[256], body[256];
  int hn, bn;

  bn = snprintf(body, sizeof(body), "{\"status\":%d,\"message\":\"%s\"}\n",
                rep->status, rep->message);
  hn = snprintf(head, sizeof(head),
                "Status: %d %s\r\nContent-Type: application/json\r\n"
                "Cache-Control: no-store\r\n%s%s%sContent-Length: %d\r\n\r\n",
                rep->status, reason_phrase(rep->status),
                rep->allow ? "Allow: " : "", rep->allow ? rep->allow : "",
                rep->allow ? "\r\n" : "", bn);
  if(rq->write(rq->ctx, head, (size_t)hn) < 0 || rq->write(rq->ctx, body, (size_t)bn) < 0)
    log_warn("reply_failed", "status=%d", rep->status);
}

void
responder_serve(struct responder *r, struct request *rq, struct reply *out)
{
  struct reply rep;
  int release = -1;

  if(probe_serve(r, rq))
    return;
  responder_handle(r, rq, &rep);
  if(rep.start_drain) {
    release = wake_drainer(r->cfg);
    if(release == -1) {
      /* Nothing will act on this delivery: forget it and ask for a retry. */
      seen_forget(r->cfg->state_dir, rep.ev.id);
      rep.start_drain = 0;
      set_reply(&rep, 503, "cannot start the drainer");
      log_err("drain_spawn_failed", "errno=%d error=%s webhook_id=%s", errno, strerror(errno), rep.ev.id);
    }
  }
  else if(rep.start_gc && (release = wake_gc(r->cfg, rep.ev.data_id)) < 0)
    /* The storage stays until the idle collection: nothing is lost. */
    log_warn("gc_spawn_failed", "errno=%d error=%s webhook_id=%s", errno, strerror(errno), rep.ev.id);
  write_reply(rq, &rep);
  rq->finish(rq->ctx);
  if(release >= 0)
    close(release);     /* the drainer may now call the API */
  metrics_delivery(rep.status);
  probe_refresh_file(r->cfg);
  if(seen_grow_wanted())
    wake_seen_grower(r->cfg, r->now());
  if(out)
    *out = rep;
}
