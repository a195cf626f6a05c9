#include "front/status.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/metrics.h"
#include "common/runstate.h"
#include "common/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECENT_SHOWN 10

static void
add_time(cJSON *o, const char *name, long long ms)
{
  char buf[32];
  time_t t = (time_t)(ms / 1000);
  struct tm tm;

  if(ms <= 0)
    return;
  gmtime_r(&t, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  cJSON_AddStringToObject(o, name, buf);
}

static void
add_age(cJSON *o, const char *name, long long since_ms, long long now)
{
  if(since_ms > 0)
    cJSON_AddNumberToObject(o, name, (double)((now - since_ms) / 1000));
}

static cJSON *
drainer_json(const struct runstate *rs, long long now)
{
  cJSON *d = cJSON_CreateObject();
  int alive = runstate_alive(rs);

  if(!d)
    return NULL;
  cJSON_AddNumberToObject(d, "slot", rs->slot);
  cJSON_AddNumberToObject(d, "pid", (double)rs->pid);
  cJSON_AddStringToObject(d, "state", !alive ? "dead" : rs->work_id[0] ? "serving" : "polling");
  add_time(d, "started", rs->started_ms);
  add_age(d, "age_s", rs->started_ms, now);
  if(rs->work_id[0]) {
    cJSON_AddStringToObject(d, "work_id", rs->work_id);
    cJSON_AddStringToObject(d, "session_id", rs->session_id);
    add_age(d, "work_age_s", rs->claimed_ms, now);
  }
  if(rs->tool[0]) {
    cJSON *call = cJSON_AddObjectToObject(d, "call");

    if(call) {
      cJSON_AddStringToObject(call, "tool", rs->tool);
      cJSON_AddStringToObject(call, "tool_use_id", rs->tool_use_id);
      add_time(call, "started", rs->call_ms);
      add_age(call, "running_s", rs->call_ms, now);
    }
  }
  return d;
}

/* Everything status shows, as one document: --json prints it, the text
 * form is written from it. */
static cJSON *
gather(const struct config *cfg)
{
  cJSON *doc = cJSON_CreateObject(), *drainers, *recent, *work, *errors, *e;
  long long now = wall_ms();
  int i, busy = 0;

  if(!doc)
    return NULL;
  cJSON_AddStringToObject(doc, "state_dir", cfg->state_dir);
  cJSON_AddNumberToObject(doc, "slots", cfg->max_sessions);
  drainers = cJSON_AddArrayToObject(doc, "drainers");
  for(i = 0; drainers && i < cfg->max_sessions; i++) {
    struct runstate rs;

    if(runstate_read(cfg->state_dir, i, &rs) == 0) {
      busy += runstate_alive(&rs) && rs.work_id[0];
      cJSON_AddItemToArray(drainers, drainer_json(&rs, now));
    }
  }
  cJSON_AddNumberToObject(doc, "slots_busy", busy);
  work = cJSON_AddArrayToObject(doc, "recent_work");
  errors = cJSON_AddArrayToObject(doc, "recent_errors");
  recent = runstate_recent(cfg->state_dir, 200);
  cJSON_ArrayForEach(e, recent) {
    const char *kind = json_str(e, "kind");
    cJSON *to = kind && !strcmp(kind, "work") ? work : kind && !strcmp(kind, "error") ? errors : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "time_ms");
    cJSON *c;

    if(!to || cJSON_GetArraySize(to) >= RECENT_SHOWN || !(c = cJSON_Duplicate(e, 1)))
      continue;
    if(cJSON_IsNumber(t))
      add_time(c, "time", (long long)t->valuedouble);
    cJSON_DeleteItemFromObjectCaseSensitive(c, "time_ms");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "kind");
    cJSON_AddItemToArray(to, c);
  }
  cJSON_Delete(recent);
  return doc;
}

static void
duration(char *buf, size_t cap, const cJSON *o, const char *name)
{
  long s = json_long(cJSON_GetObjectItemCaseSensitive(o, name), 0, 1L << 40, -1);

  if(s < 0)
    snprintf(buf, cap, "?");
  else if(s < 60)
    snprintf(buf, cap, "%lds", s);
  else if(s < 3600)
    snprintf(buf, cap, "%ldm%02lds", s / 60, s % 60);
  else
    snprintf(buf, cap, "%ldh%02ldm", s / 3600, s / 60 % 60);
}

