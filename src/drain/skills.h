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

#include "drain/api.h"
#include "common/config.h"
#include "drain/jail_client.h"

/* Installs every skill of session.agent.skills; returns the array of the
 * directory names installed (for skills_remove, the caller's to delete),
 * or NULL when none was. */
cJSON *skills_install(const struct config *cfg, struct api *api, const char *token,
                      const cJSON *session, struct jail *j);

/* Removes the installed skills' directories; frees installed. */
void skills_remove(struct jail *j, cJSON *installed);

#endif
