#include "drain/memstore_sync.h"
#include "drain/audit.h"
#include "drain/memstore.h"
#include "drain/memstore_decide.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Marker, then every memory; the baseline starts over. */
static int
stamp_and_pull(struct memory *m, struct api *api, struct jail *j, struct store *s)
{
  size_t i;

  for(i = 0; i < s->n; i++) {
    s->f[i].base[0] = s->f[i].sent[0] = '\0';
    s->f[i].pending_since = 0;
  }
  if(ms_local_prepare(m, j, s) < 0)
    return -1;
  return ms_remote_list(m, api, j, s, 1, NULL, ms_pull_listed);
}

static void
recover(struct memory *m, struct api *api, struct jail *j, struct store *s, const char *why)
{
  log_warn("memory_redownload", "memory_store_id=%s reason=%s", s->id, why);
  stamp_and_pull(m, api, j, s);
}

/* The server's sent-but-unheard uploads that it now lists become the
 * baseline. */
static void
settle_sent(struct store *s, const struct side *remote)
{
  size_t i;

  for(i = 0; i < s->n; i++) {
    struct entry *r = s->f[i].sent[0] ? ms_side_find(remote, s->f[i].path) : NULL;

    if(r && !strcmp(r->sha, s->f[i].sent))
      ms_set_sha(s->f[i].base, s->f[i].sent);
    s->f[i].sent[0] = '\0';
  }
}

/* ---- the merge ---- */

struct pass {
  int final;
  int cap, attempted, capped;
  struct side pulls;
};

/* A file gone locally while the server still holds the baseline: deleted
 * remotely only once it has stayed gone for the window (waived at the end),
 * the marker still holds, and the per-sync cap allows.  Returns the new
 * baseline (NULL: none). */
static const char *
corroborated_delete(struct memory *m, struct api *api, struct jail *j, struct store *s,
                    struct fstate *f, const struct entry *r, struct pass *ps)
{
  const char *mode = m->cfg->memory_sync_deletions, *why;
  char path[1024], query[128], *marker, *still;

  if(!strcmp(mode, "disabled"))
    return f->base;
  if(!f->pending_since)
    f->pending_since = now_ms();
  if(!ps->final && now_ms() - f->pending_since < DELETE_WINDOW_MS)
    return f->base;
  marker = ms_local_read(m, j, s, MEMORY_MARKER, &why);
  still = ms_local_read(m, j, s, f->path, &why);
  if(!marker || strcmp(marker, s->marker) || still) {
    if(still)
      f->pending_since = 0;
    free(marker);
    free(still);
    return f->base;
  }
  free(marker);
  if(!strcmp(why, "unreadable"))
    return f->base;
  if(ps->attempted >= ps->cap) {
    ps->capped++;
    return f->base;
  }
  ps->attempted++;
  if(!strcmp(mode, "log_only")) {
    log_info("memory_delete_logged", "memory_store_id=%s path=%s reason=%s",
             s->id, f->path, "log_only: would delete on the server");
    return f->base;
  }
  snprintf(query, sizeof(query), "?expected_content_sha256=%s", f->base);
  if(ms_api_path(api, path, sizeof(path), s->id, r->id, query) < 0)
    return f->base;
  switch(ms_call(m, api, "DELETE", path, NULL, NULL)) {
  case 200:
  case 204:
  case 404:
    log_info("memory_deleted", "memory_store_id=%s path=%s", s->id, f->path);
    audit_event("memory_synced", "direction", "delete", "memory_store_id", s->id, "path", f->path, NULL);
    f->pending_since = 0;
    return NULL;
  case 409:
  case 412:
    log_warn("memory_conflict", "memory_store_id=%s path=%s reason=%s",
             s->id, f->path, "deleted locally but changed remotely; keeping the remote version");
    return f->base;
  default:
    return f->base;
  }
}

/* What the log says when a sync decision came with a note. */
static const struct {
  enum log_level level;
  const char *event, *reason;
} notes[] = {
  [MEMSYNC_NOTE_BOTH_CHANGED] = { LOG_WARN, "memory_conflict",
                                  "changed both locally and remotely; keeping the remote version" },
  [MEMSYNC_NOTE_RESTORED] = { LOG_WARN, "memory_conflict",
                              "deleted locally but changed remotely; restoring the remote version" },
  [MEMSYNC_NOTE_RECREATED] = { LOG_INFO, "memory_recreated", "deleted remotely but edited locally" },
  [MEMSYNC_NOTE_KEPT] = { LOG_WARN, "memory_kept",
                          "deleted remotely but edited locally; a read-only store cannot push it" },
};

/* Carries out memsync_decide's action for one path; the new baseline
 * (NULL: none). */
