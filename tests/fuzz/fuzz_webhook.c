/* Standard Webhooks verification: the three headers and the body, as an
 * internet client sends them.  Whatever arrives, the status maps to 400 or
 * 401 unless it verifies; a body this key signed always verifies, with
 * the rotation's previous key beside it too, and the same body one bit off
 * never does. */
#include "fuzz.h"
#include "front/webhook.h"

#define NOW 1767225600

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct wh_key key, keys[2];
  static int ready;
  char *s = fuzz_str(data, size), *f[4], sig[128];
  const char *why;
  struct wh_event ev;
  enum wh_status st;
  size_t blen;
  int code, which;

  if(!ready) {
    FUZZ_ASSERT(webhook_key_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &key) == 0);
    FUZZ_ASSERT(webhook_key_decode("whsec_cHJldmlvdXMta2V5LWluLWEtcm90YXRpb24=", &keys[0]) == 0);
    keys[1] = key;
    ready = 1;
  }
  fuzz_fields(s, f, 4);
  blen = f[3] ? size - (size_t)(f[3] - s) : 0;
  st = webhook_verify(&key, 1, f[0], f[1], f[2], f[3] ? f[3] : "", blen, NOW, NULL);
  code = webhook_http_status(st);
  FUZZ_ASSERT(st == WH_OK ? code / 100 == 2 : code == 400 || code == 401);
  FUZZ_ASSERT(webhook_status_text(st) != NULL);
  if(st == WH_OK && webhook_parse(f[3], blen, f[0], &ev, &why) == 0)
    FUZZ_ASSERT(!strcmp(ev.id, f[0]));
  {
    struct wh_key k2;

    if(f[0] && webhook_key_decode(f[0], &k2) == 0)
      FUZZ_ASSERT(k2.len > 0 && k2.len <= sizeof(k2.bytes));
  }
  if(f[0] && f[3] && webhook_sign(&key, f[0], NOW, f[3], blen, sig, sizeof(sig)) == 0) {
    char ts[32];

    snprintf(ts, sizeof(ts), "%d", NOW);
    st = webhook_verify(&key, 1, f[0], ts, sig, f[3], blen, NOW, NULL);
    FUZZ_ASSERT(st == WH_OK || st == WH_BAD_ID);
    FUZZ_ASSERT(webhook_verify(keys, 2, f[0], ts, sig, f[3], blen, NOW, &which) == st);
    FUZZ_ASSERT(st != WH_OK || which == 1);
    if(st == WH_OK && blen) {
      f[3][0] ^= 1;
      FUZZ_ASSERT(webhook_verify(&key, 1, f[0], ts, sig, f[3], blen, NOW, NULL) == WH_BAD_SIGNATURE);
    }
  }
  free(s);
  return 0;
}
