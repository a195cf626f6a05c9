#include "drain/session.h"
#include "common/json.h"
#include "common/utf8.h"
#include "drain/memstore_sync.h"
#include "drain/skills.h"
#include "drain/jail_client.h"
#include "drain/gc.h"
#include "drain/audit.h"
#include "common/clock.h"
#include "common/proctitle.h"
#include "common/log.h"
#include "common/metrics.h"
#include "drain/sse.h"
#include "drain/strset.h"
#include "common/protocol.h"
#include "common/ids.h"
#include "common/errmsg.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum call_state { CALL_HELD, CALL_QUEUED, CALL_UNPOSTED, CALL_DONE };

struct call {
  char *id;
  char *name;
  cJSON *input;
  cJSON *result;          /* kept while a post is outstanding */
  enum call_state state;
  int repost;             /* UNPOSTED and due again after a reconcile */
  struct call *next;
};

enum qkind { Q_EVENT, Q_OPENED, Q_FATAL };

struct qnode {
  enum qkind kind;
  char *json;
  struct qnode *next;
};

struct session {
  const struct config *cfg;
  struct api *api;
  struct lease *lease;
  const struct work_item *item;
  const volatile sig_atomic_t *term;
  struct runstate *rs;
  const char *sid;
  void (*released)(void *ctx, enum session_end end);
  void *release_ctx;

  struct strset seen, answered;
  struct strset allowed, denied;      /* user.tool_confirmation verdicts */
  struct call *calls, **calls_tail;
  long long idle_deadline;
  int reconciled;
  long long relist_at;
  int ended, terminated;
  enum session_end end;
  struct jail jail;
  int jail_up;
  int jail_lingers;                   /* a jail's end went unconfirmed */
  cJSON *session;                     /* as fetched at the start */
  cJSON *skills;                      /* directories installed, to remove */
  struct memory *mem;                 /* the memory stores, if any */
  int clean;                          /* the stream ended by itself */
  const char *running;                /* the tool in flight, for the title */
  long long running_since;

