#include "front/probe.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/runstate.h"
#include "common/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define METRICS_FILE_EVERY_S 10

/* The request's path without its query: REQUEST_URI (nginx, Apache),
 * else SCRIPT_NAME and PATH_INFO as a CGI server gives them. */
static int
request_path(struct request *rq, char *buf, size_t cap)
{
  const char *uri = rq->param(rq->ctx, "REQUEST_URI");
  int n;

  if(uri && *uri)
    n = snprintf(buf, cap, "%.*s", (int)strcspn(uri, "?"), uri);
  else {
    const char *sn = rq->param(rq->ctx, "SCRIPT_NAME"), *pi = rq->param(rq->ctx, "PATH_INFO");

    n = snprintf(buf, cap, "%s%s", sn ? sn : "", pi ? pi : "");
  }
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

static void
answer(struct request *rq, int status, const char *type, const struct strbuf *body, int head)
{
  char hdr[256];
  int n = snprintf(hdr, sizeof(hdr),
                   "Status: %d %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
                   "Content-Length: %zu\r\n\r\n",
                   status, status == 200 ? "OK" : "Service Unavailable", type, body->len);

  if(rq->write(rq->ctx, hdr, (size_t)n) < 0 ||
     (!head && body->len && rq->write(rq->ctx, body->data, body->len) < 0))
    log_warn("reply_failed", "status=%d", status);
  rq->finish(rq->ctx);
}

static int
health(struct responder *r, struct strbuf *sb)
{
  const struct config *cfg = r->cfg;
  const char *why = responder_unusable(r, 1);
  int running, busy;

  runstate_count(cfg->state_dir, cfg->max_sessions, &running, &busy);
  /* The reason is one of responder_unusable's fixed sentences: no quoting
   * needed. */
  sb_printf(sb, "{\"status\":\"%s\",\"version\":\"%s\",\"slots\":%d,\"slots_busy\":%d,"
            "\"drainers_running\":%d%s%s%s}\n", why ? "unavailable" : "ok", PACKAGE_VERSION,
            cfg->max_sessions, busy, running, why ? ",\"reason\":\"" : "", why ? why : "",
            why ? "\"" : "");
  return why ? 503 : 200;
}

int
probe_serve(struct responder *r, struct request *rq)
{
  const struct config *cfg = r->cfg;
  const char *method = rq->param(rq->ctx, "REQUEST_METHOD");
  struct strbuf sb = STRBUF_INIT;
  char path[1024];
  int head, status;

  if(!method || (strcmp(method, "GET") && strcmp(method, "HEAD")) ||
     request_path(rq, path, sizeof(path)) < 0)
    return 0;
  head = !strcmp(method, "HEAD");
  if(!strcmp(path, cfg->metrics_path)) {
    metrics_render(&sb, cfg->state_dir, cfg->max_sessions);
    status = sb.failed ? 503 : 200;
    answer(rq, status, "text/plain; version=0.0.4; charset=utf-8", &sb, head);
  }
  else if(!strcmp(path, cfg->health_path)) {
    status = health(r, &sb);
    answer(rq, status, "application/json", &sb, head);
  }
  else
    return 0;
  log_debug("probe_answered", "path=%s status=%d", path, status);
  sb_release(&sb);
  return 1;
}

void
probe_refresh_file(const struct config *cfg)
{
  struct stat st;

  if(!cfg->metrics_file ||
     (stat(cfg->metrics_file, &st) == 0 && time(NULL) - st.st_mtime < METRICS_FILE_EVERY_S))
    return;
  if(metrics_write_file(cfg->metrics_file, cfg->state_dir, cfg->max_sessions) < 0)
    log_warn("metrics_file_failed", "path=%s error=%s", cfg->metrics_file, strerror(errno));
}
