#include "drain/memstore.h"
#include "drain/digest.h"
#include "common/json.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *
jop(struct memory *m, struct jail *j, enum jail_op op, struct store *s, cJSON *req)
{
  cJSON *res = NULL;

  if(!req || ms_out_of_time(m)) {
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

char *
ms_local_read(struct memory *m, struct jail *j, struct store *s, const char *path, const char **why)
{
  cJSON *res = jop(m, j, JAIL_OP_MEM_READ, s, one_path("paths", path));
  const char *text = json_str(cJSON_GetObjectItemCaseSensitive(res, "files"), path);
  const char *err = json_str(cJSON_GetObjectItemCaseSensitive(res, "errors"), path);
  char *out = text ? strdup(text) : NULL;

  *why = err && !strcmp(err, "gone") ? "gone" : "unreadable";
  cJSON_Delete(res);
  return out;
}

int
ms_local_write(struct memory *m, struct jail *j, struct store *s, const char *path,
            const char *content, const char *sha)
{
  cJSON *req = one_path(NULL, path), *res, *st;
  struct fstate *f;

  if(req)
    cJSON_AddStringToObject(req, "content", content);
  res = jop(m, j, JAIL_OP_MEM_WRITE, s, req);
  st = cJSON_DetachItemFromObjectCaseSensitive(res, "stat");
  if(!st || !(f = ms_file(s, path))) {
    log_warn("memory_write_failed", "memory_store_id=%s path=%s error=%s", s->id, path,
             json_str(res, "error") ?: "-");
    cJSON_Delete(st);
    cJSON_Delete(res);
    return -1;
  }
  cJSON_Delete(f->stat);
  f->stat = st;
  ms_set_sha(f->st_sha, sha);
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
  /* As the jail wrote them: strings, exact to the nanosecond. */
  for(i = 0; i < N_ELEMENTS(keys); i++) {
    const char *x = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, keys[i]));
    const char *y = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, keys[i]));

    if(!x || !y || strcmp(x, y))
      return 0;
  }
  return 1;
}

/* Reads the files named in paths (at most READ_BATCH) and adds their shas
 * to local; paths is consumed.  An unreadable file gets the sha "!", which
 * matches nothing and cannot be uploaded. */
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
    struct fstate *f = ms_file(s, p->string);

    if(f) {
      sha256_hex(p->valuestring, strlen(p->valuestring), f->st_sha);
      ms_side_add(local, p->string, NULL, f->st_sha);
    }
  }
  /* Gone since the scan: absent.  Unreadable: "!", which matches nothing. */
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(got, "errors"))
    if(strcmp(cJSON_GetStringValue(p) ?: "", "gone")) {
      struct fstate *f = ms_file(s, p->string);

      if(f) {
        ms_set_sha(f->st_sha, "!");
        ms_side_add(local, p->string, NULL, "!");
      }
    }
  cJSON_Delete(got);
  return 0;
}

int
ms_local_scan(struct memory *m, struct jail *j, struct store *s, struct side *local, int *exists,
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
             "too many files, too deep, or a folder it cannot read; not syncing rather than "
             "reading the rest as deleted");
    goto fail;
  }
  cJSON_ArrayForEach(fl, cJSON_GetObjectItemCaseSensitive(res, "files")) {
    const char *path = json_str(fl, "path");
    struct fstate *f = path ? ms_file(s, path) : NULL;

    if(!f)
      goto fail;
    if(same_stat(f->stat, fl) && f->st_sha[0]) {
      if(ms_side_add(local, path, NULL, f->st_sha) < 0)
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

enum removal
ms_local_remove(struct memory *m, struct jail *j, struct store *s, struct fstate *f, char *fresh)
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
  if((why = json_str(res, "error")))
    log_warn("memory_remove_failed", "memory_store_id=%s path=%s error=%s", s->id, f->path, why);
  edited = cJSON_GetObjectItemCaseSensitive(res, "stat") != NULL;
  cJSON_Delete(res);
  if(!edited)
    return REMOVAL_KEPT;
  content = ms_local_read(m, j, s, f->path, &why);
  if(!content)
    return REMOVAL_KEPT;
  sha256_hex(content, strlen(content), fresh);
  free(content);
  return REMOVAL_EDITED;
}

int
ms_local_prepare(struct memory *m, struct jail *j, struct store *s)
{
  cJSON *req = cJSON_CreateObject(), *res;
  int ok;

  if(req)
    cJSON_AddStringToObject(req, "marker", s->marker);
  res = jop(m, j, JAIL_OP_MEM_PREPARE, s, req);
  ok = res && !json_true(res, "is_error");
  if(!ok)
    log_warn("memory_folder_failed", "memory_store_id=%s root=" MEMORY_ROOT "/%s error=%s", s->id,
             s->rel, json_str(res, "error") ?: "-");
  cJSON_Delete(res);
  return ok ? 0 : -1;
}
