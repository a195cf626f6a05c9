#include "drain/memstore_sync.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/statedir.h"
#include "common/protocol.h"
#include "drain/memsync.h"
#include "common/strbuf.h"
#include "drain/workspace.h"
#include "common/util.h"
#include "common/json.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BETA_MEMORY "agent-memory-2026-07-22"
#define MAX_STORES 8
#define PASS_MS 30000L          /* each end-of-item pass */
#define DELETE_WINDOW_MS 30000L /* a local delete waits this long */
#define READ_BATCH 16
#define OP_WALL_MS 60000L
#define SHA_LEN 65

/* What the drainer knows of one path of a store. */
struct fstate {
  char *path;
  char base[SHA_LEN];         /* the baseline: the sha both sides last agreed on */
  char refused[SHA_LEN];      /* the local sha the server refused */
  char sent[SHA_LEN];         /* the sha of an upload not yet seen listed */
  long long pending_since;    /* when the file was first seen missing */
  cJSON *stat;                /* the local file's stat when st_sha was taken */
  char st_sha[SHA_LEN];
};

struct store {
  char id[128];
  char rel[PATH_MAX];         /* below /mnt/memory */
  char marker[160];
  int ro;
  struct fstate *f;
  size_t n, cap;
  size_t max_tracked;         /* SANDHOOK_MEMORY_MAX_FILES */
  int full;                   /* said so in the log */
};

/* One side's view in a sync: path -> sha (and the memory's id, remotely). */
struct entry {
  char *path;
  char id[128];
  char sha[SHA_LEN];
};

struct side {
  struct entry *v;
  size_t n, cap;
};

struct memory {
  const struct config *cfg;
  const struct work_item *item;
  char host[PATH_MAX];
  char *ro_list;
  struct store st[MAX_STORES];
  int n;
  long long last_sync;
  long long deadline;         /* of the pass under way; 0: none */
  int cut;                    /* the pass ran out of time */
};

/* ---- small tables ---- */

static struct fstate *
fs_get(struct store *s, const char *path)
{
  size_t i;

  for(i = 0; i < s->n; i++)
    if(!strcmp(s->f[i].path, path))
      return &s->f[i];
  /* Bounded, so a store with endless distinct names cannot grow the
   * drainer without end: past the cap the store is not synced. */
  if(s->n >= s->max_tracked) {
    if(!s->full)
      log_warn("memory_state_full", "memory_store_id=%s files=%zu reason=%s", s->id, s->n,
               "more files than SANDHOOK_MEMORY_MAX_FILES; this store is not synced until "
               "there are fewer");
    s->full = 1;
    return NULL;
  }
  if(grow_array(&s->f, &s->cap, s->n, sizeof(*s->f)) < 0)
    return NULL;
  memset(&s->f[s->n], 0, sizeof(s->f[s->n]));
  s->f[s->n].path = strdup(path);
  return s->f[s->n].path ? &s->f[s->n++] : NULL;
}

static struct entry *
side_find(const struct side *sd, const char *path)
{
  size_t i;

  for(i = 0; i < sd->n; i++)
    if(!strcmp(sd->v[i].path, path))
      return &sd->v[i];
  return NULL;
}

/* After a whole pass: forgets paths neither side has and nothing is
 * pending for, so the state follows the store, not its history. */
static void
fs_prune(struct store *s, const struct side *local, const struct side *remote)
{
  size_t i, k = 0;

  for(i = 0; i < s->n; i++) {
    struct fstate *f = &s->f[i];

    if(!f->base[0] && !f->sent[0] && !f->pending_since && !side_find(local, f->path) &&
       !side_find(remote, f->path)) {
      free(f->path);
      cJSON_Delete(f->stat);
      continue;
    }
    s->f[k++] = *f;
  }
  s->n = k;
  s->full = 0;
}

static int
side_add(struct side *sd, const char *path, const char *id, const char *sha)
{
  struct entry *e;

  if(grow_array(&sd->v, &sd->cap, sd->n, sizeof(*sd->v)) < 0)
    return -1;
  e = &sd->v[sd->n];
  e->path = strdup(path);
  if(!e->path)
    return -1;
  snprintf(e->id, sizeof(e->id), "%s", id ? id : "");
  snprintf(e->sha, sizeof(e->sha), "%s", sha ? sha : "");
  sd->n++;
  return 0;
}