  pthread_t stream;
  int stream_started;
  struct api *stream_api;             /* the stream thread's, under mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct qnode *head, *tail;
  volatile sig_atomic_t stream_quit;
};

/* ---- the stream thread ---- */

static void
push(struct session *s, enum qkind kind, const char *json, size_t len)
{
  struct qnode *n = calloc(1, sizeof(*n));

  if(!n)
    return;
  n->kind = kind;
  if(json) {
    n->json = strndup(json, len);
    if(!n->json) {
      free(n);
      return;
    }
  }
  pthread_mutex_lock(&s->mu);
  if(s->tail)
    s->tail->next = n;
  else
    s->head = n;
  s->tail = n;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

struct stream_ctx {
  struct session *s;
  struct sse parser;
  int got_event, error_frame;
};

static void
on_frame(const char *event, const char *data, size_t len, void *p)
{
  struct stream_ctx *c = p;

  /* Frames without an event: line, pings and comments carry nothing for
   * us; an error frame is a disconnect. */
  if(!event[0] || !strcmp(event, "ping"))
    return;
  if(!strcmp(event, "error")) {
    c->error_frame = 1;
    log_warn("stream_error_frame", "bytes=%zu", len);
    return;
  }
  c->got_event = 1;
  push(c->s, Q_EVENT, data, len);
}

static size_t
on_bytes(const char *data, size_t len, void *p)
{
  struct stream_ctx *c = p;

  if(!data) {
    push(c->s, Q_OPENED, NULL, 0);
    return 0;
  }
  return sse_feed(&c->parser, data, len) < 0 ? 0 : len;
}

static int
stream_stop(void *p)
{
  struct stream_ctx *c = p;

  return flag_raised(&c->s->stream_quit) || c->error_frame;
}

static void *
stream_thread(void *p)
{
  struct session *s = p;
  struct api a;
  char path[512];
  long backoff = 500;

  if(api_init(&a, s->cfg, &s->stream_quit) < 0) {
    push(s, Q_FATAL, NULL, 0);
    return NULL;
  }
  pthread_mutex_lock(&s->mu);
  s->stream_api = &a;
  pthread_mutex_unlock(&s->mu);
  snprintf(path, sizeof(path), "/v1/sessions/%s/events/stream", s->sid);
  while(!flag_raised(&s->stream_quit)) {
    struct api_req rq = { 0 };
    struct api_resp r;
    struct stream_ctx c;

    memset(&c, 0, sizeof(c));
    c.s = s;
    sse_init(&c.parser, on_frame, &c);
    rq.method = "GET";
    rq.path = path;
    rq.token = work_bearer(&a, s->item);
    rq.beta = API_BETA_WORK;
    rq.accept = "text/event-stream";
    api_stream(&a, &rq, on_bytes, stream_stop, &c, &r);
    sse_free(&c.parser);
    if(flag_raised(&s->stream_quit)) {
      api_resp_free(&r);
      break;
    }
    if(r.status && r.status != 200 && !api_transient(r.status)) {
      log_err("stream_failed", "status=%ld", r.status);
      api_resp_free(&r);
      push(s, Q_FATAL, NULL, 0);
      break;
    }
    log_info("stream_closed", "status=%ld error=%s reconnect_ms=%ld", r.status,
             r.error, c.got_event ? 500L : backoff);
    api_resp_free(&r);
    if(c.got_event)
      backoff = 500;
    sleep_ms(backoff, &s->stream_quit);
    if(!c.got_event)
      backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
  }
  pthread_mutex_lock(&s->mu);
  s->stream_api = NULL;
  pthread_mutex_unlock(&s->mu);
  api_cleanup(&a);
  return NULL;
}

/* Ends the stream thread now: a quiet stream would otherwise hold the
 * session's end until the stream's next event or its once-a-second check. */
static void
stream_stop_now(struct session *s)
{
  pthread_mutex_lock(&s->mu);
  flag_raise(&s->stream_quit);
  if(s->stream_api)
    api_wake(s->stream_api);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->stream, NULL);
}

/* ---- event handling ---- */

static struct call *
find_call(struct session *s, const char *id)
{
  struct call *c;

  for(c = s->calls; c; c = c->next)
    if(!strcmp(c->id, id))
      return c;
  return NULL;
}

static void
end_session(struct session *s, enum session_end how, const char *why)
{
  if(s->ended)
    return;
  s->ended = 1;
  s->end = how;
  s->clean = how == SESSION_DONE && (s->terminated || !strcmp(why, "idle_timeout"));
  log_info("session_ending", "reason=%s", why);
}

enum gate
permission_gate(const cJSON *tool_use)
{
  const cJSON *perm = cJSON_GetObjectItemCaseSensitive(tool_use, "evaluated_permission");

  if(!perm || (cJSON_IsString(perm) && !strcmp(perm->valuestring, "allow")))
    return GATE_RUN;
  if(cJSON_IsString(perm) && !strcmp(perm->valuestring, "deny"))
    return GATE_DENY;
  return GATE_HOLD;
}

static void
on_tool_use(struct session *s, const cJSON *ev, const char *id)
{
  const char *name = json_str(ev, "name");
  const cJSON *perm = cJSON_GetObjectItemCaseSensitive(ev, "evaluated_permission");
  enum gate g = permission_gate(ev);
  struct call *c;

  if(!name || strset_has(&s->answered, id) || find_call(s, id))
    return;
  c = calloc(1, sizeof(*c));
  if(!c || !(c->id = strdup(id)) || !(c->name = strdup(name))) {
    if(c)
      free(c->id);
    free(c);
    end_session(s, SESSION_DONE, "out_of_memory");
    return;
  }
  c->input = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ev, "input"), 1);
  *s->calls_tail = c;
  s->calls_tail = &c->next;
  if(sandbox_tool_lookup(name) == TOOL_NONE) {
    /* Not ours (web_fetch, a tool another client serves): leave it pending. */
    c->state = CALL_DONE;
    log_info("tool_left_pending", "tool_use_id=%s tool=%s", id, name);
    return;
  }
  if(g == GATE_RUN)
    c->state = CALL_QUEUED;
  else if(g == GATE_DENY) {
    c->state = CALL_DONE;
    log_info("tool_denied", "tool_use_id=%s tool=%s", id, name);
  }
  else if(strset_has(&s->allowed, id))
    c->state = CALL_QUEUED;
  else if(strset_has(&s->denied, id))
    c->state = CALL_DONE;
  else {
    /* ask, an explicit null or an unknown value: fail closed until a
     * human's confirmation arrives. */
    c->state = CALL_HELD;
    log_info("tool_held", "tool_use_id=%s tool=%s permission=%s", id, name,
             cJSON_IsString(perm) ? perm->valuestring : "null");
  }
}

