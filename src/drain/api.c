#include "drain/api.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/random.h"
#include "common/errmsg.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_BASE_MS 500
#define BACKOFF_CAP_MS 8000
#define RESP_CAP (64u << 20)

int
api_init(struct api *a, const struct config *cfg, const volatile sig_atomic_t *cancel)
{
  char host[64] = "sandhook";
  char rnd[17];

  memset(a, 0, sizeof(*a));
  a->cfg = cfg;
  a->cancel = cancel;
  a->curl = curl_easy_init();
  a->multi = curl_multi_init();
  if(!a->curl || !a->multi) {
    api_cleanup(a);
    return -1;
  }
  gethostname(host, sizeof(host) - 1);
  if(random_hex(rnd, 8) < 0) {
    api_cleanup(a);
    return -1;
  }
  snprintf(a->worker_id, sizeof(a->worker_id), "%s-sandhook-%s", host, rnd);
  return 0;
}

void
api_cleanup(struct api *a)
{
  if(a->multi)
    curl_multi_cleanup(a->multi);
  if(a->curl)
    curl_easy_cleanup(a->curl);
  a->curl = a->multi = NULL;
}

void
api_wake(struct api *a)
{
  curl_multi_wakeup(a->multi);
}

void
api_resp_free(struct api_resp *resp)
{
  free(resp->body);
  resp->body = NULL;
  resp->len = 0;
}

int
api_transient(long status)
{
  return status == 0 || status == 408 || status == 409 || status == 429 || status >= 500;
}

char *
api_escape(struct api *a, const char *s)
{
  char *e = curl_easy_escape(a->curl, s, 0);
  char *copy = e ? strdup(e) : NULL;

  curl_free(e);
  return copy;
}

struct sink_ctx {
  struct api_resp *resp;
  api_sink sink;
  void *ctx;
  int (*stop)(void *ctx);
  const volatile sig_atomic_t *cancel;
  long retry_after_ms, retry_after;     /* the headers' waits, in ms */
  int whole;              /* a download: a cut-off transfer is an error */
};

static size_t
collect(char *data, size_t sz, size_t n, void *p)
{
  struct sink_ctx *sc = p;
  struct api_resp *r = sc->resp;
  size_t len = sz * n;
  char *nb;

  /* Only a 200 stream is fed to the parser; an error body is kept. */
  if(sc->sink && r->status == 200)
    return sc->sink(data, len, sc->ctx);
  if(r->len + len > RESP_CAP)
    return 0;
  nb = realloc(r->body, r->len + len + 1);
  if(!nb)
    return 0;
  r->body = nb;
  memcpy(r->body + r->len, data, len);
  r->len += len;
  r->body[r->len] = '\0';
  return len;
}

static size_t
header_cb(char *data, size_t sz, size_t n, void *p)
{
  struct sink_ctx *sc = p;
  size_t len = sz * n;
  long v;

  switch(api_header(data, len, time(NULL), &v)) {
  case API_HEADER_STATUS:
    /* Each response's own (a 100 Continue or a redirect comes first). */
    sc->resp->status = v;
    sc->retry_after_ms = sc->retry_after = 0;
    break;
  case API_HEADER_RETRY_AFTER:
    sc->retry_after = v;
    break;
  case API_HEADER_RETRY_AFTER_MS:
    sc->retry_after_ms = v;
    break;
  case API_HEADER_END:
    /* Tell a stream's reader it is open, before any event arrives, so it
     * can list the history. */
    if(sc->sink && sc->resp->status == 200)
      sc->sink(NULL, 0, sc->ctx);
    break;
  case API_HEADER_OTHER:
    break;
  }
  return len;
}

static int
stopped(const struct sink_ctx *sc)
{
  return flag_raised(sc->cancel) || (sc->stop && sc->stop(sc->ctx));
}

static int
progress_cb(void *p, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
  (void)dlt;
  (void)dln;
  (void)ult;
  (void)uln;
  return stopped(p);
}