static const char *
str(const cJSON *o, const char *name)
{
  const char *v = json_str(o, name);

  return v ? v : "-";
}

static void
print_text(const cJSON *doc)
{
  const cJSON *d, *w, *e;
  char a[32], b[32];

  printf("sandhook status: %s, %d of %d slots busy\n", str(doc, "state_dir"),
         (int)json_long(cJSON_GetObjectItemCaseSensitive(doc, "slots_busy"), 0, 1 << 20, 0),
         (int)json_long(cJSON_GetObjectItemCaseSensitive(doc, "slots"), 0, 1 << 20, 0));
  if(!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "drainers")))
    printf("no drainer running\n");
  cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(doc, "drainers")) {
    const cJSON *call = cJSON_GetObjectItemCaseSensitive(d, "call");
    const char *state = str(d, "state");

    printf("slot %ld  pid %ld  %s", json_long(cJSON_GetObjectItemCaseSensitive(d, "slot"), 0, 1 << 20, 0),
           json_long(cJSON_GetObjectItemCaseSensitive(d, "pid"), 0, 1L << 40, 0), state);
    if(!strcmp(state, "dead"))
      printf("  (it exited without cleaning up: killed?)%s%s", json_str(d, "work_id") ? "  held " : "",
             json_str(d, "work_id") ? str(d, "work_id") : "");
    else if(json_str(d, "work_id")) {
      duration(a, sizeof(a), d, "work_age_s");
      printf("  work %s  session %s  for %s", str(d, "work_id"), str(d, "session_id"), a);
    }
    else {
      duration(a, sizeof(a), d, "age_s");
      printf("  for %s", a);
    }
    if(call && strcmp(state, "dead")) {
      duration(b, sizeof(b), call, "running_s");
      printf("\n        call %s %s  running %s", str(call, "tool"), str(call, "tool_use_id"), b);
    }
    printf("\n");
  }
  printf("recent work items:%s\n",
         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "recent_work")) ? "" : " none");
  cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(doc, "recent_work"))
    printf("  %s  %s  %s  %s  %ldms\n", str(w, "time"), str(w, "work_id"), str(w, "session_id"),
           str(w, "outcome"), json_long(cJSON_GetObjectItemCaseSensitive(w, "duration_ms"), 0, 1L << 50, 0));
  printf("recent errors:%s\n",
         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "recent_errors")) ? "" : " none");
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "recent_errors"))
    printf("  %s\n", str(e, "line"));
}

int
status_main(const struct config *cfg, int json)
{
  cJSON *doc;

  if(access(cfg->state_dir, R_OK | X_OK) < 0) {
    fprintf(stderr, "sandhook status: cannot read the state directory %s: %s (see "
            "SANDHOOK_STATE_DIR; run as the user sandhook runs as)\n", cfg->state_dir,
            strerror(errno));
    return 1;
  }
  if(!(doc = gather(cfg))) {
    fprintf(stderr, "sandhook status: out of memory\n");
    return 1;
  }
  if(json) {
    char *text = cJSON_Print(doc);

    if(text)
      printf("%s\n", text);
    free(text);
  }
  else
    print_text(doc);
  cJSON_Delete(doc);
  return 0;
}

int
metrics_main(const struct config *cfg)
{
  struct strbuf sb = STRBUF_INIT;

  if(metrics_open(cfg->state_dir) < 0) {
    fprintf(stderr, "sandhook metrics: cannot open %s/run/metrics: %s (see SANDHOOK_STATE_DIR)\n",
            cfg->state_dir, strerror(errno));
    return 1;
  }
  metrics_render(&sb, cfg->state_dir, cfg->max_sessions);
  if(sb.failed || fwrite(sb.data, 1, sb.len, stdout) != sb.len) {
    sb_release(&sb);
    return 1;
  }
  sb_release(&sb);
  return 0;
}
