/* check: "sandhook check", an operator's first command.  One line per
 * check (ok, warn or FAIL, a name, what was found and what is lost
 * without it): the settings, the signing key, an authenticated call to the
 * control plane that claims no work, the state directory, and each jail
 * prerequisite.  Returns the exit status: 1 when any check failed. */
#ifndef SANDHOOK_CHECK_H
#define SANDHOOK_CHECK_H

#include "common/config.h"

int check_run(const struct config *cfg);

/* Becomes the user name and its groups, before the settings are read, so
 * that every check answers for a service running as that user (its key
 * files, directories, log and jail) and not for root: 0, with a line
 * saying who; or -1, the reason printed as a failed check. */
int check_become(const char *name);

#endif