static const char *
sync_path(struct memory *m, struct api *api, struct jail *j, struct store *s, struct fstate *f,
          const struct entry *r, const char *local, struct pass *ps, char *out)
{
  struct memsync_case c = { f->base[0] ? f->base : NULL, r ? r->sha : NULL, local, f->refused, s->ro };
  enum memsync_note note;
  enum memsync_action act = memsync_decide(&c, &note);
  char fresh[SHA_LEN];

  if(act == MEMSYNC_REMOVE_LOCAL) {
    enum removal rm = ms_local_remove(m, j, s, f, fresh);

    if(rm == REMOVAL_GONE)
      act = MEMSYNC_FORGET;
    else if(rm == REMOVAL_KEPT || !strcmp(fresh, c.base)) {
      /* Tried again at the next sync; said, so a removal that never
       * happens can be told from one that did. */
      log_info("memory_remove_held", "memory_store_id=%s path=%s reason=%s", s->id, f->path,
               rm == REMOVAL_KEPT ? "the sandbox did not remove it" : "its metadata changed since the scan");
      act = MEMSYNC_HOLD;
    }
    else {
      c.local = fresh;              /* edited since the scan: decide again */
      act = memsync_decide(&c, &note);
    }
  }
  if(act != MEMSYNC_DELETE_REMOTE)
    f->pending_since = 0;
  if(note != MEMSYNC_NOTE_NONE)
    log_event(notes[note].level, notes[note].event, "memory_store_id=%s path=%s reason=%s", s->id,
              f->path, notes[note].reason);
  switch(act) {
  case MEMSYNC_FORGET:
    return NULL;
  case MEMSYNC_IN_STEP:
    return r->sha;
  case MEMSYNC_HOLD:
  case MEMSYNC_REMOVE_LOCAL:
    return c.base;
  case MEMSYNC_UPLOAD_NEW:
    return ms_upload(m, api, j, s, f->path, c.local, NULL, out);
  case MEMSYNC_UPLOAD:
    return ms_upload(m, api, j, s, f->path, c.local, r, out) ?: r->sha;
  case MEMSYNC_PULL:
    ms_side_add(&ps->pulls, f->path, r->id, r->sha);
    return c.base;
  case MEMSYNC_DELETE_REMOTE:
    return corroborated_delete(m, api, j, s, f, r, ps);
  }
  return c.base;
}

static int
cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
sync_store(struct memory *m, struct api *api, struct jail *j, struct store *s, int final)
{
  struct side local = { 0 }, remote = { 0 };
  struct pass ps = { 0 };
  char **paths = NULL;
  size_t i, n = 0, nbase = 0;
  int exists, marker_ok;

  ps.final = final;
  if(ms_local_scan(m, j, s, &local, &exists, &marker_ok) < 0)
    goto out;
  if(!marker_ok) {
    if(local.n > 0)
      log_warn("memory_untrusted", "memory_store_id=%s root=/mnt/memory/%s reason=%s",
               s->id, s->rel,
               "the marker file is gone or names another store; leaving the folder as found");
    else
      recover(m, api, j, s, "the folder or its marker is gone");
    goto out;
  }
  if(ms_remote_list(m, api, j, s, 0, &remote, NULL) < 0) {
    log_warn("memory_sync_failed", "memory_store_id=%s", s->id);
    goto out;
  }
  settle_sent(s, &remote);
  for(i = 0; i < s->n; i++)
    nbase += s->f[i].base[0] != '\0';
  if(local.n == 0 && nbase > 1) {
    recover(m, api, j, s, "every memory file is gone at once");
    goto out;
  }
  ps.cap = (int)(nbase / 4);
  ps.cap = ps.cap < 8 ? 8 : ps.cap > 50 ? 50 : ps.cap;
  paths = malloc((s->n + remote.n + local.n + 1) * sizeof(*paths));
  if(!paths)
    goto out;
  for(i = 0; i < remote.n; i++)
    paths[n++] = remote.v[i].path;
  for(i = 0; i < local.n; i++)
    paths[n++] = local.v[i].path;
  for(i = 0; i < s->n; i++)
    if(s->f[i].base[0])
      paths[n++] = s->f[i].path;
  qsort(paths, n, sizeof(*paths), cmp_str);
  for(i = 0; i < n && !ms_out_of_time(m); i++) {
    struct entry *r, *l;
    struct fstate *f;
    const char *nb;
    char out[SHA_LEN], keep[SHA_LEN];

    if(i > 0 && !strcmp(paths[i], paths[i - 1]))
      continue;
    f = ms_file(s, paths[i]);
    if(!f)
      break;
    r = ms_side_find(&remote, paths[i]);
    l = ms_side_find(&local, paths[i]);
    nb = sync_path(m, api, j, s, f, r, l ? l->sha : NULL, &ps, out);
    ms_set_sha(keep, nb);
    ms_set_sha(f->base, keep);
  }
  for(i = 0; i < ps.pulls.n && !ms_out_of_time(m); i++)
    ms_pull_one(m, api, j, s, &ps.pulls.v[i]);
  if(!ms_out_of_time(m))
    ms_prune(s, &local, &remote);
  if(ps.capped)
    log_warn("memory_delete_cap", "memory_store_id=%s sent=%d held=%d",
             s->id, ps.attempted, ps.capped);
out:
  free(paths);
  ms_side_free(&ps.pulls);
  ms_side_free(&local);
  ms_side_free(&remote);
}

