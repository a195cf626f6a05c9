#include "front/replay.h"
#include "front/capture.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "front/responder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

struct replayed {
  struct captured c;
  size_t off;
  char *body;                   /* the body --resign rewrote, when it did */
};

static const char *
r_param(void *ctx, const char *name)
{
  return captured_param(&((struct replayed *)ctx)->c, name);
}

static char **
r_params(void *ctx)
{
  return ((struct replayed *)ctx)->c.params;
}

static ssize_t
r_read(void *ctx, void *buf, size_t n)
{
  struct replayed *r = ctx;
  size_t left = r->c.body_len - r->off;

  if(n > left)
    n = left;
  memcpy(buf, r->c.body + r->off, n);
  r->off += n;
  return (ssize_t)n;
}

static int
r_write(void *ctx, const char *data, size_t n)
{
  (void)ctx;
  (void)data;
  (void)n;
  return 0;     /* the summary line below says what the answer was */
}

static void
r_finish(void *ctx)
{
  (void)ctx;
}

/* A fresh webhook-id (the body's "id" too, which must match it), the
 * current time, the Content-Length of the body as it is now, and a new
 * signature: an edited capture replays, and never as a duplicate. */
static int
resign(struct responder *r, struct replayed *rp, const char **why)
{
  struct captured *c = &rp->c;
  const char *old = captured_param(c, "HTTP_WEBHOOK_ID");
  long long now = (long long)time(NULL);
  char sig[96], ts[32], id[160], len[32];
  cJSON *doc, *idv;

  if(!r->nkeys) {
    *why = "--resign needs ANTHROPIC_WEBHOOK_SIGNING_KEY";
    return -1;
  }
  doc = cJSON_ParseWithLength(c->body, c->body_len);
  idv = cJSON_GetObjectItemCaseSensitive(doc, "id");
  snprintf(id, sizeof(id), "%.100s_replay_%llx%x", cJSON_IsString(idv) ? idv->valuestring : "whe",
           (long long)now_ms(), (unsigned)getpid());
  if(cJSON_IsString(idv) && cJSON_SetValuestring(idv, id) && (rp->body = cJSON_PrintUnformatted(doc))) {
    c->body = rp->body;
    c->body_len = strlen(rp->body);
  }
  else if(old)
    snprintf(id, sizeof(id), "%s", old);     /* not the envelope: its id stays */
  cJSON_Delete(doc);
  if(webhook_sign(&r->keys[0], id, now, c->body, c->body_len, sig, sizeof(sig)) < 0) {
    *why = "--resign needs a valid webhook-id header";
    return -1;
  }
  snprintf(ts, sizeof(ts), "%lld", now);
  snprintf(len, sizeof(len), "%zu", c->body_len);
  if(captured_set(c, "HTTP_WEBHOOK_ID", id) < 0 || captured_set(c, "HTTP_WEBHOOK_TIMESTAMP", ts) < 0 ||
     captured_set(c, "HTTP_WEBHOOK_SIGNATURE", sig) < 0 || captured_set(c, "CONTENT_LENGTH", len) < 0) {
    *why = "out of memory";
    return -1;
  }
  return 0;
}

static int
replay_file(struct responder *r, const char *path, int do_resign)
{
  struct replayed rp;
  struct request rq = { &rp, r_param, r_params, r_read, r_write, r_finish };
  struct reply rep;
  const char *why = NULL;
  char *data;
  struct errmsg mismatch;
  size_t len;

  memset(&rp, 0, sizeof(rp));
  if(read_file(path, r->cfg->max_body + (1u << 20), &data, &len) < 0) {
    printf("%s: cannot read: %s\n", path, strerror(errno));
    return -1;
  }
  if(capture_parse(data, len, &rp.c, &why) < 0 || (do_resign && resign(r, &rp, &why) < 0)) {
    printf("%s: not replayed: %s\n", path, why);
    captured_free(&rp.c);
    free(rp.body);
    free(data);
    return -1;
  }
  if(!do_resign && !captured_length_matches(&rp.c, &mismatch)) {
    printf("%s: 400 %s\n", path, mismatch.text);
    captured_free(&rp.c);
    free(data);
    return -1;
  }
  free(data);
  /* A hand-written request may leave out Content-Length. */
  if(!captured_param(&rp.c, "CONTENT_LENGTH")) {
    char n[32];

    snprintf(n, sizeof(n), "%zu", rp.c.body_len);
    captured_set(&rp.c, "CONTENT_LENGTH", n);
  }
  responder_serve(r, &rq, &rep);
  printf("%s: %d %s", path, rep.status, rep.message);
  if(rep.status == 401 && !do_resign)
    printf(" (replay with --resign to sign it again with the local key and the current time)");
  if(rep.ev.id[0])
    printf(" (webhook_id=%s type=%s%s%s)", rep.ev.id, rep.ev.data_type,
           rep.ev.data_id[0] ? " id=" : "", rep.ev.data_id);
  if(rep.start_drain)
    printf("; drainer started, its log: %s", r->cfg->log_file);
  printf("\n");
  captured_free(&rp.c);
  free(rp.body);
  return rep.status >= 200 && rep.status < 300 ? 0 : -1;
}

void
replay_usage(FILE *f)
{
  fprintf(f,
          "usage: sandhook replay [--config FILE] [--resign] [--dry-run] FILE...\n"
          "\n"
          "Sends each captured (or hand-written) HTTP request through the path a\n"
          "live one takes and prints its status.  As captured, a request older\n"
          "than 5 minutes fails verification; --resign signs it again with the\n"
          "local key, the current time, a fresh webhook-id (the body's \"id\"\n"
          "too) and the body's own Content-Length, so an edited capture replays\n"
          "and is never taken for a duplicate.  --dry-run verifies and parses\n"
          "without marking anything seen or claiming work.  Exit status 0 when\n"
          "every request got a 2xx.\n");
}

int
replay_main(const struct config *cfg, int argc, char **argv)
{
  struct responder r;
  int i, do_resign = 0, files = 0, failed = 0;

  responder_init(&r, cfg);
  r.replaying = 1;
  for(i = 0; i < argc; i++) {
    if(!strcmp(argv[i], "--resign"))
      do_resign = 1;
    else if(!strcmp(argv[i], "--dry-run"))
      r.dry_run = 1;
    else if(argv[i][0] == '-') {
      fprintf(stderr, "sandhook replay: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  for(i = 0; i < argc; i++) {
    if(argv[i][0] == '-')
      continue;
    files++;
    if(replay_file(&r, argv[i], do_resign) < 0)
      failed++;
  }
  if(!files) {
    replay_usage(stderr);
    return 2;
  }
  return failed ? 1 : 0;
}