static void
side_free(struct side *sd)
{
  size_t i;

  for(i = 0; i < sd->n; i++)
    free(sd->v[i].path);
  free(sd->v);
  memset(sd, 0, sizeof(*sd));
}

static void
set_sha(char *dst, const char *sha)
{
  snprintf(dst, SHA_LEN, "%s", sha ? sha : "");
}

static void
sha256_hex(const char *data, size_t len, char *out)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0, i;

  if(!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
    n = 0;
  for(i = 0; i < n; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  out[2 * n] = '\0';
}

/* ---- time bounds ---- */

static int
out_of_time(struct memory *m)
{
  if(m->deadline && now_ms() >= m->deadline)
    m->cut = 1;
  return m->cut;
}

/* ---- the jail side ---- */

static cJSON *
jop(struct memory *m, struct jail *j, enum jail_op op, struct store *s, cJSON *req)
{
  cJSON *res = NULL;

  if(!req || out_of_time(m)) {
    cJSON_Delete(req);
    return NULL;
  }
  cJSON_AddNumberToObject(req, "op", op);
  cJSON_AddStringToObject(req, "root", s->rel);
  if(jail_request(j, req, -1, OP_WALL_MS, NULL, NULL, &res) != JAIL_OK)
    log_warn("memory_sandbox_failed", "memory_store_id=%s op=%s", s->id, jail_op_name(op));
  cJSON_Delete(req);
  return res;
}

static cJSON *
one_path(const char *key, const char *path)
{
  cJSON *req = cJSON_CreateObject(), *paths;

  if(!req)
    return NULL;
  if(key) {
    paths = cJSON_AddArrayToObject(req, key);
    cJSON_AddItemToArray(paths, cJSON_CreateString(path));
  }
  else
    cJSON_AddStringToObject(req, "path", path);
  return req;
}

/* Reads one file: its content (malloc'd), or NULL with *why ("gone" when
 * it is not there). */
static char *
read_local(struct memory *m, struct jail *j, struct store *s, const char *path, const char **why)
{
  cJSON *res = jop(m, j, JAIL_OP_MEM_READ, s, one_path("paths", path));
  const char *text = json_str(cJSON_GetObjectItemCaseSensitive(res, "files"), path);
  const char *err = json_str(cJSON_GetObjectItemCaseSensitive(res, "errors"), path);
  char *out = text ? strdup(text) : NULL;

  *why = err && !strcmp(err, "gone") ? "gone" : "unreadable";
  cJSON_Delete(res);
  return out;
}

static int
write_local(struct memory *m, struct jail *j, struct store *s, const char *path,
            const char *content, const char *sha)
{
  cJSON *req = one_path(NULL, path), *res, *st;
  struct fstate *f;

  if(req)
    cJSON_AddStringToObject(req, "content", content);
  res = jop(m, j, JAIL_OP_MEM_WRITE, s, req);
  st = cJSON_DetachItemFromObjectCaseSensitive(res, "stat");
  if(!st || !(f = fs_get(s, path))) {
    log_warn("memory_write_failed", "memory_store_id=%s path=%s error=%s", s->id, path,
             json_str(res, "error") ?: "-");
    cJSON_Delete(st);
    cJSON_Delete(res);
    return -1;
  }
  cJSON_Delete(f->stat);
  f->stat = st;
  set_sha(f->st_sha, sha);
  cJSON_Delete(res);
  return 0;
}

static int
same_stat(const cJSON *a, const cJSON *b)
{
  static const char *const keys[] = { "size", "mtime", "ctime", "ino" };
  size_t i;

  if(!a || !b)
    return 0;
  for(i = 0; i < N_ELEMENTS(keys); i++)
    if(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, keys[i])) !=
       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(b, keys[i])))
      return 0;
  return 1;
}

/* The folder as it is: *exists, whether the marker is this store's, and
 * each file's sha (read only where the stat changed since last time).  An
 * unreadable file gets the sha "!", which matches nothing and cannot be
 * uploaded. */
/* Reads the files named in paths (at most READ_BATCH) and adds their shas
 * to local; paths is consumed. */