/* curl_easy_perform, but through the multi handle, whose wait api_wake
 * ends: a stream told to stop by another thread stops now, not at the
 * next progress callback (once a second while the stream is quiet). */
static CURLcode
transfer(struct api *a, struct sink_ctx *sc)
{
  CURLcode rc = CURLE_OK;
  CURLMcode mc;
  CURLMsg *msg;
  int running = 1, left;

  if(curl_multi_add_handle(a->multi, a->curl) != CURLM_OK)
    return CURLE_FAILED_INIT;
  while(running) {
    mc = curl_multi_perform(a->multi, &running);
    if(mc == CURLM_OK && running && stopped(sc)) {
      rc = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    if(mc == CURLM_OK && running)
      mc = curl_multi_poll(a->multi, NULL, 0, 1000, NULL);
    if(mc != CURLM_OK) {
      rc = CURLE_RECV_ERROR;
      break;
    }
  }
  while((msg = curl_multi_info_read(a->multi, &left)))
    if(msg->msg == CURLMSG_DONE && msg->easy_handle == a->curl)
      rc = msg->data.result;
  curl_multi_remove_handle(a->multi, a->curl);
  return rc;
}

static int
perform(struct api *a, const struct api_req *rq, struct sink_ctx *sc)
{
  CURL *h = a->curl;
  struct curl_slist *hdr = NULL;
  char line[4200], url[4096];
  long timeout = rq->timeout_ms > 0 ? rq->timeout_ms : 30000;
  CURLcode rc;
  int n;

  n = snprintf(url, sizeof(url), "%s%s", a->cfg->base_url, rq->path);
  if(n < 0 || (size_t)n >= sizeof(url)) {
    snprintf(sc->resp->error, sizeof(sc->resp->error), "URL too long");
    return -1;
  }
  curl_easy_reset(h);
  snprintf(line, sizeof(line), "Authorization: Bearer %s", rq->token ? rq->token : "");
  hdr = curl_slist_append(hdr, line);
  explicit_bzero(line, sizeof(line));
  hdr = curl_slist_append(hdr, "anthropic-version: " API_VERSION);
  if(rq->beta) {
    snprintf(line, sizeof(line), "anthropic-beta: %s", rq->beta);
    hdr = curl_slist_append(hdr, line);
  }
  snprintf(line, sizeof(line), "Accept: %s", rq->accept ? rq->accept : "application/json");
  hdr = curl_slist_append(hdr, line);
  if(rq->body)
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
  if(rq->send_worker_id) {
    snprintf(line, sizeof(line), "Anthropic-Worker-ID: %s", a->worker_id);
    hdr = curl_slist_append(hdr, line);
  }
  hdr = curl_slist_append(hdr, "Expect:");
  if(!hdr) {
    snprintf(sc->resp->error, sizeof(sc->resp->error), "out of memory");
    return -1;
  }
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "sandhook/" PACKAGE_VERSION);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
  if(rq->body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(rq->body));
  }
  else if(!strcmp(rq->method, "POST")) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
  }
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout < 10000 ? timeout : 10000L);
  if(!sc->sink || sc->whole)
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, sc);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, sc);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, sc);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  rc = transfer(a, sc);
  curl_slist_free_all(hdr);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
  if(rc != CURLE_OK) {
    if(sc->sink && !sc->whole && sc->resp->status == 200 &&
       (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_PARTIAL_FILE ||
        rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING))
      return 0;   /* a stream that ended or was stopped after it opened */
    snprintf(sc->resp->error, sizeof(sc->resp->error), "%s", curl_easy_strerror(rc));
    sc->resp->status = 0;
    return -1;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &sc->resp->status);
  return 0;
}

/* A field's value, trimmed, NUL-terminated in buf (cap bytes); NULL when
 * it does not fit, which no wait the API means does. */