static void
on_confirmation(struct session *s, const cJSON *ev)
{
  const char *tid = json_str(ev, "tool_use_id");
  const char *verdict = json_str(ev, "result");
  int allow = verdict && !strcmp(verdict, "allow");
  struct call *c;

  if(!tid)
    return;
  strset_add(allow ? &s->allowed : &s->denied, tid);
  c = find_call(s, tid);
  if(c && c->state == CALL_HELD) {
    c->state = allow ? CALL_QUEUED : CALL_DONE;
    log_info("tool_confirmation", "tool_use_id=%s verdict=%s", tid, allow ? "allow" : "deny");
  }
}

static void
handle_event(struct session *s, const cJSON *ev)
{
  const char *id = json_str(ev, "id");
  const char *type = json_str(ev, "type");

  if(!type)
    return;
  if(id && strset_add(&s->seen, id) == STRSET_PRESENT)
    return;
  if(strcmp(type, "user.tool_confirmation"))
    s->idle_deadline = 0;
  if(!strcmp(type, "agent.tool_use") && id)
    on_tool_use(s, ev, id);
  else if(!strcmp(type, "user.tool_result")) {
    const char *tid = json_str(ev, "tool_use_id");
    struct call *c = tid ? find_call(s, tid) : NULL;

    if(tid)
      strset_add(&s->answered, tid);
    if(c)
      c->state = CALL_DONE;
  }
  else if(!strcmp(type, "user.tool_confirmation"))
    on_confirmation(s, ev);
  else if(!strcmp(type, "agent.custom_tool_use"))
    log_info("tool_left_pending", "tool_use_id=%s kind=custom", id ? id : "-");
  else if(!strcmp(type, "session.status_idle")) {
    const cJSON *sr = cJSON_GetObjectItemCaseSensitive(ev, "stop_reason");
    const char *why = json_str(sr, "type");

    if(why && !strcmp(why, "end_turn") && s->cfg->idle_timeout_ms > 0)
      s->idle_deadline = now_ms() + s->cfg->idle_timeout_ms;
  }
  else if(!strcmp(type, "session.status_terminated") || !strcmp(type, "session.deleted")) {
    s->terminated = 1;
    end_session(s, SESSION_DONE, type);
  }
}

static void
handle_json(struct session *s, const char *json)
{
  cJSON *ev = cJSON_Parse(json);

  if(cJSON_IsObject(ev))
    handle_event(s, ev);
  else
    log_warn("event_unparsable", "bytes=%zu", strlen(json));
  cJSON_Delete(ev);
}

/* GET with the item's bearer; the parsed body on 200, else NULL with the
 * status (0: no response) in *status and one log line naming what failed. */
static cJSON *
session_get(struct api *api, const struct work_item *item, const char *path, const char *what,
            long *status)
{
  struct api_req rq = { 0 };
  struct errmsg err;
  cJSON *root;

  rq.method = "GET";
  rq.path = path;
  rq.token = work_bearer(api, item);
  rq.beta = API_BETA_WORK;
  rq.max_retries = 2;
  root = api_json(api, &rq, status, &err);
  if(!root)
    log_warn(what, "status=%ld error=%s", *status, err.text);
  return root;
}

/* Lists the whole history (following next_page) and feeds it through the
 * same handler as the stream; until a listing completes nothing runs. */
static void
reconcile(struct session *s)
{
  char path[1024];
  char *cursor = NULL;
  struct call *c;
  int pages = 0;

  s->reconciled = 0;
  for(;;) {
    cJSON *root, *data, *ev, *next;
    char *esc = cursor ? api_escape(s->api, cursor) : NULL;
    long status;

    snprintf(path, sizeof(path), "/v1/sessions/%s/events?limit=1000%s%s", s->sid,
             esc ? "&page=" : "", esc ? esc : "");
    free(esc);
    root = session_get(s->api, s->item, path, "history_list_failed", &status);
    if(!root) {
      if(status == 404 || status == 401 || status == 403)
        end_session(s, SESSION_DONE, "history_fatal_status");
      s->relist_at = now_ms() + 1000;
      free(cursor);
      return;
    }
    data = cJSON_GetObjectItemCaseSensitive(root, "data");
    cJSON_ArrayForEach(ev, data)
      if(cJSON_IsObject(ev))
        handle_event(s, ev);
    next = cJSON_GetObjectItemCaseSensitive(root, "next_page");
    free(cursor);
    cursor = cJSON_IsString(next) && next->valuestring[0] ? strdup(next->valuestring) : NULL;
    cJSON_Delete(root);
    pages++;
    if(!cursor)
      break;
  }
  s->reconciled = 1;
  s->relist_at = 0;
  /* A result whose post failed is still unanswered: post it again, once
   * per reconcile, without running the call a second time. */
  for(c = s->calls; c; c = c->next)
    if(c->state == CALL_UNPOSTED)
      c->repost = 1;
  log_info("history_reconciled", "pages=%d events=%zu", pages, s->seen.n);
}