static int
hash_batch(struct memory *m, struct jail *j, struct store *s, cJSON *paths, struct side *local)
{
  cJSON *req = cJSON_CreateObject(), *got, *p;

  if(!req) {
    cJSON_Delete(paths);
    return -1;
  }
  cJSON_AddItemToObject(req, "paths", paths);
  got = jop(m, j, JAIL_OP_MEM_READ, s, req);
  if(!got)
    return -1;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(got, "files")) {
    struct fstate *f = fs_get(s, p->string);

    if(f) {
      sha256_hex(p->valuestring, strlen(p->valuestring), f->st_sha);
      side_add(local, p->string, NULL, f->st_sha);
    }
  }
  /* Gone since the scan: absent.  Unreadable: "!", which matches nothing. */
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(got, "errors"))
    if(strcmp(cJSON_GetStringValue(p) ?: "", "gone")) {
      struct fstate *f = fs_get(s, p->string);

      if(f) {
        set_sha(f->st_sha, "!");
        side_add(local, p->string, NULL, "!");
      }
    }
  cJSON_Delete(got);
  return 0;
}

/* The folder as it is: *exists, whether the marker is this store's, and
 * each file's sha (read only where the stat changed since last time).  Any
 * failure is -1: a partial picture would read as local deletes. */
static int
scan_local(struct memory *m, struct jail *j, struct store *s, struct side *local, int *exists,
           int *marker_ok)
{
  cJSON *res = jop(m, j, JAIL_OP_MEM_SCAN, s, cJSON_CreateObject()), *fl, *batch = NULL;
  const char *marker;

  *exists = json_true(res, "exists");
  marker = json_str(res, "marker");
  *marker_ok = marker && !strcmp(marker, s->marker);
  if(!res)
    return -1;
  if(json_true(res, "partial")) {
    log_warn("memory_scan_partial", "memory_store_id=%s reason=%s",
             s->id,
             "too many files or too deep; not syncing rather than reading the rest as deleted");
    goto fail;
  }
  cJSON_ArrayForEach(fl, cJSON_GetObjectItemCaseSensitive(res, "files")) {
    const char *path = json_str(fl, "path");
    struct fstate *f = path ? fs_get(s, path) : NULL;

    if(!f)
      goto fail;
    if(same_stat(f->stat, fl) && f->st_sha[0]) {
      if(side_add(local, path, NULL, f->st_sha) < 0)
        goto fail;
      continue;
    }
    cJSON_Delete(f->stat);
    f->stat = cJSON_Duplicate(fl, 1);
    f->st_sha[0] = '\0';
    if(!batch && !(batch = cJSON_CreateArray()))
      goto fail;
    cJSON_AddItemToArray(batch, cJSON_CreateString(path));
    if(cJSON_GetArraySize(batch) == READ_BATCH) {
      int rc = hash_batch(m, j, s, batch, local);

      batch = NULL;
      if(rc < 0)
        goto fail;
    }
  }
  if(batch && hash_batch(m, j, s, batch, local) < 0) {
    batch = NULL;
    goto fail;
  }
  cJSON_Delete(res);
  return 0;
fail:
  cJSON_Delete(batch);
  cJSON_Delete(res);
  return -1;
}

/* ---- the server side ---- */

static long
mem_call(struct memory *m, struct api *api, const char *method, const char *path,
         const char *body, cJSON **out)
{
  struct api_req rq = { 0 };
  long status, left = m->deadline ? (long)(m->deadline - now_ms()) : 30000;
  char err[256];
  cJSON *root;

  if(out)
    *out = NULL;
  if(out_of_time(m))
    return 0;
  rq.method = method;
  rq.path = path;
  rq.token = m->item->sessions_token;
  rq.body = body;
  rq.beta = BETA_MEMORY;
  rq.timeout_ms = left < 30000 ? (left > 1000 ? left : 1000) : 30000;
  rq.max_retries = 2;
  rq.deadline_ms = m->deadline;
  root = api_json(api, &rq, &status, err, sizeof(err));
  if(out)
    *out = root;
  else
    cJSON_Delete(root);
  /* The statuses the merge answers itself are logged by it. */
  if(status != 200 && status != 404 && status != 400 && status != 409 && status != 412 &&
     status != 413)
    log_warn("memory_api_failed", "method=%s path=%s status=%ld error=%s", method, path,
             status, err);
  return status;
}