static const char *
field_value(const char *data, size_t len, size_t name_len, char *buf, size_t cap)
{
  size_t i = name_len, end = len;

  while(i < end && (data[i] == ' ' || data[i] == '\t'))
    i++;
  while(end > i && memchr(" \t\r\n", data[end - 1], 4))
    end--;
  if(end - i >= cap)
    return NULL;
  memcpy(buf, data + i, end - i);
  buf[end - i] = '\0';
  return buf;
}

/* A decimal number of units of scale ms ("120", "1.5"), or -1. */
static double
decimal_ms(const char *s, double scale)
{
  char *end;
  double v;

  /* strtod alone would take "inf", "nan", hex, exponents and a sign. */
  if(!strpbrk(s, "0123456789") || s[strspn(s, "0123456789.")])
    return -1;
  v = strtod(s, &end);
  return *end ? -1 : v * scale;
}

static long
clamp_wait(double ms)
{
  return !(ms > 0) ? 0 : ms >= API_RETRY_AFTER_MAX_MS ? API_RETRY_AFTER_MAX_MS : (long)ms;
}

enum api_header
api_header(const char *data, size_t len, time_t now_s, long *value)
{
  static const char ra[] = "retry-after:", ra_ms[] = "retry-after-ms:";
  char buf[64];
  const char *v;
  double ms;

  *value = 0;
  if(len >= 5 && !memcmp(data, "HTTP/", 5)) {
    const char *sp = memchr(data, ' ', len);
    size_t i = sp ? (size_t)(sp - data) + 1 : len;

    /* "HTTP/1.1 200 OK", "HTTP/2 204": three digits, then the end. */
    if(i + 3 <= len && isdigit((unsigned char)data[i]) && isdigit((unsigned char)data[i + 1]) &&
       isdigit((unsigned char)data[i + 2]) && (i + 3 == len || memchr(" \r\n", data[i + 3], 3))) {
      long code = (data[i] - '0') * 100 + (data[i + 1] - '0') * 10 + (data[i + 2] - '0');

      *value = code >= 100 && code <= 599 ? code : 0;
    }
    return API_HEADER_STATUS;
  }
  if((len == 2 && data[0] == '\r' && data[1] == '\n') || (len == 1 && data[0] == '\n'))
    return API_HEADER_END;
  if(len >= sizeof(ra_ms) - 1 && !strncasecmp(data, ra_ms, sizeof(ra_ms) - 1)) {
    if((v = field_value(data, len, sizeof(ra_ms) - 1, buf, sizeof(buf))))
      *value = clamp_wait(decimal_ms(v, 1));
    return API_HEADER_RETRY_AFTER_MS;
  }
  if(len >= sizeof(ra) - 1 && !strncasecmp(data, ra, sizeof(ra) - 1)) {
    if((v = field_value(data, len, sizeof(ra) - 1, buf, sizeof(buf)))) {
      ms = decimal_ms(v, 1000);
      if(ms < 0) {
        /* An HTTP-date (RFC 9110, 10.2.3). */
        time_t t = curl_getdate(v, NULL);

        ms = t == -1 ? 0 : ((double)t - (double)now_s) * 1000;
      }
      *value = clamp_wait(ms);
    }
    return API_HEADER_RETRY_AFTER;
  }
  return API_HEADER_OTHER;
}

long
api_backoff_ms(int attempt, long retry_after_ms)
{
  long base = BACKOFF_BASE_MS << (attempt < 5 ? attempt : 5);
  long jitter;

  if(base > BACKOFF_CAP_MS)
    base = BACKOFF_CAP_MS;
  jitter = (long)(random() % (base / 4 + 1));
  if(retry_after_ms > base)
    return retry_after_ms > 60000 ? 60000 : retry_after_ms;
  return base + jitter;
}

/* One call with the retry policy; a download's sink starts over on each
 * attempt (restart). */
