/* skills: the session agent's skills in /workspace/skills/<name>/.
 *
 * The drainer resolves each skill's version as the official worker does
 * (GA: retrieve /v1/skills/{id}/versions/{v} with the agent's value as given,
 * "latest" included, then download the returned skver_ id's content; the
 * legacy beta listing only where the server answers in the legacy shape),
 * streams the archive to an unlinked file and hands its descriptor to the
 * jail, which unpacks it (jail/skills_unpack.h).  Runs after the first heartbeat and
 * before the event stream opens.  A failing skill is logged and skipped;
 * the others go on.  At the end of the item the directories are removed. */
#ifndef SANDHOOK_SKILLS_H
#define SANDHOOK_SKILLS_H

#include <cjson/cJSON.h>
#include <limits.h>
#include <stddef.h>

#include "drain/api.h"
#include "common/config.h"
#include "drain/jail_client.h"

/* What a version resolves to: the id to download it by, the directory
 * name under /workspace/skills, and whether the server spoke the legacy
 * beta shape. */
struct skill_version {
  char ref[128];
  char name[NAME_MAX + 1];
  int legacy;
};

/* Reads a retrieved version (v, as the API answered: untrusted): 0, or -1
 * when it names no usable version.  The name is the basename of v's name,
 * trimmed, or skill_id when that leaves nothing usable; the jail checks
 * it again before it makes the directory. */
int skill_version_take(const cJSON *v, const char *skill_id, int legacy,
                       struct skill_version *out);

/* Raises best (cap bytes, "" at first) to the largest numeric version a
 * legacy listing page (data[].version) names, by value. */
void skill_version_best(const cJSON *page, char *best, size_t cap);

/* Installs every skill of session.agent.skills; returns the array of the
 * directory names installed (for skills_remove, the caller's to delete),
 * or NULL when none was. */
cJSON *skills_install(const struct config *cfg, struct api *api, const char *token,
                      const cJSON *session, struct jail *j);

/* Removes the installed skills' directories; frees installed. */
void skills_remove(struct jail *j, cJSON *installed);

#endif