/* ---- running a call ---- */

static int
should_abort(void *p)
{
  struct session *s = p;

  /* Polled every 100 ms while a call runs: the title keeps its age. */
  if(s->running)
    proctitle_set("sandhook: drain %s %s %llds", s->sid, s->running,
                  (now_ms() - s->running_since) / 1000);
  return flag_raised(s->term) || lease_state(s->lease) != LEASE_HELD;
}

static cJSON *
error_result(const char *fmt, const char *a)
{
  cJSON *r = cJSON_CreateObject(), *arr = cJSON_CreateArray(), *b = cJSON_CreateObject();
  char text[512];

  snprintf(text, sizeof(text), fmt, a);
  if(!r || !arr || !b) {
    cJSON_Delete(r);
    cJSON_Delete(arr);
    cJSON_Delete(b);
    return NULL;
  }
  cJSON_AddStringToObject(b, "type", "text");
  cJSON_AddStringToObject(b, "text", text);
  cJSON_AddItemToArray(arr, b);
  cJSON_AddBoolToObject(r, "is_error", 1);
  cJSON_AddItemToObject(r, "content", arr);
  return r;
}

static void
post_result(struct session *s, struct call *c)
{
  cJSON *body = cJSON_CreateObject(), *events = cJSON_AddArrayToObject(body, "events");
  cJSON *ev = cJSON_CreateObject();
  /* Read now: the result goes once it is posted. */
  int is_err = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->result, "is_error"));
  struct api_req rq = { 0 };
  struct api_resp r;
  char path[512], *text;
  long ttl = lease_ttl_ms(s->lease);

  c->state = CALL_UNPOSTED;
  if(!body || !events || !ev) {
    cJSON_Delete(body);
    cJSON_Delete(ev);
    return;
  }
  cJSON_AddStringToObject(ev, "type", "user.tool_result");
  cJSON_AddStringToObject(ev, "tool_use_id", c->id);
  cJSON_AddBoolToObject(ev, "is_error", is_err);
  cJSON_AddItemToObject(ev, "content",
                        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c->result, "content"), 1));
  cJSON_AddItemToArray(events, ev);
  /* The jail is not trusted to have cleaned its text: a body that is not
   * UTF-8 would be refused, and the call never answered. */
  text = utf8_clean_json(body) == 0 ? cJSON_PrintUnformatted(body) : NULL;
  cJSON_Delete(body);
  if(!text)
    return;
  snprintf(path, sizeof(path), "/v1/sessions/%s/events", s->sid);
  rq.method = "POST";
  rq.path = path;
  rq.token = work_bearer(s->api, s->item);
  rq.body = text;
  rq.beta = API_BETA_WORK;
  rq.max_retries = 1000;
  /* Retries are bounded by the lease: past its TTL the item may be someone
   * else's, and they will answer the call. */
  rq.deadline_ms = now_ms() + ttl;
  if(api_call(s->api, &rq, &r) == 0 && r.status == 200) {
    c->state = CALL_DONE;
    strset_add(&s->answered, c->id);
    cJSON_Delete(c->result);
    c->result = NULL;
    log_info("tool_result_posted", "tool_use_id=%s is_error=%s", c->id, is_err ? "true" : "false");
  }
  else {
    /* Heartbeats can hold the lease while posts fail past its TTL (a rate
     * limit longer than the lease, the events endpoint alone down): a
     * listing, after the wait the server asked for, shows whether the
     * result landed, and it is posted again if not. */
    long retry_ms = api_transient(r.status) ? api_backoff_ms(0, r.retry_after_ms) : 0;

    if(retry_ms)
      s->relist_at = now_ms() + retry_ms;
    log_err("tool_result_post_failed", "tool_use_id=%s status=%ld retry_ms=%ld error=%s",
            c->id, r.status, retry_ms, r.error);
  }
  api_resp_free(&r);
  free(text);
}

