#include "drain/memstore.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/statedir.h"
#include "common/util.h"
#include "drain/memstore_sync.h"
#include "drain/image.h"
#include "drain/workspace.h"
#include "common/errmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
plan_store(struct memory *m, const cJSON *res, struct errmsg *err)
{
  const char *id = json_str(res, "memory_store_id");
  const char *mount = json_str(res, "mount_path");
  const char *name = json_str(res, "name");
  const char *access = json_str(res, "access");
  struct store *s = &m->st[m->n];
  const char *rel;
  int i;

  if(!id || !*id || strlen(id) >= sizeof(s->id)) {
    errmsg_set(err, "a memory_store resource without a usable memory_store_id");
    return -1;
  }
  if(m->n == MAX_STORES) {
    errmsg_set(err, "more than %d memory stores", MAX_STORES);
    return -1;
  }
  if(mount && *mount) {
    rel = below_root(mount);
    if(!rel) {
      errmsg_set(err, "memory store mount_path is not a clean absolute path below "
               MEMORY_ROOT ": \"%.300s\" (memory_store_id=%s)", mount, id);
      return -1;
    }
  }
  else if(clean_leaf(name) || clean_leaf(id))
    rel = clean_leaf(name) ? name : id;
  else {
    errmsg_set(err, "memory store has no mount_path and neither its name nor its id can "
             "be a folder: \"%.300s\" (memory_store_id=%.300s)", name ? name : "", id);
    return -1;
  }
  if(strchr(rel, ',') || strlen(rel) >= sizeof(s->rel)) {
    errmsg_set(err, "memory store path \"%.300s\" cannot be mounted (memory_store_id=%s)",
             rel, id);
    return -1;
  }
  for(i = 0; i < m->n; i++)
    if(overlaps(m->st[i].rel, rel)) {
      errmsg_set(err, "memory stores %s and %s overlap at " MEMORY_ROOT "/%.300s", m->st[i].id,
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
ms_plan(struct memory *m, const cJSON *session, struct errmsg *err)
{
  const cJSON *res;
  size_t len = 2;
  int i;

  cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(session, "resources"))
    if(!strcmp(json_str(res, "type") ?: "", "memory_store") &&
       plan_store(m, res, err) < 0)
      return -1;
  for(i = 0; i < m->n; i++)
    len += strlen(m->st[i].rel) + 1;
  m->ro_list = calloc(1, len);
  if(!m->ro_list) {
    errmsg_set(err, "out of memory");
    return -1;
  }
  for(i = 0; i < m->n; i++)
    if(m->st[i].ro) {
      if(*m->ro_list)
        strcat(m->ro_list, ",");
      strcat(m->ro_list, m->st[i].rel);
    }
  return 0;
}

int
memory_plan(struct memory **out, const struct config *cfg, const cJSON *session,
            const struct work_item *item)
{
  const cJSON *res;
  struct memory *m;
  struct errmsg err = ERRMSG_INIT;

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
  if(ms_plan(m, session, &err) == 0 && host_folder(m, item->data_id) < 0)
    errmsg_set(&err, "cannot prepare %.400s: %s%s", m->host, strerror(errno),
             errno == ENOSPC ? " (free space in SANDHOOK_STATE_DIR or lower SANDHOOK_MEMORY_MB)" : "");
  if(errmsg_isset(&err)) {
    log_err("memory_unavailable", "reason=%s", err.text);
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
