#include "drain/drain.h"
#include "drain/api.h"
#include "common/fsutil.h"
#include "drain/lease.h"
#include "common/clock.h"
#include "common/doorbell.h"
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
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/eventfd.h>
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
  flag_raise(&drain_term);
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

/* The doorbell's listening end the front handed us (drain_queue). */
static int adopted_bell = -1;

void
drain_adopt_doorbell(int fd)
{
  adopted_bell = fd;
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
  if(cfg->audit_file) {
    char head[SHA256_HEX_LEN];

    audit_head(head);
    log_info("work_finished", "outcome=%s duration_ms=%lld audit_head=%s", metrics_outcome_name(o), ms,
             head[0] ? head : "-");
  }
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

struct item_release {
  struct lease *lease;
  struct api *api;
  const struct work_item *item;
  int slot;
};

/* The item let go: the heartbeats end, the claim's record goes and the
 * item is stopped (not after a lost lease: its token no longer counts).
 * As session_run's released, while the session's jail is still ending. */
static void
item_release(void *p, enum session_end end)
{
  struct item_release *r = p;

  lease_end(r->lease);
  claim_record(r->slot, NULL, 0);
  if(end != SESSION_LOST)
    queue_stop(r->api, r->item);
  else
    metrics_lease_lost();
}

/* acked: the item came acknowledged (sandhook handle: the CLI's poller
 * acked it).  slot may be -1: no slot file to keep the claim in. */
static enum item_end
handle_item(const struct config *cfg, struct api *api, struct api *beat, struct work_item *item,
            int slot, struct runstate *rs, int acked)
{
  struct lease lease;
  struct item_release rel = { &lease, api, item, slot };
  enum session_end end;
  enum work_outcome outcome;
  cJSON *record = NULL;
  long http = 0;
  long long started = now_ms();
  int ended = 0;

  log_ids(item->id, item->data_id);
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
    int lost = lease_state(&lease) == LEASE_LOST;

    cJSON_Delete(record);
    item_release(&rel, lost ? SESSION_LOST : SESSION_DONE);
    outcome = lost ? WORK_LEASE_LOST : WORK_LEASE_FAILED;
  }
  else {
    claim_record(slot, item, lease_ttl_ms(&lease));
    end = session_run(cfg, api, &lease, item, record, http, rs, &drain_term, item_release, &rel,
                      &ended);
    if(ended)
      gc_session(cfg, item->data_id);
    outcome = end == SESSION_DONE ? WORK_DONE : end == SESSION_LOST ? WORK_LEASE_LOST
                                                                     : WORK_TERMINATED;
  }
  item_finished(cfg, item, outcome, started);
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
    if(flag_raised(&drain_term))
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

/* One slot served until the queue is empty (or the one item, or forever);
 * then, in DRAIN_QUEUE, another while the wake counter moved since the
 * last poll.  *last_wake: the counter as read after the last slot went. */
static int
serve_slots(const struct config *cfg, enum drain_mode mode, struct api *api, struct api *beat,
            int slot, int index, struct work_item *one, long long *last_wake)
{
  struct runstate rs;
  int rc;

  for(;;) {
    long long seen_wake = 0;

    runstate_self(&rs, index);
    runstate_publish(cfg->state_dir, &rs);
    rc = serve_slot(cfg, mode, api, beat, slot, &rs, one, &seen_wake);
    runstate_remove(cfg->state_dir, index);
    if(slot >= 0)
      close(slot);
    /* A webhook that arrived while we held the slot may have found every
     * slot busy; poll once more if the counter moved. */
    *last_wake = statedir_wake(cfg->state_dir, 0);
    if(mode != DRAIN_QUEUE || rc || flag_raised(&drain_term) || *last_wake == seen_wake)
      return rc;
    /* None free: their holders look at the counter before they leave. */
    if((slot = acquire_slot(cfg, &index)) < 0)
      return 0;
    log_info("slot_taken", "worker_id=%s slot=%d reason=wake", api->worker_id, index);
  }
}

/* A slot's two handles, kept for its life (curl's are one thread's): its
 * items' calls, and their heartbeats (lease.h), on a thread of their own.
 * 0, or -1 (logged, neither kept). */
static int
slot_apis(const struct config *cfg, struct api *api, struct api *beat)
{
  if(api_init(api, cfg, NULL) == 0) {
    if(api_init(beat, cfg, NULL) == 0)
      return 0;
    api_cleanup(api);
  }
  log_err("drain_init_failed", "reason=curl");
  return -1;
}

/* The process serves one slot at a time: sandhook run's workers, and
 * sandhook handle. */
static int
drain_here(const struct config *cfg, enum drain_mode mode, struct work_item *one)
{
  struct api api, beat;
  long long last_wake;
  int slot, index = -1, rc;

  if(slot_apis(cfg, &api, &beat) < 0)
    return 1;
  slot = acquire_slot(cfg, &index);
  if(slot < 0 && mode != DRAIN_ONE) {
    log_info("drain_slots_busy", "max_sessions=%d", cfg->max_sessions);
    rc = mode == DRAIN_FOREVER ? DRAIN_SLOTS_BUSY : 0;
  }
  else {
    if(slot < 0)
      /* The item is ours already: serve it without a slot rather than
       * leave it until its lease lapses. */
      log_warn("handle_without_slot", "max_sessions=%d reason=%s", cfg->max_sessions,
               "every slot is taken; sandhook status will not show this item");
    log_info("drain_started", "worker_id=%s slot=%d mode=%s", api.worker_id, index,
             mode == DRAIN_FOREVER ? "run" : "handle");
    rc = serve_slots(cfg, mode, &api, &beat, slot, index, one, &last_wake);
  }
  api_cleanup(&beat);
  api_cleanup(&api);
  return rc;
}

/* A queue drainer: its slots' threads, and what the last of them saw. */
struct drainer {
  const struct config *cfg;
  pthread_mutex_t mu;
  int live, rc;
  int ended;                    /* eventfd: a slot's thread is done */
  long long last_wake;
};

struct slot_thread {
  struct drainer *d;
  int slot, index;
  const char *why;              /* NULL: the drainer's first */
};

static void *
slot_main(void *p)
{
  struct slot_thread t = *(struct slot_thread *)p;
  struct drainer *d = t.d;
  struct api api, beat;
  long long last_wake = -1;
  uint64_t one = 1;
  int rc = 1;

  free(p);
  if(slot_apis(d->cfg, &api, &beat) < 0)
    close(t.slot);
  else {
    if(t.why)
      log_info("slot_taken", "worker_id=%s slot=%d reason=%s", api.worker_id, t.index, t.why);
    else
      log_info("drain_started", "worker_id=%s slot=%d mode=queue", api.worker_id, t.index);
    rc = serve_slots(d->cfg, DRAIN_QUEUE, &api, &beat, t.slot, t.index, NULL, &last_wake);
    api_cleanup(&beat);
    api_cleanup(&api);
  }
  pthread_mutex_lock(&d->mu);
  d->live--;
  d->last_wake = last_wake;
  if(rc)
    d->rc = rc;
  pthread_mutex_unlock(&d->mu);
  if(write(d->ended, &one, sizeof(one)) < 0)
    log_warn("drain_notify_failed", "errno=%d", errno);
  return NULL;
}

/* A thread for the slot (locked, its descriptor ours): 0, or -1 (logged,
 * the slot let go).  SIGTERM stays with the main thread, whose poll it
 * ends; the slots see drain_term within their 200 ms waits. */
static int
start_slot(struct drainer *d, int slot, int index, const char *why)
{
  struct slot_thread *t = malloc(sizeof(*t));
  pthread_attr_t attr;
  pthread_t th;
  sigset_t term, old;
  int e = ENOMEM;

  if(t) {
    *t = (struct slot_thread){ d, slot, index, why };
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    pthread_mutex_lock(&d->mu);
    d->live++;
    pthread_mutex_unlock(&d->mu);
    pthread_sigmask(SIG_BLOCK, &term, &old);
    if((e = pthread_attr_init(&attr)) == 0) {
      if((e = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED)) == 0)
        e = pthread_create(&th, &attr, slot_main, t);
      pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if(e == 0)
      return 0;
    pthread_mutex_lock(&d->mu);
    d->live--;
    pthread_mutex_unlock(&d->mu);
    free(t);
  }
  log_err("slot_thread_failed", "slot=%d errno=%d error=%s", index, e, strerror(e));
  close(slot);
  return -1;
}

/* Each ring one more slot, while one is free (their holders see the rest
 * in the counter). */
static void
answer_rings(struct drainer *d, int rings)
{
  int slot, index;

  while(rings-- > 0 && (slot = runstate_slot_lock(d->cfg->state_dir, d->cfg->max_sessions, &index)) >= 0)
    if(start_slot(d, slot, index, "ring") < 0)
      return;
}

static int
drain_queue(const struct config *cfg)
{
  struct drainer d = { .cfg = cfg, .mu = PTHREAD_MUTEX_INITIALIZER, .last_wake = -1 };
  struct doorbell bell;
  int listening, slot, index, live;

  if((d.ended = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
    log_err("drain_init_failed", "reason=eventfd errno=%d", errno);
    return 1;
  }
  listening = doorbell_listen(&bell, cfg->state_dir, adopted_bell) == 0;
  adopted_bell = -1;
  if(!listening)
    log_warn("doorbell_unavailable", "errno=%d error=%s", errno, strerror(errno));
  if((slot = acquire_slot(cfg, &index)) < 0)
    log_info("drain_slots_busy", "max_sessions=%d", cfg->max_sessions);
  else if(start_slot(&d, slot, index, NULL) < 0)
    d.rc = 1;
  while(slot >= 0) {
    struct pollfd p[2] = { { d.ended, POLLIN, 0 }, { listening ? bell.rd : -1, POLLIN, 0 } };
    uint64_t n;

    /* Bounded, should a SIGTERM land between the check and the poll. */
    if(poll(p, 2, 250) < 0 && errno != EINTR) {
      log_err("drain_poll_failed", "errno=%d error=%s", errno, strerror(errno));
      flag_raise(&drain_term);
    }
    if(read(d.ended, &n, sizeof(n)) < 0 && errno != EAGAIN)
      log_warn("drain_notify_failed", "errno=%d", errno);
    if(listening && !flag_raised(&drain_term))
      answer_rings(&d, doorbell_rings(&bell));
    pthread_mutex_lock(&d.mu);
    live = d.live;
    pthread_mutex_unlock(&d.mu);
    if(live > 0)
      continue;
    /* Every slot ended on an empty queue: no more rings; then a last look
     * at the counter, for a ring that came after the last slot's look and
     * before the bell was closed. */
    if(listening) {
      doorbell_close(&bell);
      listening = 0;
    }
    if(flag_raised(&drain_term) || d.rc || statedir_wake(cfg->state_dir, 0) == d.last_wake)
      break;
    if((slot = acquire_slot(cfg, &index)) < 0 || start_slot(&d, slot, index, "wake") < 0)
      break;
  }
  doorbell_close(&bell);
  close(d.ended);
  return d.rc;
}

int
drain_run(const struct config *cfg, enum drain_mode mode, struct work_item *one)
{
  struct sigaction sa;
  struct errmsg err;
  char path[PATH_MAX];
  int rc = 0;

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
  if(curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
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
  rc = mode == DRAIN_QUEUE ? drain_queue(cfg) : drain_here(cfg, mode, one);
  write_metrics(cfg);
  if(!flag_raised(&drain_term)) {
    gc_idle(cfg);
    gc_cgroups(cfg);
    spares_refill(cfg);
  }
  log_info("drain_exit", "status=%d", rc);
out:
  curl_global_cleanup();
  return rc;
}