static int
retrying(struct api *a, const struct api_req *rq, struct api_resp *resp, api_sink sink,
         void (*restart)(void *), void *ctx)
{
  struct sink_ctx sc;
  int attempt, rc = -1;

  memset(resp, 0, sizeof(*resp));
  for(attempt = 0;; attempt++) {
    long wait;

    memset(&sc, 0, sizeof(sc));
    sc.resp = resp;
    sc.cancel = a->cancel;
    sc.sink = sink;
    sc.ctx = ctx;
    sc.whole = sink != NULL;
    if(restart)
      restart(ctx);
    api_resp_free(resp);
    resp->status = 0;
    resp->error[0] = '\0';
    {
      long long t0 = now_ms();

      rc = perform(a, rq, &sc);
      resp->retry_after_ms = sc.retry_after_ms ? sc.retry_after_ms : sc.retry_after;
      if(rc < 0 || resp->status >= 400)
        metrics_api_error(rq->method, rq->path, rc < 0 ? 0 : resp->status);
      log_debug("api_call", "method=%s path=%s status=%ld duration_ms=%lld attempt=%d error=%s",
                rq->method, rq->path, resp->status, now_ms() - t0, attempt + 1,
                resp->error[0] ? resp->error : "-");
    }
    if(rc == 0 && !api_transient(resp->status))
      return 0;
    if(attempt >= rq->max_retries || flag_raised(a->cancel))
      break;
    wait = api_backoff_ms(attempt, resp->retry_after_ms);
    if(rq->deadline_ms && now_ms() + wait >= rq->deadline_ms)
      break;
    log_warn("api_retry", "method=%s path=%s status=%ld attempt=%d wait_ms=%ld error=%s",
             rq->method, rq->path, resp->status, attempt + 1, wait, resp->error);
    sleep_ms(wait, a->cancel);
  }
  return rc;
}

int
api_call(struct api *a, const struct api_req *rq, struct api_resp *resp)
{
  return retrying(a, rq, resp, NULL, NULL, NULL);
}

struct to_file {
  int fd;
  size_t got, max;
  int failed;
};

static size_t
file_sink(const char *data, size_t len, void *p)
{
  struct to_file *f = p;

  if(!data)
    return 0;
  if(f->got + len > f->max || write_all(f->fd, data, len) < 0) {
    f->failed = f->got + len > f->max ? EFBIG : errno;
    return 0;           /* curl ends the transfer */
  }
  f->got += len;
  return len;
}

static void
file_restart(void *p)
{
  struct to_file *f = p;

  f->got = 0;
  f->failed = 0;
  if(ftruncate(f->fd, 0) < 0 || lseek(f->fd, 0, SEEK_SET) < 0)
    f->failed = errno;
}

int
api_download(struct api *a, const struct api_req *rq, int fd, size_t max,
             struct api_resp *resp)
{
  struct to_file f = { fd, 0, max, 0 };
  int rc = retrying(a, rq, resp, file_sink, file_restart, &f);

  if(f.failed) {
    snprintf(resp->error, sizeof(resp->error), "%s",
             f.failed == EFBIG ? "larger than the configured limit" : strerror(f.failed));
    resp->status = 0;
    return -1;
  }
  return rc;
}

int
api_stream(struct api *a, const struct api_req *rq, api_sink sink,
           int (*stop)(void *ctx), void *ctx, struct api_resp *resp)
{
  struct sink_ctx sc;
  int rc;

  memset(resp, 0, sizeof(*resp));
  memset(&sc, 0, sizeof(sc));
  sc.resp = resp;
  sc.sink = sink;
  sc.ctx = ctx;
  sc.stop = stop;
  sc.cancel = a->cancel;
  rc = perform(a, rq, &sc);
  if(rc < 0 || resp->status >= 400)
    metrics_api_error(rq->method, rq->path, rc < 0 ? 0 : resp->status);
  return rc;
}