static long
call_timeout_ms(const struct session *s, const struct call *c)
{
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(c->input, "timeout_ms");

  if(!strcmp(c->name, "bash") && cJSON_IsNumber(t) && t->valuedouble >= 1)
    return json_long(t, 1, 86400000L, s->cfg->tool_timeout_ms);
  return s->cfg->tool_timeout_ms;
}

/* The jail starts with the first thing that needs it and again after a
 * timeout or a failed request killed it; the workspace outlives it. */
static void
jail_down(struct session *s)
{
  if(s->jail_up && jail_close(&s->jail) < 0)
    s->jail_lingers = 1;
  s->jail_up = 0;
}

/* abortable: a jail for a call (or built ahead for one) is given up on
 * SIGTERM or a lost lease, -1 with ECANCELED; one that only the session's
 * end needs (memory, skills' removal) is built after them too. */
static int
jail_up(struct session *s, int abortable)
{
  if(s->jail_up && s->jail.fd >= 0)
    return 0;
  /* A request of the drainer's own (skills, memory) that failed killed it. */
  jail_down(s);
  if(jail_open(&s->jail, s->cfg, s->sid, s->item->id, memory_host_dir(s->mem),
               memory_ro_stores(s->mem), abortable ? should_abort : NULL, s) < 0) {
    if(errno == ECANCELED)
      log_warn("jail_open_aborted", "reason=%s", flag_raised(s->term) ? "sigterm" : "lease");
    else
      log_err("jail_open_failed", "errno=%d error=%s", errno, strerror(errno));
    return -1;
  }
  s->jail_up = 1;
  return 0;
}

/* A call the jail did not finish because the claim or the drainer is
 * ending. */
static void
call_aborted(struct session *s, struct call *c)
{
  enum lease_state ls = lease_state(s->lease);

  if(ls != LEASE_HELD) {
    /* The control plane took the item back (lease lost, or stopped):
     * as the official worker, post nothing, so whoever claims the
     * session's next item runs the call and answers it once.  Only our
     * own shutdown (SIGTERM) answers with a cancellation. */
    log_warn("tool_aborted", "tool_use_id=%s tool=%s reason=%s", c->id, c->name,
             ls == LEASE_LOST ? "lease_lost" : "stopped_by_control_plane");
    c->state = CALL_QUEUED;
    return;
  }
  c->result = error_result("%s: tool call cancelled: the worker is stopping", c->name);
  post_result(s, c);
}

static void
run_call(struct session *s, struct call *c)
{
  long timeout = call_timeout_ms(s, c);
  long long started = now_ms();
  enum jail_rc rc;
  cJSON *res = NULL;

  log_info("tool_call", "tool_use_id=%s tool=%s", c->id, c->name);
  if(jail_up(s, 1) < 0) {
    if(errno == ECANCELED) {
      call_aborted(s, c);
      return;
    }
    c->result = error_result("%s: the sandbox could not be started", c->name);
    post_result(s, c);
    return;
  }
  /* The jail enforces the tool's own timeout; the wall clock here catches a
   * jail that stopped answering. */
  s->running = c->name;
  s->running_since = started;
  snprintf(s->rs->tool, sizeof(s->rs->tool), "%s", c->name);
  snprintf(s->rs->tool_use_id, sizeof(s->rs->tool_use_id), "%s", c->id);
  s->rs->call_ms = wall_ms();
  runstate_publish(s->cfg->state_dir, s->rs);
  egress_call(&s->jail.egress, c->id);
  rc = jail_call(&s->jail, c->name, c->input, timeout, timeout + 30000, should_abort, s, &res);
  egress_call(&s->jail.egress, NULL);
  s->running = NULL;
  s->rs->tool[0] = s->rs->tool_use_id[0] = '\0';
  s->rs->call_ms = 0;
  runstate_publish(s->cfg->state_dir, s->rs);
  proctitle_set("sandhook: drain %s waiting", s->sid);
  if(rc != JAIL_OK)
    jail_down(s);
  if(rc == JAIL_ABORTED) {
    call_aborted(s, c);
    return;
  }
  if(rc == JAIL_FAILED)
    res = error_result("%s: the sandbox stopped responding", c->name);
  c->result = res;
  {
    int failed = json_true(res, "is_error");
    const char *reason = rc == JAIL_FAILED ? "sandbox_failed" : json_str(res, "reason");
    long exit_code = json_long(cJSON_GetObjectItemCaseSensitive(res, "exit_code"), -1, 255, -1);

    long long ms = now_ms() - started;

    if(failed)
      log_info("tool_done", "tool_use_id=%s tool=%s is_error=true duration_ms=%lld reason=%s "
               "exit_code=%ld", c->id, c->name, ms, reason ? reason : "tool_error", exit_code);
    else
      log_info("tool_done", "tool_use_id=%s tool=%s is_error=false duration_ms=%lld", c->id,
               c->name, ms);
    metrics_tool_call(c->name, failed ? (reason ? reason : "tool_error") : NULL, ms);
    audit_tool_call(c->id, c->name, c->input, res, ms);
  }
  post_result(s, c);
}

