/* The session's memory_store resources, as the API sends them: whoever
 * made the session chose every mount_path, name and id.  A plan that
 * passes puts each store in a clean folder below /mnt/memory, none inside
 * another, every store of the session planned and the read-only ones
 * listed; a refused one always says why. */
#include "fuzz.h"
#include "drain/memstore.h"
#include "drain/memstore_sync.h"
#include "common/json.h"
#include "common/strbuf.h"

/* Checked here without the planner's own helpers. */
static int
clean_rel(const char *rel)
{
  const char *p = rel;

  if(!*rel || strchr(rel, ','))
    return 0;
  for(;;) {
    size_t len = strcspn(p, "/");

    if(len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
      return 0;
    if(!p[len])
      return 1;
    p += len + 1;
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct config cfg = { .memory_max_files = 100 };
  struct errmsg err = ERRMSG_INIT;
  struct strbuf ro = STRBUF_INIT;
  const cJSON *res;
  struct memory *m;
  cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
  int i, k, stores = 0;

  if(!doc)
    return 0;
  m = calloc(1, sizeof(*m));
  FUZZ_ASSERT(m);
  m->cfg = &cfg;
  cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(doc, "resources"))
    stores += !strcmp(json_str(res, "type") ?: "", "memory_store");
  if(ms_plan(m, doc, &err) < 0)
    FUZZ_ASSERT(errmsg_isset(&err));
  else {
    FUZZ_ASSERT(!errmsg_isset(&err) && m->ro_list);
    FUZZ_ASSERT(m->n == stores && m->n <= MAX_STORES);
    for(i = 0; i < m->n; i++) {
      FUZZ_ASSERT(m->st[i].id[0] && clean_rel(m->st[i].rel));
      for(k = 0; k < i; k++)
        FUZZ_ASSERT(!fuzz_under(m->st[i].rel, m->st[k].rel) && !fuzz_under(m->st[k].rel, m->st[i].rel));
      if(m->st[i].ro)
        sb_printf(&ro, "%s%s", ro.len ? "," : "", m->st[i].rel);
    }
    FUZZ_ASSERT(!ro.failed && !strcmp(m->ro_list, ro.len ? ro.data : ""));
  }
  sb_release(&ro);
  memory_free(m, 0);
  cJSON_Delete(doc);
  return 0;
}
