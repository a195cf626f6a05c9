#include "common/metrics.h"
#include "common/fsutil.h"
#include "common/protocol.h"
#include "common/runstate.h"
#include "common/statedir.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const int delivery_statuses[] = { 200, 202, 400, 401, 405, 413, 500, 503 };
#define N_DELIVERY (N_ELEMENTS(delivery_statuses) + 1)          /* + other */

static const char *const outcome_names[WORK_OUTCOMES] = {
  "done", "lease_lost", "terminated", "not_a_session", "ack_failed", "lease_failed"
};

const char *
metrics_outcome_name(enum work_outcome o)
{
  return o < WORK_OUTCOMES ? outcome_names[o] : "?";
}

/* "none" first: a success. */
static const char *const error_names[] = {
  "none", "tool_error", "exit_code", "timeout", "terminated", "sandbox_failed"
};
#define N_ERRORS N_ELEMENTS(error_names)

static const double bucket_s[] = {
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600
};
#define N_BUCKETS N_ELEMENTS(bucket_s)

/* Matched in order against the path; the first whose every part occurs. */
static const struct endpoint {
  const char *name, *method, *part1, *part2;
} endpoints[] = {
  { "work_poll", NULL, "/work/poll", NULL },
  { "work_stats", NULL, "/work/stats", NULL },
  { "work_ack", NULL, "/work/", "/ack" },
  { "work_heartbeat", NULL, "/work/", "/heartbeat" },
  { "work_stop", NULL, "/work/", "/stop" },
  { "event_stream", NULL, "/events/stream", NULL },
  { "events_send", "POST", "/events", NULL },
  { "events_list", NULL, "/events", NULL },
  { "skills", NULL, "/skills", NULL },
  { "memory_stores", NULL, "/memory_stores", NULL },
  { "session", NULL, "/v1/sessions/", NULL },
  { "other", NULL, "", NULL },
};
#define N_ENDPOINTS N_ELEMENTS(endpoints)

static const int api_statuses[] = {
  0, 400, 401, 403, 404, 408, 409, 412, 413, 422, 429, 500, 502, 503, 504, 529
};
#define N_API_STATUS (N_ELEMENTS(api_statuses) + 1)             /* + other */

#define MAGIC "SHMETR01"

struct table {
  char magic[8];
  uint64_t size;
  uint64_t deliveries[N_DELIVERY];
  uint64_t work_items[WORK_OUTCOMES];
  uint64_t tool_calls[TOOL_COUNT][N_ERRORS];
  uint64_t tool_bucket[TOOL_COUNT][N_BUCKETS];      /* each bucket alone, not cumulative */
  uint64_t tool_us[TOOL_COUNT];
  uint64_t api_errors[N_ENDPOINTS][N_API_STATUS];
  uint64_t lease_losses;
};

static struct table *table;

static int
table_valid(const struct table *t)
{
  return !memcmp(t->magic, MAGIC, 8) && t->size == sizeof(*t);
}

/* A fresh table: the magic, its size, zeros. */
static const struct table *
fresh_table(void)
{
  static struct table fresh;

  fresh.size = sizeof(fresh);
  memcpy(fresh.magic, MAGIC, 8);
  return &fresh;
}

/* Opens, locks and maps the table; 1 when another process replaced the
 * file meanwhile (try again), -1 on an error.
 *
 * A new table is written whole, never grown with ftruncate: a sparse page
 * of a mapping on a full filesystem is SIGBUS at the first write, where a
 * failed write is only an error.  A table of another layout is never cut
 * in place either (a process of the old version may have it mapped, and a
 * shorter file would kill it with SIGBUS): a fresh file is renamed over it. */
static int
map_table(const char *path)
{
  struct stat st, now;
  struct table *t;
  int fd, rc = -1;

  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if(fd < 0)
    return -1;
  if(flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0 || stat(path, &now) < 0)
    goto out;
  rc = 1;
  if(st.st_ino != now.st_ino || st.st_dev != now.st_dev)
    goto out;
  if(st.st_size == 0) {
    if(pwrite(fd, fresh_table(), sizeof(*t), 0) != (ssize_t)sizeof(*t)) {
      int e = errno;

      unlink(path);                 /* empty, and ours alone: the lock */
      errno = e ? e : ENOSPC;
      rc = -1;
      goto out;
    }
  }
  else if((size_t)st.st_size != sizeof(*t)) {
    rc = write_file_atomic(path, fresh_table(), sizeof(*t), 0644) < 0 ? -1 : 1;
    goto out;
  }
  t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if(t == MAP_FAILED) {
    rc = -1;
    goto out;
  }
  if(!table_valid(t)) {
    munmap(t, sizeof(*t));
    rc = write_file_atomic(path, fresh_table(), sizeof(*t), 0644) < 0 ? -1 : 1;
    goto out;
  }
  table = t;
  rc = 0;
out:
  {
    int e = errno;

    /* Unlocked by hand: the mapping keeps the open file, and with it the
     * lock, alive after close. */
    flock(fd, LOCK_UN);
    close(fd);
    errno = e;
  }
  return rc;
}

