#include "common/jsonnum.h"

#include <math.h>

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