static struct call *
next_call(struct session *s)
{
  struct call *c;

  for(c = s->calls; c; c = c->next) {
    if(c->state == CALL_DONE || c->state == CALL_HELD ||
       (c->state == CALL_UNPOSTED && !c->repost))
      continue;
    if(strset_has(&s->answered, c->id)) {
      c->state = CALL_DONE;
      continue;
    }
    return c;
  }
  return NULL;
}

/* ---- the loop ---- */

cJSON *
session_fetch(struct api *api, const struct work_item *item, long *status)
{
  char path[512];

  *status = -1;
  if(!safe_id(item->data_id))
    return NULL;
  snprintf(path, sizeof(path), "/v1/sessions/%s", item->data_id);
  return session_get(api, item, path, "session_fetch_failed", status);
}

enum fetch { FETCH_FAILED = -1, FETCH_OK = 0, FETCH_ENDED = 1 };

/* The fetched session (session_fetch), kept in s: FETCH_ENDED when it is
 * terminated or gone (nothing left to serve), FETCH_FAILED when it could
 * not be read. */
static enum fetch
take_session(struct session *s, cJSON *root, long http)
{
  const char *status;
  enum fetch rc = FETCH_OK;

  if(!root) {
    /* A session that is gone has nothing left to serve. */
    s->terminated = http == 404;
    return http == 404 ? FETCH_ENDED : FETCH_FAILED;
  }
  status = json_str(root, "status");
  log_info("session_fetched", "status=%s", status ? status : "-");
  if(status && !strcmp(status, "terminated")) {
    s->terminated = 1;
    rc = FETCH_ENDED;
  }
  s->session = root;
  return rc;
}

static struct qnode *
pop(struct session *s, long wait_ms)
{
  struct qnode *n;

  pthread_mutex_lock(&s->mu);
  if(!s->head && wait_ms > 0) {
    struct timespec ts = deadline_in(wait_ms);

    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
  }
  n = s->head;
  if(n) {
    s->head = n->next;
    if(!s->head)
      s->tail = NULL;
  }
  pthread_mutex_unlock(&s->mu);
  return n;
}

static void
session_free(struct session *s)
{
  struct call *c, *cn;
  struct qnode *q, *qn;

  if(s->stream_started)
    stream_stop_now(s);
  if(s->skills && !s->terminated && jail_up(s, 0) == 0)
    skills_remove(&s->jail, s->skills);
  else
    cJSON_Delete(s->skills);
  if(s->jail_up)
    jail_hangup(&s->jail);
  /* The stop lets the control plane hand out the session's next item, and
   * the memory folder is the session's, not the item's: with one, the item
   * goes once the folder is removed, never while the next item is making
   * its own under the same name. */
  if(!s->mem)
    s->released(s->release_ctx, s->end);
  /* The host touches the trees the agent could write only once every
   * process of the jail is gone, and never when that is in doubt. */
  jail_down(s);
  memory_free(s->mem, !s->jail_lingers);
  if(s->mem)
    s->released(s->release_ctx, s->end);
  if(!s->terminated || s->jail_lingers)
    gc_touch(s->cfg, s->sid);
  cJSON_Delete(s->session);
  for(c = s->calls; c; c = cn) {
    cn = c->next;
    free(c->id);
    free(c->name);
    cJSON_Delete(c->input);
    cJSON_Delete(c->result);
    free(c);
  }
  for(q = s->head; q; q = qn) {
    qn = q->next;
    free(q->json);
    free(q);
  }
  strset_free(&s->seen);
  strset_free(&s->answered);
  strset_free(&s->allowed);
  strset_free(&s->denied);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
}

