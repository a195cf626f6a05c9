/* webhook: Standard Webhooks verification and the thin event envelope.
 *
 * webhook_verify checks the three webhook-* headers and the HMAC-SHA256 of
 * "id.timestamp.body" over the raw body bytes, comparing every v1 entry in
 * constant time; the clock is a parameter so tests can pin it.  Only a
 * verified body is given to webhook_parse. */
#ifndef SANDHOOK_WEBHOOK_H
#define SANDHOOK_WEBHOOK_H

#include <stddef.h>
#include <time.h>

#include "common/signing_key.h"

#define WEBHOOK_TOLERANCE_S 300
#define WEBHOOK_ID_MAX 255

enum wh_status {
  WH_OK = 0,
  WH_MISSING_HEADER,     /* 400 */
  WH_BAD_ID,             /* 400 */
  WH_BAD_TIMESTAMP,      /* 400 */
  WH_TOO_OLD,            /* 401 */
  WH_TOO_NEW,            /* 401 */
  WH_BAD_SIGNATURE,      /* 401 */
};

/* During a rotation two keys verify (the current one first); *which (may
 * be NULL) is the index of the key that matched, -1 when none did. */
#define WEBHOOK_KEYS_MAX 2
enum wh_status webhook_verify(const struct wh_key *keys, int nkeys, const char *id,
                              const char *timestamp, const char *signature,
                              const void *body, size_t len, time_t now, int *which);

const char *webhook_status_text(enum wh_status st);
int webhook_http_status(enum wh_status st);

/* Signs as a sender would, for replay --resign and tests: writes
 * "v1,<base64>" into out (at least 48 bytes). */
int webhook_sign(const struct wh_key *key, const char *id, long long timestamp,
                 const void *body, size_t len, char *out, size_t outlen);

struct wh_event {
  char id[WEBHOOK_ID_MAX + 1];
  char data_type[128];
  char data_id[256];
};

/* Parses the envelope: type "event", a string id equal to header_id, and
 * data.type / data.id.  Returns 0, or -1 with *why set. */
int webhook_parse(const void *body, size_t len, const char *header_id,
                  struct wh_event *ev, const char **why);

#endif
