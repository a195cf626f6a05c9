#include "drain/drain.h"
#include "drain/api.h"
#include "common/fsutil.h"
#include "drain/lease.h"
#include "common/clock.h"
#include "common/proctitle.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/runstate.h"
#include "common/statedir.h"
#include "drain/audit.h"
#include "drain/gc.h"
#include "drain/spares.h"
#include "drain/queue.h"
#include "drain/session.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t drain_term;

static void
on_term(int sig)
{
  (void)sig;
  drain_term = 1;
}

/* A slot the front locked and passed us (drain_adopt_slot), used first. */
static int adopted_slot = -1, adopted_index = -1;

int
drain_adopt_slot(const struct config *cfg, int fd, const char *index_text)
{
  char path[PATH_MAX], *end;
  const char *why = NULL;
  struct stat a, b;
  long i;

  errno = 0;
  i = strtol(index_text, &end, 10);
  if(errno || end == index_text || *end || i < 0 || i >= cfg->max_sessions ||
     runstate_slot_path(path, sizeof(path), cfg->state_dir, (int)i) < 0)
    why = "no such slot";
  else if(fstat(fd, &a) < 0 || stat(path, &b) < 0)
    why = strerror(errno);
  else if(a.st_ino != b.st_ino || a.st_dev != b.st_dev)
    why = "the descriptor is not that slot's file";
  else if(flock(fd, LOCK_EX | LOCK_NB) < 0)
    why = "another process holds the slot";
  else if(fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
    why = strerror(errno);
  if(why) {
    /* acquire_slot finds one instead. */
    log_warn("slot_handoff_ignored", "slot=%s max_sessions=%d reason=%s", index_text,
             cfg->max_sessions, why);
    close(fd);
    return -1;
  }
  adopted_slot = fd;
  adopted_index = (int)i;
  return 0;
}

/* Returns a locked slot descriptor (its number in *index), or -1 when
 * every slot is taken. */
static int
acquire_slot(const struct config *cfg, int *index)
{
  int fd = adopted_slot;

  if(fd >= 0) {
    *index = adopted_index;
    adopted_slot = -1;
    return fd;
  }
  return runstate_slot_lock(cfg->state_dir, cfg->max_sessions, index);
}

enum item_end { ITEM_NEXT, ITEM_EXIT };

/* A drainer that dies holding an item (kill -9, the OOM killer) leaves its
 * claim in its slot file.  Its lease lapses within a TTL, and only a poll
 * after that reclaims the item, so the next drainer, finding such claims,
 * keeps polling until they must have lapsed: the webhook that woke it is
 * not lost. */
#define ORPHAN_MAX 16

struct orphans {
  char id[ORPHAN_MAX][128];
  int n;
  long long until_ms;
};

static void
claim_record(int slot, const struct work_item *item, long ttl_ms)
{
  char buf[192];
  int n = item ? snprintf(buf, sizeof(buf), "%s %ld\n", item->id, ttl_ms) : 0;

  if(slot < 0)
    return;
  if(ftruncate(slot, 0) < 0 || (n > 0 && pwrite(slot, buf, (size_t)n, 0) != n))
    log_warn("slot_record_failed", "errno=%d error=%s", errno, strerror(errno));
}

/* Reads and clears the claims of dead drainers: slot files nobody holds
 * (own is ours, already locked) that still name an item. */
static void
orphan_claims(const struct config *cfg, int own, struct orphans *o)
{
  struct stat ost;
  char path[PATH_MAX];
  int i;

  memset(o, 0, sizeof(*o));
  if(fstat(own, &ost) < 0)
    return;
  for(i = 0; i < cfg->max_sessions; i++) {
    char buf[192], id[128];
    struct stat st;
    ssize_t n;
    long ttl;
    int fd;

    if(runstate_slot_path(path, sizeof(path), cfg->state_dir, i) < 0 ||
       (fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
      continue;
    if(fstat(fd, &st) == 0 && st.st_ino == ost.st_ino && st.st_dev == ost.st_dev) {
      close(fd);
      fd = own;
    }
    else if(flock(fd, LOCK_EX | LOCK_NB) < 0) {
      close(fd);                    /* a live drainer's */
      continue;
    }
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    if(n > 0 && sscanf(buf, "%127s %ld", id, &ttl) == 2 && o->n < ORPHAN_MAX) {
      long long until = now_ms() + (ttl < 0 ? 0 : ttl > 120000 ? 120000 : ttl) +
                        cfg->reclaim_older_than_ms + 1000;

      log_warn("orphan_claim", "work_id=%s ttl_ms=%ld reason=%s", id, ttl,
               "a drainer died holding it; polling until its lease lapses");
      snprintf(o->id[o->n++], sizeof(o->id[0]), "%s", id);
      if(until > o->until_ms)
        o->until_ms = until;
      claim_record(fd, NULL, 0);
    }
    if(fd != own)
      close(fd);
  }
}

/* An orphan claimed again is no longer waited for. */
static void
orphan_reclaimed(struct orphans *o, const char *id)
{
  int i;

  for(i = 0; i < o->n; i++)
    if(!strcmp(o->id[i], id)) {
      memmove(o->id[i], o->id[i + 1], sizeof(o->id[0]) * (size_t)(o->n - i - 1));
      if(--o->n == 0)
        o->until_ms = 0;
      return;
    }
}

/* For node_exporter's textfile collector: after each item and at exit,
 * so the file is current when nothing runs. */
static void
write_metrics(const struct config *cfg)
{
  if(cfg->metrics_file && metrics_write_file(cfg->metrics_file, cfg->state_dir, cfg->max_sessions) < 0)
    log_warn("metrics_file_failed", "path=%s error=%s", cfg->metrics_file, strerror(errno));
}

/* How an item ended, everywhere an operator looks: the log line, the
 * counters, and status's list of recent outcomes. */
static void
item_finished(const struct config *cfg, const struct work_item *item, enum work_outcome o,
              long long started)
{
  long long ms = now_ms() - started;
  cJSON *note = cJSON_CreateObject();

  /* The audit trail's head goes to the log too: a copy of it elsewhere is
   * what proves the trail's last lines. */
  if(cfg->audit_file)
    log_info("work_finished", "outcome=%s duration_ms=%lld audit_head=%s", metrics_outcome_name(o), ms,
             audit_head()[0] ? audit_head() : "-");
  else
    log_info("work_finished", "outcome=%s duration_ms=%lld", metrics_outcome_name(o), ms);
  metrics_work_item(o);
  if(note && cJSON_AddStringToObject(note, "kind", "work") &&
     cJSON_AddStringToObject(note, "work_id", item->id) &&
     cJSON_AddStringToObject(note, "session_id", item->data_id) &&
     cJSON_AddStringToObject(note, "outcome", metrics_outcome_name(o)) &&
     cJSON_AddNumberToObject(note, "duration_ms", (double)ms))
    runstate_note(cfg->state_dir, note);
  cJSON_Delete(note);
}

/* The session is fetched while the lease's first beat is out (lease.h);
 * 1 when that beat held the lease, 0 when not. */
static int
fetch_while_beating(struct api *api, const struct work_item *item, struct lease *lease,
                    cJSON **record, long *http)
{
  *record = session_fetch(api, item, http);
  return lease_confirm(lease) == 0;
}

/* acked: the item came acknowledged (sandhook handle: the CLI's poller
 * acked it).  slot may be -1: no slot file to keep the claim in. */
static enum item_end
handle_item(const struct config *cfg, struct api *api, struct api *beat, struct work_item *item,
            int slot, struct runstate *rs, int acked)
{
  struct lease lease;
  enum session_end end;
  enum work_outcome outcome;
  cJSON *record = NULL;
  long http = 0;
  long long started = now_ms();
  int ended = 0;

  log_ids(item->id, item->data_id);
  audit_ids(item->id, item->data_id);
  proctitle_set("sandhook: drain %s", item->data_id);
  log_info("work_claimed", "type=%s has_sessions_token=%s", item->data_type,
           item->sessions_token ? "true" : "false");
  snprintf(rs->work_id, sizeof(rs->work_id), "%s", item->id);
  snprintf(rs->session_id, sizeof(rs->session_id), "%s", item->data_id);
  rs->claimed_ms = wall_ms();
  runstate_publish(cfg->state_dir, rs);
  if(!acked && queue_ack(api, item) < 0) {
    queue_stop(api, item);
    outcome = WORK_ACK_FAILED;
  }
  else if(strcmp(item->data_type, "session")) {
    log_info("work_not_a_session", "type=%s", item->data_type);
    queue_stop(api, item);
    outcome = WORK_NOT_A_SESSION;
  }
  else if(lease_start(&lease, beat, item) < 0 ||
          !fetch_while_beating(api, item, &lease, &record, &http)) {
    enum lease_state st = lease_state(&lease);

    cJSON_Delete(record);
    lease_end(&lease);
    if(st != LEASE_LOST)
      queue_stop(api, item);
    else
      metrics_lease_lost();
    outcome = st == LEASE_LOST ? WORK_LEASE_LOST : WORK_LEASE_FAILED;
  }
  else {
    claim_record(slot, item, lease_ttl_ms(&lease));
    end = session_run(cfg, api, &lease, item, record, http, rs, &drain_term, &ended);
    lease_end(&lease);
    claim_record(slot, NULL, 0);
    if(end != SESSION_LOST)
      queue_stop(api, item);
    else
      metrics_lease_lost();
    if(ended)
      gc_session(cfg, item->data_id);
    outcome = end == SESSION_DONE ? WORK_DONE : end == SESSION_LOST ? WORK_LEASE_LOST
                                                                     : WORK_TERMINATED;
  }
  item_finished(cfg, item, outcome, started);
  audit_ids(NULL, NULL);
  rs->work_id[0] = rs->session_id[0] = '\0';
  rs->claimed_ms = 0;
  runstate_publish(cfg->state_dir, rs);
  write_metrics(cfg);
  return outcome == WORK_TERMINATED ? ITEM_EXIT : ITEM_NEXT;
}

struct polling {
  int failures;
  long long idle_since, idle_logged;    /* monotonic ms */
  long long poll_started;
};

/* What to do after a poll that brought nothing: 0 to poll again, 1 to end
 * this slot's loop (*rc set). */
static int
after_poll(const struct config *cfg, enum drain_mode mode, enum poll_result pr, struct polling *p,
           const struct orphans *o, int *rc)
{
  long long now = now_ms();

  if(pr == POLL_FATAL) {
    *rc = 1;
    return 1;
  }
  if(pr == POLL_ERROR) {
    ++p->failures;
    /* Always on, nobody else resumes the queue: keep trying, slowly. */
    if(mode == DRAIN_FOREVER || p->failures < 5) {
      sleep_ms(p->failures < 6 ? 1000L << p->failures : 60000, &drain_term);
      return 0;
    }
    log_err("drain_gave_up", "failed_polls=%d reason=%s", p->failures,
            "the control plane did not answer; the next webhook resumes the queue");
    *rc = 1;
    return 1;
  }
  p->failures = 0;
  if(mode == DRAIN_FOREVER) {
    /* Alive and idle, said once a minute, as the official worker does. */
    if(now - p->idle_logged >= RUN_IDLE_LOG_MS) {
      log_info("still_polling", "idle_s=%lld", (now - p->idle_since) / 1000);
      p->idle_logged = now;
    }
    /* A server that did not hold the empty poll open gets the official
     * worker's pause (1-3 s), not a busy loop.  Idle: the time to make
     * the next sessions' workspaces. */
    if(now - p->poll_started < RUN_POLL_BLOCK_MS / 2)
      sleep_ms(1000 + random() % 2000, &drain_term);
    spares_refill(cfg);
    return 0;
  }
  if(now < o->until_ms) {
    sleep_ms(1000, &drain_term);
    return 0;
  }
  return 1;
}

/* One slot's life: poll and serve until the queue is empty (DRAIN_QUEUE),
 * forever (DRAIN_FOREVER), or serve the one item given (DRAIN_ONE). */
static int
serve_slot(const struct config *cfg, enum drain_mode mode, struct api *api, struct api *beat,
           int slot, struct runstate *rs, struct work_item *one, long long *seen_wake)
{
  struct orphans orphans;
  struct polling p = { 0, now_ms(), now_ms(), 0 };
  int rc = 0;

  if(mode == DRAIN_ONE) {
    handle_item(cfg, api, beat, one, slot, rs, 1);
    return 0;
  }
  orphan_claims(cfg, slot, &orphans);
  for(;;) {
    struct work_item item;
    enum poll_result pr;

    *seen_wake = statedir_wake(cfg->state_dir, 0);
    if(drain_term)
      break;
    p.poll_started = now_ms();
    pr = queue_poll(api, &item, mode == DRAIN_FOREVER ? RUN_POLL_BLOCK_MS : 0);
    if(pr == POLL_ITEM) {
      enum item_end end;

      p.failures = 0;
      orphan_reclaimed(&orphans, item.id);
      end = handle_item(cfg, api, beat, &item, slot, rs, 0);
      work_item_clear(&item);
      log_ids(NULL, NULL);
      if(end == ITEM_EXIT)
        break;
      proctitle_set("sandhook: drain polling");
      p.idle_since = p.idle_logged = now_ms();
      continue;
    }
    if(after_poll(cfg, mode, pr, &p, &orphans, &rc))
      break;
  }
  return rc;
}

int
drain_run(const struct config *cfg, enum drain_mode mode, struct work_item *one)
{
  struct sigaction sa;
  struct api api, beat;
  struct errmsg err;
  struct runstate rs;
  char path[PATH_MAX];
  int slot, slot_index = -1, rc = 0;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  if(config_require(cfg, CONFIG_NEED_WORKER, &err) < 0) {
    log_err("config_incomplete", "error=%s", err.text);
    return 1;
  }
  if(statedir_path(path, sizeof(path), cfg->state_dir, STATEDIR_RUN) < 0 || mkdir_p(path, 0700) < 0) {
    log_err("drain_state_dir", "errno=%d", errno);
    return 1;
  }
  /* Two handles, each kept for the drainer's life: the items' calls, and
   * their heartbeats (lease.h), on a thread of their own. */
  if(curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || api_init(&api, cfg, NULL) < 0 ||
     api_init(&beat, cfg, NULL) < 0) {
    log_err("drain_init_failed", "reason=curl");
    return 1;
  }
  if(metrics_open(cfg->state_dir) < 0)
    log_warn("metrics_unavailable", "error=%s", strerror(errno));
  if(audit_open(cfg) < 0) {
    log_err("audit_unavailable", "path=%s error=%s hint=%s", cfg->audit_file, strerror(errno),
            "SANDHOOK_AUDIT_FILE must be a file this user can append to; nothing is served without it");
    rc = 1;
    goto out;
  }
  runstate_record_errors(cfg->state_dir);
  srandom((unsigned)getpid() ^ (unsigned)now_ms());
  while(!drain_term) {
    long long seen_wake = 0;

    slot = acquire_slot(cfg, &slot_index);
    if(slot < 0 && mode != DRAIN_ONE) {
      log_info("drain_slots_busy", "max_sessions=%d", cfg->max_sessions);
      rc = mode == DRAIN_FOREVER ? DRAIN_SLOTS_BUSY : 0;
      break;
    }
    if(slot < 0) {
      /* The item is ours already: serve it without a slot rather than
       * leave it until its lease lapses. */
      log_warn("handle_without_slot", "max_sessions=%d reason=%s", cfg->max_sessions,
               "every slot is taken; sandhook status will not show this item");
      slot_index = -1;
    }
    runstate_self(&rs, slot_index);
    runstate_publish(cfg->state_dir, &rs);
    log_info("drain_started", "worker_id=%s slot=%d mode=%s", api.worker_id, slot_index,
             mode == DRAIN_QUEUE ? "queue" : mode == DRAIN_FOREVER ? "run" : "handle");
    rc = serve_slot(cfg, mode, &api, &beat, slot, &rs, one, &seen_wake);
    runstate_remove(cfg->state_dir, slot_index);
    if(slot >= 0)
      close(slot);
    /* A webhook that arrived while we held the slot may have found every
     * slot busy; poll once more if the counter moved. */
    if(mode != DRAIN_QUEUE || rc || drain_term || statedir_wake(cfg->state_dir, 0) == seen_wake)
      break;
  }
  write_metrics(cfg);
  if(!drain_term) {
    gc_idle(cfg);
    gc_cgroups(cfg);
    spares_refill(cfg);
  }
  log_info("drain_exit", "status=%d", rc);
out:
  api_cleanup(&beat);
  api_cleanup(&api);
  curl_global_cleanup();
  return rc;
}