int
metrics_open(const char *state_dir)
{
  char path[PATH_MAX], run[PATH_MAX];
  int tries, rc = -1;

  if(table)
    return 0;
  if(statedir_path(path, sizeof(path), state_dir, STATEDIR_RUN "/metrics") < 0 ||
     statedir_path(run, sizeof(run), state_dir, STATEDIR_RUN) < 0)
    return -1;
  if(access(run, F_OK) < 0 && mkdir_p(run, 0700) < 0)
    return -1;
  for(tries = 0; tries < 4 && (rc = map_table(path)) == 1; tries++)
    ;
  if(rc == 1)
    errno = EAGAIN;
  return rc == 0 ? 0 : -1;
}

static void
bump(uint64_t *c, uint64_t by)
{
  __atomic_add_fetch(c, by, __ATOMIC_RELAXED);
}

static uint64_t
get(const uint64_t *c)
{
  return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void
metrics_delivery(int http_status)
{
  size_t i;

  if(!table)
    return;
  for(i = 0; i < N_ELEMENTS(delivery_statuses) && delivery_statuses[i] != http_status; i++)
    ;
  bump(&table->deliveries[i], 1);
}

void
metrics_work_item(enum work_outcome outcome)
{
  if(table && outcome < WORK_OUTCOMES)
    bump(&table->work_items[outcome], 1);
}

void
metrics_tool_call(const char *tool, const char *error, long long duration_ms)
{
  enum sandbox_tool t = sandbox_tool_lookup(tool);
  size_t e = 0, b;

  if(!table || t == TOOL_NONE)
    return;
  if(error) {
    for(e = 1; e < N_ERRORS && strcmp(error_names[e], error); e++)
      ;
    if(e == N_ERRORS)
      e = 1;                          /* tool_error */
  }
  if(duration_ms < 0)
    duration_ms = 0;
  bump(&table->tool_calls[t][e], 1);
  bump(&table->tool_us[t], (uint64_t)duration_ms * 1000);
  for(b = 0; b < N_BUCKETS && (double)duration_ms / 1000.0 > bucket_s[b]; b++)
    ;
  if(b < N_BUCKETS)
    bump(&table->tool_bucket[t][b], 1);
}

static size_t
endpoint_of(const char *method, const char *path)
{
  size_t i;

  for(i = 0; i < N_ENDPOINTS - 1; i++) {
    const struct endpoint *e = &endpoints[i];
    const char *p = strstr(path, e->part1);

    if(p && (!e->method || !strcmp(e->method, method)) &&
       (!e->part2 || strstr(p + strlen(e->part1), e->part2)))
      return i;
  }
  return N_ENDPOINTS - 1;
}

void
metrics_api_error(const char *method, const char *path, long status)
{
  size_t s;

  if(!table)
    return;
  for(s = 0; s < N_ELEMENTS(api_statuses) && api_statuses[s] != status; s++)
    ;
  bump(&table->api_errors[endpoint_of(method, path)][s], 1);
}

void
metrics_lease_lost(void)
{
  if(table)
    bump(&table->lease_losses, 1);
}

static void
header(struct strbuf *sb, const char *name, const char *type, const char *help)
{
  sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
render_counters(struct strbuf *sb)
{
  static const struct table zero;
  const struct table *t = table ? table : &zero;
  size_t i, j;

  header(sb, "sandhook_deliveries_total", "counter", "Webhook requests answered, by HTTP status.");
  for(i = 0; i < N_DELIVERY; i++) {
    if(i < N_ELEMENTS(delivery_statuses))
      sb_printf(sb, "sandhook_deliveries_total{status=\"%d\"} %llu\n", delivery_statuses[i],
                (unsigned long long)get(&t->deliveries[i]));
    else
      sb_printf(sb, "sandhook_deliveries_total{status=\"other\"} %llu\n",
                (unsigned long long)get(&t->deliveries[i]));
  }
  header(sb, "sandhook_work_items_total", "counter", "Work items claimed, by how they ended.");
  for(i = 0; i < WORK_OUTCOMES; i++)
    sb_printf(sb, "sandhook_work_items_total{outcome=\"%s\"} %llu\n", outcome_names[i],
              (unsigned long long)get(&t->work_items[i]));
  header(sb, "sandhook_tool_calls_total", "counter",
         "Tool calls run in the jail, by tool and error (none for a success).");
  for(i = 0; i < TOOL_COUNT; i++)
    for(j = 0; j < N_ERRORS; j++)
      sb_printf(sb, "sandhook_tool_calls_total{tool=\"%s\",error=\"%s\"} %llu\n",
                sandbox_tool_name((enum sandbox_tool)i), error_names[j],
                (unsigned long long)get(&t->tool_calls[i][j]));
  header(sb, "sandhook_tool_call_duration_seconds", "histogram",
         "Time from a call's start in the jail to its result, by tool.");
  for(i = 0; i < TOOL_COUNT; i++) {
    const char *name = sandbox_tool_name((enum sandbox_tool)i);
    unsigned long long cum = 0, count = 0;

    for(j = 0; j < N_ERRORS; j++)
      count += get(&t->tool_calls[i][j]);
    for(j = 0; j < N_BUCKETS; j++) {
      cum += get(&t->tool_bucket[i][j]);
      sb_printf(sb, "sandhook_tool_call_duration_seconds_bucket{tool=\"%s\",le=\"%g\"} %llu\n",
                name, bucket_s[j], cum);
    }
    sb_printf(sb, "sandhook_tool_call_duration_seconds_bucket{tool=\"%s\",le=\"+Inf\"} %llu\n"
              "sandhook_tool_call_duration_seconds_sum{tool=\"%s\"} %.6f\n"
              "sandhook_tool_call_duration_seconds_count{tool=\"%s\"} %llu\n",
              name, count, name, (double)get(&t->tool_us[i]) / 1e6, name, count);
  }
  header(sb, "sandhook_api_errors_total", "counter",
         "Control-plane calls that failed, by endpoint and HTTP status (0: no answer).");
  for(i = 0; i < N_ENDPOINTS; i++)
    for(j = 0; j < N_API_STATUS; j++) {
      unsigned long long v = get(&t->api_errors[i][j]);

      if(!v)
        continue;
      if(j < N_ELEMENTS(api_statuses))
        sb_printf(sb, "sandhook_api_errors_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
                  endpoints[i].name, api_statuses[j], v);
      else
        sb_printf(sb, "sandhook_api_errors_total{endpoint=\"%s\",status=\"other\"} %llu\n",
                  endpoints[i].name, v);
    }
  header(sb, "sandhook_lease_losses_total", "counter",
         "Work items whose lease was lost while they were served.");
  sb_printf(sb, "sandhook_lease_losses_total %llu\n", (unsigned long long)get(&t->lease_losses));
}

void
metrics_render(struct strbuf *sb, const char *state_dir, int max_sessions)
{
  int running, busy;

  runstate_count(state_dir, max_sessions, &running, &busy);
  render_counters(sb);
  header(sb, "sandhook_slots", "gauge", "Drainers allowed at once (SANDHOOK_MAX_SESSIONS).");
  sb_printf(sb, "sandhook_slots %d\n", max_sessions);
  header(sb, "sandhook_slots_busy", "gauge", "Slots whose drainer holds a work item now.");
  sb_printf(sb, "sandhook_slots_busy %d\n", busy);
  header(sb, "sandhook_drainers_running", "gauge", "Drainers running now, busy or polling.");
  sb_printf(sb, "sandhook_drainers_running %d\n", running);
}

int
metrics_write_file(const char *path, const char *state_dir, int max_sessions)
{
  struct strbuf sb = STRBUF_INIT;
  int rc;

  metrics_render(&sb, state_dir, max_sessions);
  if(sb.failed) {
    sb_release(&sb);
    errno = ENOMEM;
    return -1;
  }
  rc = write_file_atomic(path, sb.data, sb.len, 0644);
  sb_release(&sb);
  return rc;
}