static int
escaped_path(struct api *api, char *buf, size_t cap, const char *store, const char *mem,
             const char *query)
{
  char *s = api_escape(api, store), *e = mem ? api_escape(api, mem) : NULL;
  int n = -1;

  if(s && (!mem || e))
    n = snprintf(buf, cap, "/v1/memory_stores/%s/memories%s%s%s", s, mem ? "/" : "",
                 mem ? e : "", query ? query : "");
  free(s);
  free(e);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Every memory of the store; with view=full, calls each(content) too. */
typedef int (*each_fn)(struct memory *, struct jail *, struct store *, const char *rel,
                       const cJSON *mem);

static int
list_remote(struct memory *m, struct api *api, struct jail *j, struct store *s, int full,
            struct side *remote, each_fn each)
{
  char path[1024], query[600];
  char *page = NULL;
  int pages;

  for(pages = 0; pages < 1000; pages++) {
    cJSON *root, *it;
    const char *next;

    snprintf(query, sizeof(query), "?view=%s&limit=%d%s%s", full ? "full" : "basic",
             full ? 20 : 100, page ? "&page=" : "", page ? page : "");
    free(page);
    page = NULL;
    if(escaped_path(api, path, sizeof(path), s->id, NULL, query) < 0 ||
       mem_call(m, api, "GET", path, NULL, &root) != 200 || !root)
      return -1;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "data")) {
      const char *type = json_str(it, "type");
      const char *p = json_str(it, "path");
      const char *id = json_str(it, "id");
      const char *sha = json_str(it, "content_sha256");

      if(!type || strcmp(type, "memory") || !p || !id || !sha)
        continue;
      while(*p == '/')
        p++;
      if(!strcmp(p, MEMORY_MARKER)) {
        log_warn("memory_marker_listed", "memory_store_id=%s", s->id);
        continue;
      }
      if(remote && side_add(remote, p, id, sha) < 0)
        break;
      if(each)
        each(m, j, s, p, it);
    }
    next = json_str(root, "next_page");
    if(next && *next)
      page = api_escape(api, next);
    cJSON_Delete(root);
    if(!page)
      break;
  }
  free(page);
  return 0;
}

/* ---- pulling ---- */

static int
pull_listed(struct memory *m, struct jail *j, struct store *s, const char *rel, const cJSON *mem)
{
  const char *content = json_str(mem, "content");
  const char *sha = json_str(mem, "content_sha256");
  struct fstate *f;

  if(write_local(m, j, s, rel, content ? content : "", sha) == 0 && (f = fs_get(s, rel)))
    set_sha(f->base, sha);
  return 0;
}

/* Marker, then every memory; the baseline starts over. */
static int
stamp_and_pull(struct memory *m, struct api *api, struct jail *j, struct store *s)
{
  cJSON *req = cJSON_CreateObject(), *res;
  size_t i;
  int ok;

  for(i = 0; i < s->n; i++) {
    s->f[i].base[0] = s->f[i].sent[0] = '\0';
    s->f[i].pending_since = 0;
  }
  if(req)
    cJSON_AddStringToObject(req, "marker", s->marker);
  res = jop(m, j, JAIL_OP_MEM_PREPARE, s, req);
  ok = res && !json_true(res, "is_error");
  if(!ok)
    log_warn("memory_folder_failed", "memory_store_id=%s root=/mnt/memory/%s error=%s", s->id,
             s->rel, json_str(res, "error") ?: "-");
  cJSON_Delete(res);
  if(!ok)
    return -1;
  return list_remote(m, api, j, s, 1, NULL, pull_listed);
}

static void
recover(struct memory *m, struct api *api, struct jail *j, struct store *s, const char *why)
{
  log_warn("memory_redownload", "memory_store_id=%s reason=%s", s->id, why);
  stamp_and_pull(m, api, j, s);
}

static void
pull_one(struct memory *m, struct api *api, struct jail *j, struct store *s, const struct entry *r)
{
  char path[1024];
  cJSON *mem = NULL;

  if(escaped_path(api, path, sizeof(path), s->id, r->id, "?view=full") == 0 &&
     mem_call(m, api, "GET", path, NULL, &mem) == 200 && mem)
    pull_listed(m, j, s, r->path, mem);
  cJSON_Delete(mem);
}

/* ---- pushing ---- */

