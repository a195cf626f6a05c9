#include "drain/lease.h"
#include "common/clock.h"
#include "common/log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

long
lease_ttl_from_json(const cJSON *v)
{
  /* Capped before the cast: a double past long's range is undefined. */
  if(!cJSON_IsNumber(v) || !(v->valuedouble > 0))
    return 0;
  return v->valuedouble >= 86400.0 ? 86400000L : (long)(v->valuedouble * 1000);
}

static long
clamp_interval(long ttl_ms)
{
  long iv = ttl_ms / 2;

  if(iv < 1000)
    iv = 1000;
  if(iv > 30000)
    iv = 30000;
  return iv;
}

static void
set_state(struct lease *l, enum lease_state st, const char *why)
{
  pthread_mutex_lock(&l->mu);
  if(l->state == LEASE_HELD) {
    l->state = st;
    log_warn(st == LEASE_LOST ? "lease_lost" : "lease_stop_requested",
             "reason=%s", why);
  }
  pthread_mutex_unlock(&l->mu);
}

enum beat { BEAT_FAILED = -1, BEAT_HELD = 0, BEAT_ENDED = 1 };

/* One heartbeat: held, ended by its verdict (lease_state says which), or
 * failed in a way worth trying again. */
static enum beat
beat(struct lease *l)
{
  char path[768], last[96];
  char *esc;
  struct api_resp r;
  struct api_req rq = { 0 };
  cJSON *root = NULL;
  const cJSON *v;
  enum beat rc = BEAT_FAILED;
  long ttl;

  pthread_mutex_lock(&l->mu);
  snprintf(last, sizeof(last), "%s", l->last);
  rq.timeout_ms = l->interval_ms;
  pthread_mutex_unlock(&l->mu);
  esc = api_escape(l->api, last);
  if(!esc)
    return BEAT_FAILED;
  snprintf(path, sizeof(path),
           "/v1/environments/%s/work/%s/heartbeat?expected_last_heartbeat=%s",
           l->api->cfg->environment_id, l->item->id, esc);
  free(esc);
  rq.method = "POST";
  rq.path = path;
  rq.token = work_bearer(l->api, l->item);
  rq.beta = API_BETA_WORK;
  rq.max_retries = 0;
  if(api_call(l->api, &rq, &r) < 0) {
    api_log_failure(l->api, &rq, &r, "heartbeat_failed");
    goto out;
  }
  if(r.status == 412) {
    set_state(l, LEASE_LOST, "precondition_failed");
    rc = BEAT_ENDED;
    goto out;
  }
  if(r.status != 200) {
    api_log_failure(l->api, &rq, &r, "heartbeat_failed");
    if(!api_transient(r.status)) {
      set_state(l, LEASE_LOST, "fatal_status");
      rc = BEAT_ENDED;
    }
    goto out;
  }
  root = cJSON_ParseWithLength(r.body, r.len);
  v = cJSON_GetObjectItemCaseSensitive(root, "last_heartbeat");
  if(!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof(l->last)) {
    log_warn("heartbeat_failed", "reason=bad_response");
    goto out;
  }
  pthread_mutex_lock(&l->mu);
  strcpy(l->last, v->valuestring);
  l->last_ok_ms = now_ms();
  ttl = lease_ttl_from_json(cJSON_GetObjectItemCaseSensitive(root, "ttl_seconds"));
  if(ttl > 0) {
    l->ttl_ms = ttl;
    l->interval_ms = clamp_interval(ttl);
  }
  pthread_mutex_unlock(&l->mu);
  rc = BEAT_HELD;
  v = cJSON_GetObjectItemCaseSensitive(root, "state");
  if(cJSON_IsString(v) && (!strcmp(v->valuestring, "stopping") ||
                           !strcmp(v->valuestring, "stopped"))) {
    set_state(l, LEASE_STOP, v->valuestring);
    rc = BEAT_ENDED;
  }
  v = cJSON_GetObjectItemCaseSensitive(root, "lease_extended");
  if(rc == BEAT_HELD && cJSON_IsFalse(v)) {
    set_state(l, LEASE_STOP, "not_extended");
    rc = BEAT_ENDED;
  }
out:
  cJSON_Delete(root);
  api_resp_free(&r);
  return rc;
}