/* Push-only: uploads what changed locally, sends no delete, pulls nothing. */
static void
flush_store(struct memory *m, struct api *api, struct jail *j, struct store *s)
{
  struct side local = { 0 }, remote = { 0 };
  size_t i, dirty = 0;
  int exists, marker_ok;

  if(s->ro || ms_local_scan(m, j, s, &local, &exists, &marker_ok) < 0)
    goto out;
  if(!marker_ok) {
    log_warn("memory_untrusted", "memory_store_id=%s reason=%s",
             s->id, "the marker file is gone or names another store; not uploading anything");
    goto out;
  }
  for(i = 0; i < local.n; i++) {
    struct fstate *f = ms_file(s, local.v[i].path);

    if(f && (strcmp(local.v[i].sha, f->base) || f->sent[0]) && strcmp(f->refused, local.v[i].sha))
      dirty++;
    else
      local.v[i].sha[0] = '\0';     /* clean: skipped below */
  }
  if(!dirty || ms_remote_list(m, api, j, s, 0, &remote, NULL) < 0)
    goto out;
  settle_sent(s, &remote);
  for(i = 0; i < local.n && !ms_out_of_time(m); i++) {
    struct fstate *f = ms_file(s, local.v[i].path);
    struct entry *r = ms_side_find(&remote, local.v[i].path);
    const char *sha = local.v[i].sha;
    char out[SHA_LEN];

    if(!f || !sha[0] || !strcmp(sha, f->base))
      continue;
    if(r && !strcmp(r->sha, sha))
      ms_set_sha(f->base, sha);
    else if(r && strcmp(r->sha, f->base))
      log_warn("memory_conflict", "memory_store_id=%s path=%s reason=%s",
               s->id, f->path,
               "changed both locally and remotely; the flush leaves the remote version");
    else if(ms_upload(m, api, j, s, f->path, sha, r, out))
      ms_set_sha(f->base, out);
  }
out:
  ms_side_free(&local);
  ms_side_free(&remote);
}

int
memory_download(struct memory *m, struct api *api, struct jail *j)
{
  int i;

  for(i = 0; i < m->n; i++) {
    struct store *s = &m->st[i];
    size_t k, count = 0;

    if(stamp_and_pull(m, api, j, s) < 0) {
      log_err("memory_unavailable", "reason=%s memory_store_id=%s",
              "failed to download memory store", s->id);
      return -1;
    }
    for(k = 0; k < s->n; k++)
      count += s->f[k].base[0] != '\0';
    log_info("memory_downloaded", "memory_store_id=%s dest=/mnt/memory/%s count=%zu read_only=%s",
             s->id, s->rel, count, s->ro ? "true" : "false");
    for(k = 0; k < s->n; k++)
      if(s->f[k].base[0])
        audit_event("memory_synced", "direction", "download", "memory_store_id", s->id,
                    "path", s->f[k].path, "content_sha256", s->f[k].base, NULL);
  }
  m->last_sync = now_ms();
  return 0;
}

void
memory_sync(struct memory *m, struct api *api, struct jail *j)
{
  int i;

  if(!m || now_ms() - m->last_sync < m->cfg->memory_sync_s * 1000)
    return;
  for(i = 0; i < m->n; i++)
    sync_store(m, api, j, &m->st[i], 0);
  m->last_sync = now_ms();
}

void
memory_finish(struct memory *m, struct api *api, struct jail *j, int clean)
{
  int i;

  if(!m)
    return;
  if(clean) {
    m->deadline = now_ms() + PASS_MS;
    m->cut = 0;
    for(i = 0; i < m->n; i++)
      sync_store(m, api, j, &m->st[i], 1);
    if(ms_out_of_time(m))
      log_warn("memory_final_sync_cut", "bound_ms=%ld reason=%s",
               PASS_MS, "the flush that follows still uploads changed files");
  }
  m->deadline = now_ms() + PASS_MS;
  m->cut = 0;
  for(i = 0; i < m->n; i++)
    flush_store(m, api, j, &m->st[i]);
  if(ms_out_of_time(m))
    log_warn("memory_flush_cut", "bound_ms=%ld reason=%s",
             PASS_MS, "changed files not uploaded yet are not saved");
  m->deadline = 0;
}
