/* ids: the one check for an id from outside (a webhook-id, a work or
 * session id) before it becomes a file name or part of a path: only
 * [A-Za-z0-9_-], 1..max bytes, so never '.', '/' or "..", and each one
 * its own URL escape. */
#ifndef SANDHOOK_IDS_H
#define SANDHOOK_IDS_H

#include <stddef.h>

/* The longest work or session id taken into a path. */
#define ID_MAX 200

int id_valid(const char *id, size_t max);

/* id_valid(id, ID_MAX). */
int safe_id(const char *id);

#endif