/* Waits ms on the lease's condition, or less when lease_end asks to quit:
 * 1 when it asked.  Called with l->mu held. */
static int
wait_or_quit(struct lease *l, long ms)
{
  struct timespec ts = deadline_in(ms);

  while(!l->quit && pthread_cond_timedwait(&l->cv, &l->mu, &ts) != ETIMEDOUT)
    ;
  return l->quit;
}

/* The first beat claims the lease; a transient failure is tried again a
 * few times before the item is left to be reclaimed.  Its verdict goes to
 * lease_confirm. */
static int
first_beat(struct lease *l)
{
  enum beat rc;
  int attempt, quit = 0;

  for(attempt = 0; (rc = beat(l)) == BEAT_FAILED && attempt < 3; attempt++) {
    pthread_mutex_lock(&l->mu);
    quit = wait_or_quit(l, 500L << attempt);
    pthread_mutex_unlock(&l->mu);
    if(quit)
      break;
  }
  if(rc != BEAT_HELD)
    set_state(l, LEASE_LOST, "first_heartbeat_failed");    /* unless the beat said why */
  pthread_mutex_lock(&l->mu);
  if(rc == BEAT_HELD)
    log_info("lease_held", "ttl_ms=%ld interval_ms=%ld", l->ttl_ms, l->interval_ms);
  l->first_done = 1;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  return rc == BEAT_HELD;
}

static void *
lease_thread(void *p)
{
  struct lease *l = p;

  if(!first_beat(l))
    return NULL;
  pthread_mutex_lock(&l->mu);
  while(!l->quit && l->state == LEASE_HELD) {
    enum beat rc;

    if(wait_or_quit(l, l->interval_ms))
      break;
    pthread_mutex_unlock(&l->mu);
    rc = beat(l);
    pthread_mutex_lock(&l->mu);
    if(rc == BEAT_FAILED && now_ms() - l->last_ok_ms > l->ttl_ms) {
      pthread_mutex_unlock(&l->mu);
      set_state(l, LEASE_LOST, "no_heartbeat_within_ttl");
      pthread_mutex_lock(&l->mu);
    }
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

int
lease_start(struct lease *l, struct api *api, const struct work_item *item)
{
  pthread_condattr_t ca;

  memset(l, 0, sizeof(*l));
  l->item = item;
  l->state = LEASE_HELD;
  strcpy(l->last, "NO_HEARTBEAT");
  l->ttl_ms = 90000;
  l->interval_ms = 30000;
  l->last_ok_ms = now_ms();
  pthread_mutex_init(&l->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&l->cv, &ca);
  pthread_condattr_destroy(&ca);
  l->api = api;
  api->cancel = &l->cancel;
  if(log_thread_create(&l->thread, NULL, lease_thread, l) != 0) {
    set_state(l, LEASE_LOST, "thread_create_failed");
    l->first_done = 1;
    return -1;
  }
  l->running = 1;
  return 0;
}

int
lease_confirm(struct lease *l)
{
  int held;

  pthread_mutex_lock(&l->mu);
  while(!l->first_done)
    pthread_cond_wait(&l->cv, &l->mu);
  held = l->state == LEASE_HELD;
  pthread_mutex_unlock(&l->mu);
  return held ? 0 : -1;
}

enum lease_state
lease_state(struct lease *l)
{
  enum lease_state st;

  pthread_mutex_lock(&l->mu);
  st = l->state;
  pthread_mutex_unlock(&l->mu);
  return st;
}

long
lease_ttl_ms(struct lease *l)
{
  long t;

  pthread_mutex_lock(&l->mu);
  t = l->ttl_ms;
  pthread_mutex_unlock(&l->mu);
  return t;
}

void
lease_end(struct lease *l)
{
  if(l->running) {
    pthread_mutex_lock(&l->mu);
    l->quit = 1;
    flag_raise(&l->cancel);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    l->running = 0;
  }
  if(l->api)
    l->api->cancel = NULL;      /* l->cancel goes with l */
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
}
