#include "drain/memstore.h"
#include "drain/digest.h"
#include "drain/audit.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/errmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long
ms_call(struct memory *m, struct api *api, const char *method, const char *path,
         const char *body, cJSON **out)
{
  struct api_req rq = { 0 };
  long status, left = m->deadline ? (long)(m->deadline - now_ms()) : 30000;
  struct errmsg err;
  cJSON *root;

  if(out)
    *out = NULL;
  if(ms_out_of_time(m))
    return 0;
  rq.method = method;
  rq.path = path;
  rq.token = m->item->sessions_token;
  rq.body = body;
  rq.beta = BETA_MEMORY;
  rq.timeout_ms = left < 30000 ? (left > 1000 ? left : 1000) : 30000;
  rq.max_retries = 2;
  rq.deadline_ms = m->deadline;
  root = api_json(api, &rq, &status, &err);
  if(out)
    *out = root;
  else
    cJSON_Delete(root);
  /* The statuses the merge answers itself are logged by it. */
  if(status != 200 && status != 404 && status != 400 && status != 409 && status != 412 &&
     status != 413)
    log_warn("memory_api_failed", "method=%s path=%s status=%ld error=%s", method, path,
             status, err.text);
  return status;
}

int
ms_api_path(struct api *api, char *buf, size_t cap, const char *store, const char *mem,
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

int
ms_remote_list(struct memory *m, struct api *api, struct jail *j, struct store *s, int full,
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
    if(ms_api_path(api, path, sizeof(path), s->id, NULL, query) < 0 ||
       ms_call(m, api, "GET", path, NULL, &root) != 200 || !root)
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
      if(remote && ms_side_add(remote, p, id, sha) < 0)
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

int
ms_pull_listed(struct memory *m, struct jail *j, struct store *s, const char *rel, const cJSON *mem)
{
  const char *content = json_str(mem, "content");
  const char *sha = json_str(mem, "content_sha256");
  struct fstate *f;

  if(ms_local_write(m, j, s, rel, content ? content : "", sha) == 0 && (f = ms_file(s, rel)))
    ms_set_sha(f->base, sha);
  return 0;
}

void
ms_pull_one(struct memory *m, struct api *api, struct jail *j, struct store *s, const struct entry *r)
{
  char path[1024];
  cJSON *mem = NULL;

  if(ms_api_path(api, path, sizeof(path), s->id, r->id, "?view=full") == 0 &&
     ms_call(m, api, "GET", path, NULL, &mem) == 200 && mem)
    ms_pull_listed(m, j, s, r->path, mem);
  cJSON_Delete(mem);
}

const char *
ms_upload(struct memory *m, struct api *api, struct jail *j, struct store *s, const char *rel,
       const char *local_sha, const struct entry *existing, char *out)
{
  struct fstate *f = ms_file(s, rel);
  const char *why, *sha;
  char path[1024], *content, *body;
  cJSON *req, *res = NULL;
  long status;

  if(!f)
    return NULL;
  content = ms_local_read(m, j, s, rel, &why);
  if(!content) {
    if(strcmp(why, "gone") && local_sha) {
      ms_set_sha(f->refused, local_sha);
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
  if(!body || ms_api_path(api, path, sizeof(path), s->id, existing ? existing->id : NULL, NULL) < 0) {
    free(body);
    return NULL;
  }
  status = ms_call(m, api, "POST", path, body, &res);
  free(body);
  sha = json_str(res, "content_sha256");
  if(status == 200 && sha) {
    f->refused[0] = f->sent[0] = '\0';
    ms_set_sha(out, sha);
    cJSON_Delete(res);
    log_info("memory_uploaded", "memory_store_id=%s path=%s", s->id, rel);
    audit_event("memory_synced", "direction", "upload", "memory_store_id", s->id, "path", rel,
                "content_sha256", out, NULL);
    return out;
  }
  cJSON_Delete(res);
  if(existing && status == 404)      /* deleted remotely meanwhile: create it */
    return ms_upload(m, api, j, s, rel, local_sha, NULL, out);
  if(existing && status == 409)
    log_warn("memory_conflict", "memory_store_id=%s path=%s reason=%s",
             s->id, rel,
             "changed both locally and remotely; the upload was refused and the local edit "
             "loses");
  else if((status == 400 || status == 413) && local_sha) {
    ms_set_sha(f->refused, local_sha);
    log_warn("memory_upload_refused", "memory_store_id=%s path=%s status=%ld reason=%s",
             s->id, rel, status,
             "the server rejected this file; it stays un-synced until it changes");
  }
  return NULL;
}
