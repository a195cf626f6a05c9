/* signing_key: the webhook signing secret as Anthropic shows it
 * ("whsec_" then base64), decoded: the front verifies with it, and the
 * settings check refuses one that does not decode before anything runs. */
#ifndef SANDHOOK_SIGNING_KEY_H
#define SANDHOOK_SIGNING_KEY_H

#include <stddef.h>

struct wh_key {
  unsigned char bytes[128];
  size_t len;
};

/* "whsec_" is optional; the rest is base64 (padding optional).  Returns -1
 * for an empty or undecodable secret. */
int webhook_key_decode(const char *secret, struct wh_key *key);

#endif
