/* Numbers in JSON nobody vouches for (timeout_ms, view_range, a lease's
 * ttl, Retry-After): whatever the document holds, 1e308, -0, NaN-like
 * forms, every number comes out as a C long inside the range asked for. */
#include "fuzz.h"
#include "common/json.h"

#include <limits.h>

static const long ranges[][3] = {
  { 1, 86400000L, 120000 }, { 0, 3600, 0 }, { LONG_MIN, LONG_MAX, 7 }, { -5, 5, 0 }, { 0, 0, 0 },
};

static void
walk(const cJSON *v)
{
  size_t i;

  for(; v; v = v->next) {
    for(i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
      long got = json_long(v, ranges[i][0], ranges[i][1], ranges[i][2]);

      FUZZ_ASSERT((got >= ranges[i][0] && got <= ranges[i][1]) || got == ranges[i][2]);
      if(!cJSON_IsNumber(v))
        FUZZ_ASSERT(got == ranges[i][2]);
    }
    walk(v->child);
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  cJSON *doc = cJSON_ParseWithLength((const char *)data, size);

  walk(doc);
  FUZZ_ASSERT(json_long(NULL, 0, 10, 3) == 3);
  cJSON_Delete(doc);
  return 0;
}
