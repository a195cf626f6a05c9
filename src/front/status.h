/* status: `sandhook status [--json]` and `sandhook metrics`, read from the
 * state directory alone (runstate.h, metrics.h), so they answer whether
 * anything runs or not and never call the control plane.  Both return the
 * process exit status: 0, or 1 when the state directory cannot be read. */
#ifndef SANDHOOK_STATUS_H
#define SANDHOOK_STATUS_H

#include "common/config.h"

int status_main(const struct config *cfg, int json);
int metrics_main(const struct config *cfg);

#endif