/* Uploads the file; the server's new sha, or NULL (logged). */
static const char *
upload(struct memory *m, struct api *api, struct jail *j, struct store *s, const char *rel,
       const char *local_sha, const struct entry *existing, char *out)
{
  struct fstate *f = fs_get(s, rel);
  const char *why, *sha;
  char path[1024], *content, *body;
  cJSON *req, *res = NULL;
  long status;

  if(!f)
    return NULL;
  content = read_local(m, j, s, rel, &why);
  if(!content) {
    if(strcmp(why, "gone") && local_sha) {
      set_sha(f->refused, local_sha);
      log_warn("memory_upload_refused", "memory_store_id=%s path=%s reason=%s",
               s->id, rel,
               "the file is not UTF-8 text or too large; it stays un-synced until it changes");
    }
    return NULL;
  }
  sha256_hex(content, strlen(content), f->sent);
  req = cJSON_CreateObject();
  if(req && existing) {
    cJSON *pre = cJSON_AddObjectToObject(req, "precondition");

    cJSON_AddStringToObject(req, "content", content);
    cJSON_AddStringToObject(pre, "type", "content_sha256");
    cJSON_AddStringToObject(pre, "content_sha256", existing->sha);
  }
  else if(req) {
    char *slash = malloc(strlen(rel) + 2);

    if(slash) {
      sprintf(slash, "/%s", rel);
      cJSON_AddStringToObject(req, "path", slash);
      free(slash);
    }
    cJSON_AddStringToObject(req, "content", content);
  }
  free(content);
  body = req ? cJSON_PrintUnformatted(req) : NULL;
  cJSON_Delete(req);
  if(!body || escaped_path(api, path, sizeof(path), s->id, existing ? existing->id : NULL, NULL) < 0) {
    free(body);
    return NULL;
  }
  status = mem_call(m, api, "POST", path, body, &res);
  free(body);
  sha = json_str(res, "content_sha256");
  if(status == 200 && sha) {
    f->refused[0] = f->sent[0] = '\0';
    set_sha(out, sha);
    cJSON_Delete(res);
    log_info("memory_uploaded", "memory_store_id=%s path=%s", s->id, rel);
    return out;
  }
  cJSON_Delete(res);
  if(existing && status == 404)      /* deleted remotely meanwhile: create it */
    return upload(m, api, j, s, rel, local_sha, NULL, out);
  if(existing && status == 409)
    log_warn("memory_conflict", "memory_store_id=%s path=%s reason=%s",
             s->id, rel,
             "changed both locally and remotely; the upload was refused and the local edit "
             "loses");
  else if((status == 400 || status == 413) && local_sha) {
    set_sha(f->refused, local_sha);
    log_warn("memory_upload_refused", "memory_store_id=%s path=%s status=%ld reason=%s",
             s->id, rel, status,
             "the server rejected this file; it stays un-synced until it changes");
  }
  return NULL;
}

/* The server's sent-but-unheard uploads that it now lists become the
 * baseline. */
