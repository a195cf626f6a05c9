#include "drain/queue.h"
#include "common/b64.h"
#include "common/log.h"
#include "common/json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
work_item_clear(struct work_item *item)
{
  if(item->sessions_token) {
    explicit_bzero(item->sessions_token, strlen(item->sessions_token));
    free(item->sessions_token);
  }
  memset(item, 0, sizeof(*item));
}

const char *
work_bearer(const struct api *a, const struct work_item *item)
{
  return item->sessions_token ? item->sessions_token : a->cfg->environment_key;
}

char *
secret_sessions_token(const char *secret)
{
  size_t len = strlen(secret);
  unsigned char *buf = malloc(len + 4);
  ssize_t n;
  cJSON *root = NULL;
  const cJSON *tok;
  char *out = NULL;

  if(!buf)
    return NULL;
  n = b64_decode_loose(secret, len, buf, len + 4);
  if(n > 0)
    root = cJSON_ParseWithLength((const char *)buf, (size_t)n);
  tok = root ? cJSON_GetObjectItemCaseSensitive(root, "sessions_token") : NULL;
  if(cJSON_IsString(tok) && tok->valuestring[0])
    out = strdup(tok->valuestring);
  if(tok && cJSON_IsString(tok))
    explicit_bzero(tok->valuestring, strlen(tok->valuestring));
  cJSON_Delete(root);
  explicit_bzero(buf, len + 4);
  free(buf);
  return out;
}

int
work_parse(const char *json, size_t len, struct work_item *item, char **secret)
{
  cJSON *root = cJSON_ParseWithLength(json, len);
  const cJSON *data, *sec;
  int rc = -1;

  memset(item, 0, sizeof(*item));
  if(secret)
    *secret = NULL;
  if(!cJSON_IsObject(root) || json_copy_str(root, "id", item->id, sizeof(item->id)) < 0)
    goto out;
  data = cJSON_GetObjectItemCaseSensitive(root, "data");
  if(cJSON_IsObject(data)) {
    json_copy_str(data, "type", item->data_type, sizeof(item->data_type));
    json_copy_str(data, "id", item->data_id, sizeof(item->data_id));
  }
  sec = cJSON_GetObjectItemCaseSensitive(root, "secret");
  if(secret && cJSON_IsString(sec))
    *secret = strdup(sec->valuestring);
  if(cJSON_IsString(sec))
    explicit_bzero(sec->valuestring, strlen(sec->valuestring));
  rc = 0;
out:
  cJSON_Delete(root);
  return rc;
}

static int
body_is_empty(const struct api_resp *r)
{
  size_t i;

  if(r->status == 204 || r->len == 0)
    return 1;
  for(i = 0; i < r->len && (r->body[i] == ' ' || r->body[i] == '\n' ||
                            r->body[i] == '\r' || r->body[i] == '\t'); i++)
    ;
  return r->len - i >= 4 && !strncmp(r->body + i, "null", 4);
}

enum poll_result
queue_poll(struct api *a, struct work_item *item, long block_ms)
{
  const struct config *cfg = a->cfg;
  char path[512];
  struct api_resp r;
  struct api_req rq = { 0 };
  char *secret = NULL;
  enum poll_result res = POLL_ERROR;

  memset(item, 0, sizeof(*item));
  if(block_ms > 0)
    snprintf(path, sizeof(path),
             "/v1/environments/%s/work/poll?block_ms=%ld&reclaim_older_than_ms=%ld",
             cfg->environment_id, block_ms, cfg->reclaim_older_than_ms);
  else
    snprintf(path, sizeof(path),
             "/v1/environments/%s/work/poll?reclaim_older_than_ms=%ld",
             cfg->environment_id, cfg->reclaim_older_than_ms);
  rq.method = "GET";
  rq.path = path;
  rq.token = cfg->environment_key;
  rq.beta = API_BETA_WORK;
  rq.send_worker_id = 1;
  rq.max_retries = 2;
  rq.timeout_ms = block_ms + 30000;
  if(api_call(a, &rq, &r) < 0) {
    api_log_failure(a, &rq, &r, "poll_failed");
    goto out;
  }
  if(r.status != 200 && r.status != 204) {
    api_log_failure(a, &rq, &r, "poll_failed");
    res = api_transient(r.status) ? POLL_ERROR : POLL_FATAL;
    goto out;
  }
  /* 204, an empty body or JSON null: no work. */
  if(body_is_empty(&r)) {
    res = POLL_EMPTY;
    goto out;
  }
  /* Anything else that is not a work item is the control plane's mistake:
   * said, and taken as no work, so the queue is polled again later. */
  if(work_parse(r.body, r.len, item, &secret) < 0 || !item->id[0]) {
    log_warn("poll_unusable", "status=%ld bytes=%zu reason=%s", r.status, r.len,
             "the answer is neither empty nor a work object with an id");
    res = POLL_EMPTY;
    goto out;
  }
  if(secret) {
    item->sessions_token = secret_sessions_token(secret);
    if(!item->sessions_token)
      log_warn("work_secret_unusable", "work_id=%s fallback=environment_key", item->id);
  }
  res = POLL_ITEM;
out:
  if(secret) {
    explicit_bzero(secret, strlen(secret));
    free(secret);
  }
  if(r.body)
    explicit_bzero(r.body, r.len);
  api_resp_free(&r);
  return res;
}

/* POST .../work/{id}/<action>; returns the final HTTP status, 0 when no
 * response came. */
static long
work_action(struct api *a, const struct work_item *item, const char *action,
            const char *token, const char *body)
{
  char path[512];
  struct api_resp r;
  struct api_req rq = { 0 };
  long status;

  snprintf(path, sizeof(path), "/v1/environments/%s/work/%s/%s",
           a->cfg->environment_id, item->id, action);
  rq.method = "POST";
  rq.path = path;
  rq.token = token;
  rq.body = body;
  rq.beta = API_BETA_WORK;
  rq.max_retries = 2;
  status = api_call(a, &rq, &r) == 0 ? r.status : 0;
  if(status != 200 && status != 409)
    api_log_failure(a, &rq, &r, "work_action_failed");
  api_resp_free(&r);
  return status;
}

int
queue_ack(struct api *a, const struct work_item *item)
{
  /* Ack has no body, and only the environment key may ack. */
  return work_action(a, item, "ack", a->cfg->environment_key, NULL) == 200 ? 0 : -1;
}

int
queue_stop(struct api *a, const struct work_item *item)
{
  long status = work_action(a, item, "stop", work_bearer(a, item), "{\"force\":true}");

  /* 409: already stopped, which is what we wanted. */
  if(status == 200 || status == 409) {
    log_info("work_stopped", "status=%ld", status);
    return 0;
  }
  return -1;
}
