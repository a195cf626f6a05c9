/* jsonnum: numbers from JSON nobody vouches for (the agent's tool input,
 * the control plane's answers), as C integers without undefined behaviour.
 *
 * cJSON keeps every number as a double; casting one outside the target
 * type's range (1e300, NaN) is undefined.  json_long clamps into [lo, hi]
 * first and gives dflt for anything that is not a finite number. */
#ifndef SANDHOOK_JSONNUM_H
#define SANDHOOK_JSONNUM_H

#include <cjson/cJSON.h>

long json_long(const cJSON *v, long lo, long hi, long dflt);

#endif