/* ANTHROPIC_BASE_URL's host[:port], for a reader who must find it. */
static void
base_host(const char *url, char *buf, size_t cap)
{
  const char *p = strstr(url, "://");
  size_t n;

  p = p ? p + 3 : url;
  n = strcspn(p, "/?#");
  snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

static const char *
failure_hint(const struct api *a, const struct api_req *rq, long status)
{
  int env_key = rq->token && a->cfg->environment_key && !strcmp(rq->token, a->cfg->environment_key);
  int env_path = !strncmp(rq->path, "/v1/environments/", 17);

  switch(status) {
  case 0:
    return "check ANTHROPIC_BASE_URL and the network path (proxy, firewall) to it";
  case 401:
    return env_key ? "check ANTHROPIC_ENVIRONMENT_KEY (or ANTHROPIC_ENVIRONMENT_KEY_FILE): the "
                     "control plane did not accept it"
                   : "the work item's session token was refused";
  case 403:
    return env_key ? "check that ANTHROPIC_ENVIRONMENT_KEY belongs to ANTHROPIC_ENVIRONMENT_ID"
                   : "the work item's session token may not do this";
  case 404:
    return env_path ? "check ANTHROPIC_ENVIRONMENT_ID: the control plane has no such environment "
                      "for this key"
                    : NULL;
  default:
    return NULL;
  }
}

/* What is known of a failed call: the host, the API's own error type and
 * message from its body, the setting to check. */
struct failure {
  char host[256];
  const char *type, *msg, *hint;
  cJSON *root;                  /* holds type and msg */
};

static void
failure_of(const struct api *a, const struct api_req *rq, const struct api_resp *r,
           struct failure *f)
{
  const cJSON *err;

  base_host(a->cfg->base_url, f->host, sizeof(f->host));
  f->hint = failure_hint(a, rq, r->status);
  f->root = r->status && r->len ? cJSON_ParseWithLength(r->body, r->len) : NULL;
  err = cJSON_GetObjectItemCaseSensitive(f->root, "error");
  f->type = json_str(err, "type");
  f->msg = json_str(err, "message");
}

void
api_log_failure(const struct api *a, const struct api_req *rq, const struct api_resp *r,
                const char *event)
{
  struct failure f;

  failure_of(a, rq, r, &f);
  if(r->status == 0)
    log_err(event, "host=%s method=%s path=%s error=%s hint=%s", f.host, rq->method, rq->path,
            r->error[0] ? r->error : "no response", f.hint);
  else
    log_err(event, "host=%s method=%s path=%s status=%ld api_error_type=%s api_error=%s hint=%s",
            f.host, rq->method, rq->path, r->status, f.type ? f.type : "-", f.msg ? f.msg : "-",
            f.hint ? f.hint : "-");
  cJSON_Delete(f.root);
}

/* The same facts as one message, for a caller that logs the failure in
 * its own line. */
static void
api_explain(const struct api *a, const struct api_req *rq, const struct api_resp *r,
            struct errmsg *e)
{
  struct failure f;

  failure_of(a, rq, r, &f);
  if(r->status == 0)
    errmsg_set(e, "%s (nothing answered at %s; %s)", r->error[0] ? r->error : "no response",
               f.host, f.hint);
  else
    errmsg_set(e, "%s: %s (from %s%s%s)", f.type ? f.type : "error", f.msg ? f.msg : "-", f.host,
               f.hint ? "; " : "", f.hint ? f.hint : "");
  cJSON_Delete(f.root);
}

cJSON *
api_json(struct api *a, const struct api_req *rq, long *status, struct errmsg *err)
{
  struct api_resp r;
  cJSON *root = NULL;

  *status = api_call(a, rq, &r) == 0 ? r.status : 0;
  if(*status == 200)
    root = cJSON_ParseWithLength(r.body, r.len);
  if(err && *status != 200)
    api_explain(a, rq, &r, err);
  else if(err)
    errmsg_set(err, "-");
  api_resp_free(&r);
  return root;
}
