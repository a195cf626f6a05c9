/* json: reading JSON nobody vouches for (the agent's tool input, the
 * control plane's answers, a webhook body) with one getter per type.
 *
 * A missing member, a member of another type, or a NULL object all read
 * as "absent", so callers test one result.  Numbers: cJSON keeps each as a
 * double, and casting one outside the target type's range (1e300, NaN) is
 * undefined, so json_long clamps into [lo, hi] first and gives dflt for
 * anything that is not a finite number. */
#ifndef SANDHOOK_JSON_H
#define SANDHOOK_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

long json_long(const cJSON *v, long lo, long hi, long dflt);

/* obj[name] when it is a string (borrowed from obj), else NULL. */
const char *json_str(const cJSON *obj, const char *name);

/* obj[name] is true. */
int json_true(const cJSON *obj, const char *name);

/* Copies the string obj[name] into dst; -1 when it is absent, not a
 * string, or does not fit in cap bytes with its NUL. */
int json_copy_str(const cJSON *obj, const char *name, char *dst, size_t cap);

#endif
