#include "common/json.h"

#include <math.h>
#include <string.h>

long
json_long(const cJSON *v, long lo, long hi, long dflt)
{
  double d;

  if(!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return dflt;
  d = v->valuedouble;
  if(d <= (double)lo)
    return lo;
  if(d >= (double)hi)
    return hi;
  return (long)d;
}

const char *
json_str(const cJSON *obj, const char *name)
{
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

int
json_true(const cJSON *obj, const char *name)
{
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

int
json_copy_str(const cJSON *obj, const char *name, char *dst, size_t cap)
{
  const char *v = json_str(obj, name);
  size_t n = v ? strlen(v) : 0;

  if(!v || n >= cap)
    return -1;
  memcpy(dst, v, n + 1);
  return 0;
}
