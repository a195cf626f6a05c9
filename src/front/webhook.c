#include "front/webhook.h"
#include "common/b64.h"
#include "common/ids.h"
#include "common/json.h"

#include <cjson/cJSON.h>
/* SHA256_Init and friends are deprecated in OpenSSL 3 in favour of EVP,
 * whose fetch is what this file avoids (see compute_mac). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#define MAC_LEN 32

/* Digits only, no sign, at most 18 of them: the value always fits. */
static int
parse_timestamp(const char *s, long long *out)
{
  long long v = 0;
  size_t i, n = strlen(s);

  if(n == 0 || n > 18)
    return -1;
  for(i = 0; i < n; i++) {
    if(s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

/* HMAC-SHA256 (RFC 2104) over OpenSSL's SHA-256 itself: the EVP_MAC
 * route fetches a provider and builds OpenSSL's name tables on the first
 * use, which a CGI responder, living for one request, paid in full each
 * time (more than the whole rest of the request). */
static int
compute_mac(const struct wh_key *key, const char *id, long long ts,
            const void *body, size_t len, unsigned char mac[MAC_LEN])
{
  unsigned char k[SHA256_CBLOCK] = { 0 }, pad[SHA256_CBLOCK], inner[MAC_LEN];
  char prefix[WEBHOOK_ID_MAX + 32];
  SHA256_CTX ctx;
  size_t i;
  int n, ok;

  /* The timestamp is signed as the canonical decimal of the parsed value,
   * as every reference library does. */
  n = snprintf(prefix, sizeof(prefix), "%s.%lld.", id, ts);
  if(n < 0 || (size_t)n >= sizeof(prefix))
    return -1;
  /* Init/Update/Final, not the one-shot SHA256(): in OpenSSL 3 that one
   * goes through EVP, and would pull all of it into a static front. */
  if(key->len > sizeof(k))
    ok = SHA256_Init(&ctx) && SHA256_Update(&ctx, key->bytes, key->len) && SHA256_Final(k, &ctx);
  else {
    memcpy(k, key->bytes, key->len);
    ok = 1;
  }
  for(i = 0; i < sizeof(k); i++)
    pad[i] = k[i] ^ 0x36;
  ok = ok && SHA256_Init(&ctx) && SHA256_Update(&ctx, pad, sizeof(pad)) &&
       SHA256_Update(&ctx, prefix, (size_t)n) && (len == 0 || SHA256_Update(&ctx, body, len)) &&
       SHA256_Final(inner, &ctx);
  for(i = 0; i < sizeof(k); i++)
    pad[i] = k[i] ^ 0x5c;
  ok = ok && SHA256_Init(&ctx) && SHA256_Update(&ctx, pad, sizeof(pad)) &&
       SHA256_Update(&ctx, inner, sizeof(inner)) && SHA256_Final(mac, &ctx);
  OPENSSL_cleanse(k, sizeof(k));
  OPENSSL_cleanse(pad, sizeof(pad));
  OPENSSL_cleanse(inner, sizeof(inner));
  OPENSSL_cleanse(&ctx, sizeof(ctx));
  return ok ? 0 : -1;
}

enum wh_status
webhook_verify(const struct wh_key *keys, int nkeys, const char *id, const char *timestamp,
               const char *signature, const void *body, size_t len, time_t now, int *which)
{
  unsigned char mac[WEBHOOK_KEYS_MAX][MAC_LEN], got[64];
  long long ts;
  const char *p;
  int match = -1, k;

  if(!id || !*id || !timestamp || !*timestamp || !signature || !*signature)
    return WH_MISSING_HEADER;
  if(!id_valid(id, WEBHOOK_ID_MAX))
    return WH_BAD_ID;
  if(parse_timestamp(timestamp, &ts) < 0)
    return WH_BAD_TIMESTAMP;
  if((long long)now - ts > WEBHOOK_TOLERANCE_S)
    return WH_TOO_OLD;
  if(ts - (long long)now > WEBHOOK_TOLERANCE_S)
    return WH_TOO_NEW;
  if(nkeys < 1 || nkeys > WEBHOOK_KEYS_MAX)
    return WH_BAD_SIGNATURE;
  for(k = 0; k < nkeys; k++)
    if(compute_mac(&keys[k], id, ts, body, len, mac[k]) < 0)
      return WH_BAD_SIGNATURE;

  /* Every entry is examined against every key even after a match, so the
   * time taken does not depend on which entry or which key matched. */
  for(p = signature; *p;) {
    const char *end = strchr(p, ' ');
    size_t tok = end ? (size_t)(end - p) : strlen(p);

    if(tok > 3 && !memcmp(p, "v1,", 3)) {
      ssize_t n = b64_decode_strict(p + 3, tok - 3, got, sizeof(got));

      for(k = 0; k < nkeys; k++)
        if(n == MAC_LEN && CRYPTO_memcmp(got, mac[k], MAC_LEN) == 0 && (match < 0 || k < match))
          match = k;
    }
    p += tok;
    while(*p == ' ')
      p++;
  }
  OPENSSL_cleanse(mac, sizeof(mac));
  if(which)
    *which = match;
  return match >= 0 ? WH_OK : WH_BAD_SIGNATURE;
}

const char *
webhook_status_text(enum wh_status st)
{
  switch(st) {
  case WH_OK: return "verified";
  case WH_MISSING_HEADER: return "missing webhook-id, webhook-timestamp or webhook-signature header";
  case WH_BAD_ID: return "malformed webhook-id";
  case WH_BAD_TIMESTAMP: return "malformed webhook-timestamp";
  case WH_TOO_OLD: return "message timestamp too old";
  case WH_TOO_NEW: return "message timestamp too new";
  case WH_BAD_SIGNATURE: return "no matching signature";
  default: return "unknown";
  }
}

int
webhook_http_status(enum wh_status st)
{
  switch(st) {
  case WH_OK: return 200;
  case WH_MISSING_HEADER:
  case WH_BAD_ID:
  case WH_BAD_TIMESTAMP: return 400;
  default: return 401;
  }
}

int
webhook_sign(const struct wh_key *key, const char *id, long long timestamp,
             const void *body, size_t len, char *out, size_t outlen)
{
  unsigned char mac[MAC_LEN];

  if(outlen < 3 + b64_encoded_size(MAC_LEN) || !id_valid(id, WEBHOOK_ID_MAX) ||
     compute_mac(key, id, timestamp, body, len, mac) < 0)
    return -1;
  memcpy(out, "v1,", 3);
  b64_encode(mac, MAC_LEN, out + 3);
  return 0;
}

int
webhook_parse(const void *body, size_t len, const char *header_id,
              struct wh_event *ev, const char **why)
{
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *type, *data;
  int rc = -1;

  memset(ev, 0, sizeof(*ev));
  if(!root || !cJSON_IsObject(root)) {
    *why = "body is not a JSON object";
    goto out;
  }
  type = cJSON_GetObjectItemCaseSensitive(root, "type");
  if(!cJSON_IsString(type) || strcmp(type->valuestring, "event")) {
    *why = "body type is not event";
    goto out;
  }
  if(json_copy_str(root, "id", ev->id, sizeof(ev->id)) < 0) {
    *why = "body has no string id";
    goto out;
  }
  if(strcmp(ev->id, header_id)) {
    *why = "body id does not match webhook-id";
    goto out;
  }
  data = cJSON_GetObjectItemCaseSensitive(root, "data");
  if(!cJSON_IsObject(data) ||
     json_copy_str(data, "type", ev->data_type, sizeof(ev->data_type)) < 0) {
    *why = "body has no data.type";
    goto out;
  }
  /* data.id is required only for the events we act on. */
  if(json_copy_str(data, "id", ev->data_id, sizeof(ev->data_id)) < 0)
    ev->data_id[0] = '\0';
  rc = 0;
out:
  cJSON_Delete(root);
  return rc;
}
