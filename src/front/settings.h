/* settings: the responder's settings, which SIGHUP rereads.
 *
 * A rotation (a new signing key, the old one kept as
 * SANDHOOK_WEBHOOK_SIGNING_KEY_PREVIOUS) or any other change is applied
 * without a restart: settings_reload loads and checks the whole set and
 * swaps it in only when it is complete; otherwise the responder keeps
 * serving with the settings it has, and one line says why. */
#ifndef SANDHOOK_SETTINGS_H
#define SANDHOOK_SETTINGS_H

#include "common/config.h"
#include "front/responder.h"

struct front_settings {
  const char *file;           /* as for config_load */
  struct config cfg;
};

/* 0, or -1 with the reason in err (the settings then hold nothing). */
int settings_load(struct front_settings *s, int need, struct errmsg *err);

/* Rereads into r; 0 when the new settings are in use. */
int settings_reload(struct front_settings *s, struct responder *r);

#endif
