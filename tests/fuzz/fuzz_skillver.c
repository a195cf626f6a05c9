/* What the control plane answers about a skill's versions: a retrieved
 * version (its id or number, its name) and a legacy listing page.  A
 * version taken has a reference that fits and is not empty (the id when
 * there is one, else the number, the legacy way), and a directory name
 * that is one path component, never "." or "..", with no space at either
 * end, unless it is the skill id itself; the best of a listing is digits,
 * no smaller than any numeric version listed, compared by value. */
#include <ctype.h>

#include "fuzz.h"
#include "drain/skills.h"

#define SKILL_ID "skill_01fuzz"

static void
check_name(const struct skill_version *v)
{
  size_t n = strlen(v->name);

  FUZZ_ASSERT(n > 0 && n < sizeof(v->name));
  FUZZ_ASSERT(!strchr(v->name, '/') && strcmp(v->name, ".") && strcmp(v->name, ".."));
  FUZZ_ASSERT(!isspace((unsigned char)v->name[0]) && !isspace((unsigned char)v->name[n - 1]));
}

/* The value of a run of digits, where it fits in 64 bits. */
static int
value_of(const char *s, unsigned long long *out)
{
  const char *p = s;

  while(*p == '0' && p[1])
    p++;
  if(strlen(p) > 19)
    return 0;
  *out = strtoull(s, NULL, 10);
  return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
  struct skill_version v;
  const cJSON *e, *id;
  char best[32] = "";
  int legacy;

  if(!doc)
    return 0;
  for(legacy = 0; legacy < 2; legacy++) {
    memset(&v, 0, sizeof(v));
    if(skill_version_take(doc, SKILL_ID, legacy, &v) == 0) {
      FUZZ_ASSERT(v.ref[0] && strlen(v.ref) < sizeof(v.ref));
      FUZZ_ASSERT(!legacy || v.legacy);
      if(!legacy) {
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(doc, "id");

        /* A non-empty id is what GA downloads by; without one, the number. */
        if(cJSON_IsString(i) && *i->valuestring)
          FUZZ_ASSERT(!strcmp(v.ref, i->valuestring) && !v.legacy);
        else
          FUZZ_ASSERT(v.legacy);
      }
      check_name(&v);
    }
  }
  /* The skill id comes from the session, as it is: a name other than the
   * fallback to it came from the version, and is clean. */
  id = cJSON_GetObjectItemCaseSensitive(doc, "skill_id");
  if(cJSON_IsString(id) && skill_version_take(doc, id->valuestring, 0, &v) == 0 &&
     strncmp(v.name, id->valuestring, sizeof(v.name) - 1))
    check_name(&v);

  skill_version_best(doc, best, sizeof(best));
  if(best[0]) {
    unsigned long long b, x;
    int b_fits = value_of(best, &b);

    for(const char *p = best; *p; p++)
      FUZZ_ASSERT(isdigit((unsigned char)*p));
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "data")) {
      const cJSON *num = cJSON_GetObjectItemCaseSensitive(e, "version");
      const char *s = cJSON_IsString(num) ? num->valuestring : "";
      size_t k;

      for(k = 0; s[k] && isdigit((unsigned char)s[k]); k++)
        ;
      if(!k || s[k] || k >= sizeof(best) || !value_of(s, &x))
        continue;
      FUZZ_ASSERT(!b_fits || b >= x);
    }
  }
  cJSON_Delete(doc);
  return 0;
}