static void
settle_sent(struct store *s, const struct side *remote)
{
  size_t i;

  for(i = 0; i < s->n; i++) {
    struct entry *r = s->f[i].sent[0] ? side_find(remote, s->f[i].path) : NULL;

    if(r && !strcmp(r->sha, s->f[i].sent))
      set_sha(s->f[i].base, s->f[i].sent);
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
  marker = read_local(m, j, s, MEMORY_MARKER, &why);
  still = read_local(m, j, s, f->path, &why);
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
  if(escaped_path(api, path, sizeof(path), s->id, r->id, query) < 0)
    return f->base;
  switch(mem_call(m, api, "DELETE", path, NULL, NULL)) {
  case 200:
  case 204:
  case 404:
    log_info("memory_deleted", "memory_store_id=%s path=%s", s->id, f->path);
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

enum removal {
  REMOVAL_GONE,                 /* removed, or gone already: no baseline */
  REMOVAL_KEPT,                 /* could not remove: keep the baseline */
  REMOVAL_EDITED,               /* changed since the scan: its sha in fresh */
};

/* Gone remotely, unchanged locally: removes the file unless it changed
 * since the scan. */
static enum removal
remove_local(struct memory *m, struct jail *j, struct store *s, struct fstate *f, char *fresh)
{
  cJSON *req = one_path(NULL, f->path), *res;
  char *content;
  const char *why;
  int edited;

  if(req)
    cJSON_AddItemToObject(req, "stat", cJSON_Duplicate(f->stat, 1));
  res = jop(m, j, JAIL_OP_MEM_REMOVE, s, req);
  if(json_true(res, "removed") ||
     json_true(res, "gone")) {
    cJSON_Delete(res);
    return REMOVAL_GONE;
  }
  edited = cJSON_GetObjectItemCaseSensitive(res, "stat") != NULL;
  cJSON_Delete(res);
  if(!edited)
    return REMOVAL_KEPT;
  content = read_local(m, j, s, f->path, &why);
  if(!content)
    return REMOVAL_KEPT;
  sha256_hex(content, strlen(content), fresh);
  free(content);
  return REMOVAL_EDITED;
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
    enum removal rm = remove_local(m, j, s, f, fresh);

    if(rm == REMOVAL_GONE)
      act = MEMSYNC_FORGET;
    else if(rm == REMOVAL_KEPT || !strcmp(fresh, c.base))
      act = MEMSYNC_HOLD;
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
    return upload(m, api, j, s, f->path, c.local, NULL, out);
  case MEMSYNC_UPLOAD:
    return upload(m, api, j, s, f->path, c.local, r, out) ?: r->sha;
  case MEMSYNC_PULL:
    side_add(&ps->pulls, f->path, r->id, r->sha);
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
  if(scan_local(m, j, s, &local, &exists, &marker_ok) < 0)
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
  if(list_remote(m, api, j, s, 0, &remote, NULL) < 0) {
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
  for(i = 0; i < n && !out_of_time(m); i++) {
    struct entry *r, *l;
    struct fstate *f;
    const char *nb;
    char out[SHA_LEN], keep[SHA_LEN];

    if(i > 0 && !strcmp(paths[i], paths[i - 1]))
      continue;
    f = fs_get(s, paths[i]);
    if(!f)
      break;
    r = side_find(&remote, paths[i]);
    l = side_find(&local, paths[i]);
    nb = sync_path(m, api, j, s, f, r, l ? l->sha : NULL, &ps, out);
    set_sha(keep, nb);
    set_sha(f->base, keep);
  }
  for(i = 0; i < ps.pulls.n && !out_of_time(m); i++)
    pull_one(m, api, j, s, &ps.pulls.v[i]);
  if(!out_of_time(m))
    fs_prune(s, &local, &remote);
  if(ps.capped)
    log_warn("memory_delete_cap", "memory_store_id=%s sent=%d held=%d",
             s->id, ps.attempted, ps.capped);
out:
  free(paths);
  side_free(&ps.pulls);
  side_free(&local);
  side_free(&remote);
}

/* Push-only: uploads what changed locally, sends no delete, pulls nothing. */
static void
flush_store(struct memory *m, struct api *api, struct jail *j, struct store *s)
{
  struct side local = { 0 }, remote = { 0 };
  size_t i, dirty = 0;
  int exists, marker_ok;

  if(s->ro || scan_local(m, j, s, &local, &exists, &marker_ok) < 0)
    goto out;
  if(!marker_ok) {
    log_warn("memory_untrusted", "memory_store_id=%s reason=%s",
             s->id, "the marker file is gone or names another store; not uploading anything");
    goto out;
  }
  for(i = 0; i < local.n; i++) {
    struct fstate *f = fs_get(s, local.v[i].path);

    if(f && (strcmp(local.v[i].sha, f->base) || f->sent[0]) && strcmp(f->refused, local.v[i].sha))
      dirty++;
    else
      local.v[i].sha[0] = '\0';     /* clean: skipped below */
  }
  if(!dirty || list_remote(m, api, j, s, 0, &remote, NULL) < 0)
    goto out;
  settle_sent(s, &remote);
  for(i = 0; i < local.n && !out_of_time(m); i++) {
    struct fstate *f = fs_get(s, local.v[i].path);
    struct entry *r = side_find(&remote, local.v[i].path);
    const char *sha = local.v[i].sha;
    char out[SHA_LEN];

    if(!f || !sha[0] || !strcmp(sha, f->base))
      continue;
    if(r && !strcmp(r->sha, sha))
      set_sha(f->base, sha);
    else if(r && strcmp(r->sha, f->base))
      log_warn("memory_conflict", "memory_store_id=%s path=%s reason=%s",
               s->id, f->path,
               "changed both locally and remotely; the flush leaves the remote version");
    else if(upload(m, api, j, s, f->path, sha, r, out))
      set_sha(f->base, out);
  }
out:
  side_free(&local);
  side_free(&remote);
}

/* ---- the item's life ---- */

/* A clean absolute path below /mnt/memory: the part below it, else NULL. */
static const char *
below_root(const char *mount)
{
  size_t n = strlen(MEMORY_ROOT "/");
  const char *p;

  if(strncmp(mount, MEMORY_ROOT "/", n) || !mount[n] || strlen(mount) >= PATH_MAX - 64)
    return NULL;
  for(p = mount + n; *p;) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);

    if(len == 0 || (len == 1 && p[0] == '.') || (len == 2 && !strncmp(p, "..", 2)))
      return NULL;
    p += len + (e ? 1 : 0);
    if(e && !*p)
      return NULL;                  /* a trailing slash */
  }
  return mount + n;
}

/* A name or id usable as one folder below /mnt/memory. */
static int
clean_leaf(const char *v)
{
  return v && *v && !strchr(v, '/') && strcmp(v, ".") && strcmp(v, "..");
}

/* Both paths are clean (below_root or clean_leaf): no "//", "." or "..",
 * so comparing them component-wise is comparing the folders. */
static int
overlaps(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;

  return !strncmp(a, b, n) && (la == lb || (la < lb ? b[n] : a[n]) == '/');
}

static int
plan_store(struct memory *m, const cJSON *res, char *err, size_t errlen)
{
  const char *id = json_str(res, "memory_store_id");
  const char *mount = json_str(res, "mount_path");
  const char *name = json_str(res, "name");
  const char *access = json_str(res, "access");
  struct store *s = &m->st[m->n];
  const char *rel;
  int i;

  if(!id || !*id || strlen(id) >= sizeof(s->id)) {
    snprintf(err, errlen, "a memory_store resource without a usable memory_store_id");
    return -1;
  }
  if(m->n == MAX_STORES) {
    snprintf(err, errlen, "more than %d memory stores", MAX_STORES);
    return -1;
  }
  if(mount && *mount) {
    rel = below_root(mount);
    if(!rel) {
      snprintf(err, errlen, "memory store mount_path is not a clean absolute path below "
               MEMORY_ROOT ": \"%.300s\" (memory_store_id=%s)", mount, id);
      return -1;
    }
  }
  else if(clean_leaf(name) || clean_leaf(id))
    rel = clean_leaf(name) ? name : id;
  else {
    snprintf(err, errlen, "memory store has no mount_path and neither its name nor its id can "
             "be a folder: \"%.300s\" (memory_store_id=%.300s)", name ? name : "", id);
    return -1;
  }
  if(strchr(rel, ',') || strlen(rel) >= sizeof(s->rel)) {
    snprintf(err, errlen, "memory store path \"%.300s\" cannot be mounted (memory_store_id=%s)",
             rel, id);
    return -1;
  }
  for(i = 0; i < m->n; i++)
    if(overlaps(m->st[i].rel, rel)) {
      snprintf(err, errlen, "memory stores %s and %s overlap at " MEMORY_ROOT "/%.300s", m->st[i].id,
               id, rel);
      return -1;
    }
  memset(s, 0, sizeof(*s));
  snprintf(s->id, sizeof(s->id), "%s", id);
  snprintf(s->rel, sizeof(s->rel), "%s", rel);
  snprintf(s->marker, sizeof(s->marker), "version 1\n%s", id);
  s->ro = access && !strcmp(access, "read_only");
  s->max_tracked = (size_t)m->cfg->memory_max_files;
  m->n++;
  return 0;
}

/* The stores start empty for every item: what a dead run left is moved
 * aside, neither uploaded nor lost.  With SANDHOOK_MEMORY_MB they live in
 * an ext4 image of that size, so the agent cannot fill the state
 * filesystem through /mnt/memory, and the host holds one file, no tree the
 * agent writes; else (no root, no loop devices) in a directory. */
static int
host_folder(struct memory *m, const char *sid)
{
  static const char *const leaves[] = { STATEDIR_MEMORY_IMAGE, STATEDIR_MEMORY_DIR };  /* capped, not */
  char base[PATH_MAX - 16], stale[PATH_MAX + 32];
  size_t i;
  int capped;

  if(statedir_path(base, sizeof(base) - 16, m->cfg->state_dir, STATEDIR_SESSIONS "/%s", sid) < 0 ||
     mkdir_p(base, 0700) < 0)
    return -1;
  for(i = 0; i < N_ELEMENTS(leaves); i++) {
    if(snprintf(m->host, sizeof(m->host), "%s/%s", base, leaves[i]) >= (int)sizeof(m->host))
      return -1;
    if(access(m->host, F_OK) < 0)
      continue;
    if(snprintf(stale, sizeof(stale), "%s.stale-%lld", m->host, (long long)time(NULL)) >=
       (int)sizeof(stale) || rename(m->host, stale) < 0)
      return -1;
    log_warn("memory_leftovers", "moved_to=%s reason=%s",
             stale, "a previous run did not clean up; nothing of it is uploaded");
  }
  capped = m->cfg->memory_mb > 0 && image_possible();
  if(m->cfg->memory_mb > 0 && !capped)
    log_warn("memory_cap_unavailable", "reason=%s fallback=directory",
             geteuid() ? "unprivileged" : "no loop devices or mkfs.ext4");
  if(snprintf(m->host, sizeof(m->host), "%s/%s", base, leaves[!capped]) >= (int)sizeof(m->host))
    return -1;
  return capped ? image_create(m->host, m->cfg->memory_mb, m->cfg) : jail_owned_dir(m->host, m->cfg);
}

int
memory_plan(struct memory **out, const struct config *cfg, const cJSON *session,
            const struct work_item *item)
{
  const cJSON *res;
  struct memory *m;
  char err[600] = "";
  size_t len = 2;
  int i;

  *out = NULL;
  cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(session, "resources"))
    if(!strcmp(json_str(res, "type") ?: "", "memory_store"))
      break;
  if(!res)
    return 0;
  if(!item->sessions_token) {
    log_err("memory_unavailable", "reason=%s",
            "cannot mount the session's memories: the work item carried no sessions token; the "
            "memory endpoints reject the environment key, so the poller must issue a per-item "
            "secret carrying sessions_token");
    return -1;
  }
  m = calloc(1, sizeof(*m));
  if(!m)
    return -1;
  m->cfg = cfg;
  m->item = item;
  cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(session, "resources"))
    if(!strcmp(json_str(res, "type") ?: "", "memory_store") &&
       plan_store(m, res, err, sizeof(err)) < 0)
      break;
  for(i = 0; i < m->n; i++)
    len += strlen(m->st[i].rel) + 1;
  m->ro_list = calloc(1, len);
  if(!err[0] && !m->ro_list)
    snprintf(err, sizeof(err), "out of memory");
  for(i = 0; !err[0] && i < m->n; i++)
    if(m->st[i].ro) {
      if(*m->ro_list)
        strcat(m->ro_list, ",");
      strcat(m->ro_list, m->st[i].rel);
    }
  if(!err[0] && host_folder(m, item->data_id) < 0)
    snprintf(err, sizeof(err), "cannot prepare %.400s: %s%s", m->host, strerror(errno),
             errno == ENOSPC ? " (free space in SANDHOOK_STATE_DIR or lower SANDHOOK_MEMORY_MB)" : "");
  if(err[0]) {
    log_err("memory_unavailable", "reason=%s", err);
    memory_free(m, 1);
    return -1;
  }
  *out = m;
  return 0;
}