enum session_end
session_run(const struct config *cfg, struct api *api, struct lease *lease,
            const struct work_item *item, cJSON *record, long status, struct runstate *rs,
            const volatile sig_atomic_t *term,
            void (*released)(void *ctx, enum session_end end), void *ctx, int *ended)
{
  struct session s;
  pthread_condattr_t ca;
  enum session_end end;

  *ended = 0;
  memset(&s, 0, sizeof(s));
  s.cfg = cfg;
  s.api = api;
  s.lease = lease;
  s.item = item;
  s.term = term;
  s.rs = rs;
  s.sid = item->data_id;
  s.released = released;
  s.release_ctx = ctx;
  s.calls_tail = &s.calls;
  pthread_mutex_init(&s.mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s.cv, &ca);
  pthread_condattr_destroy(&ca);
  if(!safe_id(s.sid)) {
    log_err("session_id_invalid", "reason=unsafe_characters");
    cJSON_Delete(record);
    session_free(&s);
    return SESSION_DONE;
  }
  if(take_session(&s, record, status) != FETCH_OK) {
    session_free(&s);
    return SESSION_DONE;
  }
  /* Memory is planned first, since every jail of the item mounts it; a
   * store that cannot be mounted fails the item before anything runs. */
  if(memory_plan(&s.mem, cfg, s.session, item) < 0) {
    session_free(&s);
    return SESSION_DONE;
  }
  /* Skills and memory go in before the stream opens, so no call runs
   * without them. */
  if(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
       cJSON_GetObjectItemCaseSensitive(s.session, "agent"), "skills")) > 0) {
    if(jail_up(&s, 1) == 0)
      s.skills = skills_install(cfg, api, work_bearer(api, item), s.session, &s.jail);
    else
      log_warn("skills_skipped", "reason=%s", "the sandbox could not be started");
  }
  if(s.mem && (jail_up(&s, 0) < 0 || memory_download(s.mem, api, &s.jail) < 0)) {
    session_free(&s);
    return SESSION_DONE;
  }
  if(log_thread_create(&s.stream, NULL, stream_thread, &s) != 0) {
    log_err("stream_thread_failed", "errno=%d", errno);
    session_free(&s);
    return SESSION_DONE;
  }
  s.stream_started = 1;
  /* The jail is built while the stream opens and the model thinks, not
   * when the first call is already waiting; one that fails here is tried
   * again by that call, which reports it. */
  jail_up(&s, 1);
  while(!s.ended) {
    struct qnode *n;
    struct call *c;
    enum lease_state ls = lease_state(lease);

    if(flag_raised(term)) {
      end_session(&s, SESSION_TERM, "sigterm");
      break;
    }
    if(ls != LEASE_HELD) {
      end_session(&s, ls == LEASE_LOST ? SESSION_LOST : SESSION_DONE,
                  ls == LEASE_LOST ? "lease_lost" : "stop_requested");
      break;
    }
    c = s.reconciled ? next_call(&s) : NULL;
    n = pop(&s, c ? 0 : 200);
    if(n) {
      if(n->kind == Q_OPENED)
        reconcile(&s);
      else if(n->kind == Q_FATAL)
        end_session(&s, SESSION_DONE, "stream_fatal");
      else
        handle_json(&s, n->json);
      free(n->json);
      free(n);
      continue;     /* drain every queued event before running anything */
    }
    if(s.relist_at && now_ms() >= s.relist_at)
      reconcile(&s);
    if(c && s.reconciled) {
      if(c->state == CALL_UNPOSTED) {
        c->repost = 0;
        post_result(&s, c);
      }
      else {
        run_call(&s, c);
        /* Not on a claim that is gone: its token no longer counts. */
        if(s.mem && lease_state(lease) == LEASE_HELD && jail_up(&s, 0) == 0)
          memory_sync(s.mem, api, &s.jail);
      }
      continue;
    }
    if(s.idle_deadline && now_ms() >= s.idle_deadline)
      end_session(&s, SESSION_DONE, "idle_timeout");
  }
  end = s.end;
  /* After a lost lease the token is revoked: nothing more is sent. */
  if(s.mem && end != SESSION_LOST && jail_up(&s, 0) == 0)
    memory_finish(s.mem, api, &s.jail, s.clean);
  session_free(&s);
  *ended = s.terminated && !s.jail_lingers;
  return end;
}
