#include "drain/memstore.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fstate *
ms_file(struct store *s, const char *path)
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

struct entry *
ms_side_find(const struct side *sd, const char *path)
{
  size_t i;

  for(i = 0; i < sd->n; i++)
    if(!strcmp(sd->v[i].path, path))
      return &sd->v[i];
  return NULL;
}

void
ms_prune(struct store *s, const struct side *local, const struct side *remote)
{
  size_t i, k = 0;

  for(i = 0; i < s->n; i++) {
    struct fstate *f = &s->f[i];

    if(!f->base[0] && !f->sent[0] && !f->pending_since && !ms_side_find(local, f->path) &&
       !ms_side_find(remote, f->path)) {
      free(f->path);
      cJSON_Delete(f->stat);
      continue;
    }
    s->f[k++] = *f;
  }
  s->n = k;
  s->full = 0;
}

int
ms_side_add(struct side *sd, const char *path, const char *id, const char *sha)
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

void
ms_side_free(struct side *sd)
{
  size_t i;

  for(i = 0; i < sd->n; i++)
    free(sd->v[i].path);
  free(sd->v);
  memset(sd, 0, sizeof(*sd));
}

void
ms_set_sha(char *dst, const char *sha)
{
  snprintf(dst, SHA_LEN, "%s", sha ? sha : "");
}

/* ---- time bounds ---- */

int
ms_out_of_time(struct memory *m)
{
  if(m->deadline && now_ms() >= m->deadline)
    m->cut = 1;
  return m->cut;
}