const char *
memory_host_dir(const struct memory *m)
{
  return m ? m->host : NULL;
}

const char *
memory_ro_stores(const struct memory *m)
{
  return m ? m->ro_list : NULL;
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
    if(out_of_time(m))
      log_warn("memory_final_sync_cut", "bound_ms=%ld reason=%s",
               PASS_MS, "the flush that follows still uploads changed files");
  }
  m->deadline = now_ms() + PASS_MS;
  m->cut = 0;
  for(i = 0; i < m->n; i++)
    flush_store(m, api, j, &m->st[i]);
  if(out_of_time(m))
    log_warn("memory_flush_cut", "bound_ms=%ld reason=%s",
             PASS_MS, "changed files not uploaded yet are not saved");
  m->deadline = 0;
}

void
memory_free(struct memory *m, int remove_folder)
{
  int i;
  size_t k;

  if(!m)
    return;
  if(remove_folder && m->host[0] && remove_tree(m->host) < 0)
    log_warn("memory_cleanup_failed", "dir=%s errno=%d", m->host, errno);
  for(i = 0; i < m->n; i++) {
    for(k = 0; k < m->st[i].n; k++) {
      free(m->st[i].f[k].path);
      cJSON_Delete(m->st[i].f[k].stat);
    }
    free(m->st[i].f);
  }
  free(m->ro_list);
  free(m);
}
