/* Every vector and negative case of shared/spec/webhooks.md section 5. */
#include <stdlib.h>
#include <string.h>

#include "front/webhook.h"
#include "tap.h"

struct vector {
  const char *name, *secret, *id;
  long long ts;
  const char *payload, *signature;
};

static const char V3_BODY[] =
  "{\"id\":\"whe_0f1e2d3c4b5a69788796a5b4c3d2e1f0\",\"created_at\":\"2026-03-15T10:00:00Z\","
  "\"data\":{\"id\":\"sesn_011CZkZAtmR3yMPDzynEDxu7\",\"organization_id\":"
  "\"org_011CZkZZAe0sMna4vkBdtrfx\",\"type\":\"session.status_idled\",\"workspace_id\":"
  "\"wrkspc_011CZkZaBF1tNoB5wlCeusgy\"},\"type\":\"event\"}";
static const char V5_BODY[] =
  "{\"type\":\"event\",\"id\":\"whe_run_started_0001\",\"created_at\":\"2026-03-18T14:05:22Z\","
  "\"data\":{\"type\":\"session.status_run_started\",\"id\":\"sesn_01XYZ\",\"organization_id\":"
  "\"org_01ABC\",\"workspace_id\":\"wrkspc_01DEF\"}}";
#define V1_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define V5_SECRET "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static const struct vector vectors[] = {
  { "V1", V1_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
    "{\"test\": 2432232314}", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" },
  { "V2", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
    1649367553, "{\"email\":\"test@example.com\",\"username\":\"test_user\"}",
    "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=" },
  { "V3", "whsec_c2VjcmV0Cg==", "1", 1773568800, V3_BODY,
    "v1,wTnohUOy8o3ym0dAIWsf9rZnOQWHHBif7o5uADBMSeo=" },
  { "V4", "whsec_c2VjcmV0Cg==", "whe_0f1e2d3c4b5a69788796a5b4c3d2e1f0", 1773568800, V3_BODY,
    "v1,YunRpM14wPHe8sMDuEeZVa/YijpgKtXgHBZzex3fEP0=" },
  { "V5", V5_SECRET, "whe_run_started_0001", 1773842722, V5_BODY,
    "v1,U69JZntNYSaUa7jh03d/TLzcwO65VrHSxQBbMcu0bOg=" },
  { "V5 with V1 secret", V1_SECRET, "whe_run_started_0001", 1773842722, V5_BODY,
    "v1,jglTboGB0RnPzYlG58Z/6Ad0a9j8z5DxVA8WaO8VsnU=" },
  { "V6", V1_SECRET, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", 1674087231,
    "{\"type\":\"contact.created\",\"timestamp\":\"2022-11-03T20:26:10.344522Z\","
    "\"data\":{\"id\":\"1f81eb52-5198-4599-803e-771906343485\"}}",
    "v1,ARw42xaAApl/nxRo+iPGYwSaMQaOwMo2eyH5JBRA+bQ=" },
  { "V7 empty body", V1_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "",
    "v1,v48jdbgvh29KJz2Qc+ghw8G6vG3nAKnujWBg8oM/62A=" },
};

static enum wh_status
verify_v1(const char *id, const char *ts, const char *sig, const char *body, long long now)
{
  struct wh_key key;

  webhook_key_decode(V1_SECRET, &key);
  return webhook_verify(&key, 1, id, ts, sig, body, strlen(body), (time_t)now, NULL);
}

static void
positive_vectors(void)
{
  size_t i;

  for(i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
    const struct vector *v = &vectors[i];
    struct wh_key key;
    char sig[64], ts[32];

    ok(webhook_key_decode(v->secret, &key) == 0, "%s: secret decodes", v->name);
    ok(webhook_sign(&key, v->id, v->ts, v->payload, strlen(v->payload), sig, sizeof(sig)) == 0,
       "%s: signs", v->name);
    is_str(sig, v->signature, "%s: signature matches the vector", v->name);
    snprintf(ts, sizeof(ts), "%lld", v->ts);
    is_int(webhook_verify(&key, 1, v->id, ts, v->signature, v->payload, strlen(v->payload),
                          (time_t)v->ts, NULL), WH_OK, "%s: verifies at its own time", v->name);
  }
}

static void
negative_cases(void)
{
  const char *id = "msg_p5jXN8AQM9LWM0D4loKWxJek", *body = "{\"test\": 2432232314}";
  const char *good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
  const long long t = 1614265330;
  char multi[512], partial[16];
  struct wh_key key;

  is_int(verify_v1(id, "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", body, t),
         WH_BAD_SIGNATURE, "last characters changed: rejected");
  is_int(verify_v1(id, "1614265330", "v1,dawfeoifkpqwoekfpqoekf", body, t), WH_BAD_SIGNATURE,
         "garbage signature: rejected");
  is_int(verify_v1(id, "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLawdd", body, t),
         WH_BAD_SIGNATURE, "garbage signature 2: rejected");
  snprintf(multi, sizeof(multi),
           "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
           "%s v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", good);
  is_int(verify_v1(id, "1614265330", multi, body, t), WH_OK, "multi-signature, one valid: accepted");
  is_int(verify_v1(id, "1614265330", "v1,", body, t), WH_BAD_SIGNATURE, "'v1,' alone: rejected");
  memcpy(partial, good, 8);
  partial[8] = '\0';
  is_int(verify_v1(id, "1614265330", partial, body, t), WH_BAD_SIGNATURE,
         "first 8 characters of a valid signature: rejected");
  is_int(verify_v1(id, "1614265330", "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", body, t),
         WH_BAD_SIGNATURE, "other versions are skipped");
  is_int(verify_v1(NULL, "1614265330", good, body, t), WH_MISSING_HEADER, "missing webhook-id");
  is_int(verify_v1(id, NULL, good, body, t), WH_MISSING_HEADER, "missing webhook-timestamp");
  is_int(verify_v1(id, "1614265330", NULL, body, t), WH_MISSING_HEADER, "missing webhook-signature");
  is_int(verify_v1("", "1614265330", good, body, t), WH_MISSING_HEADER, "empty webhook-id");
  is_int(verify_v1(id, "hello", good, body, t), WH_BAD_TIMESTAMP, "non-numeric timestamp");
  is_int(verify_v1(id, "+1614265330", good, body, t), WH_BAD_TIMESTAMP, "signed timestamp");
  is_int(verify_v1(id, "1614265330.5", good, body, t), WH_BAD_TIMESTAMP, "fractional timestamp");
  is_int(verify_v1(id, "1614265330", good, body, t + 301), WH_TOO_OLD, "now - 301: too old");
  is_int(verify_v1(id, "1614265330", good, body, t - 301), WH_TOO_NEW, "now + 301: too new");
  is_int(verify_v1(id, "1614265330", good, body, t + 300), WH_OK, "exactly 300 s old: accepted");
  is_int(verify_v1(id, "1614265330", good, body, t - 300), WH_OK, "exactly 300 s ahead: accepted");
  is_int(verify_v1(id, "5", good, body, t), WH_TOO_OLD, "ancient timestamp 5: too old");
  is_int(verify_v1(id, "0", good, body, t), WH_TOO_OLD, "ancient timestamp 0: too old");
  is_int(verify_v1("bad", "1614265330", good, body, t), WH_BAD_SIGNATURE, "wrong id: rejected");
  is_int(verify_v1("wrong", "1614265330", good, body, t), WH_BAD_SIGNATURE, "wrong id 2: rejected");
  is_int(verify_v1("msg.x", "1614265330", good, body, t), WH_BAD_ID, "id with a dot: malformed");
  is_int(verify_v1("../x", "1614265330", good, body, t), WH_BAD_ID, "id with a slash: malformed");
  is_int(verify_v1(id, "1614265330", good, "xxx", t), WH_BAD_SIGNATURE, "body changed: rejected");
  is_int(verify_v1(id, "1614265330", good, "some other payload", t), WH_BAD_SIGNATURE,
         "body changed 2: rejected");
  ok(webhook_key_decode("", &key) < 0, "empty secret: error");
  ok(webhook_key_decode("whsec_", &key) < 0, "'whsec_' alone: error");
  ok(webhook_key_decode("whsec_!!!", &key) < 0, "non-base64 secret: error");
  {
    struct wh_key a, b;

    ok(webhook_key_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &a) == 0 &&
       webhook_key_decode(V1_SECRET, &b) == 0 && a.len == b.len && !memcmp(a.bytes, b.bytes, a.len),
       "secret with and without whsec_ decode to the same key");
    /* Policy: unpadded secrets are accepted, as the Python library does. */
    ok(webhook_key_decode("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", &a) == 0 &&
       webhook_key_decode(V5_SECRET, &b) == 0 && a.len == 32 && !memcmp(a.bytes, b.bytes, 32),
       "unpadded secret decodes to the same 32-byte key");
  }
  is_int(webhook_http_status(WH_MISSING_HEADER), 400, "missing header is a 400");
  is_int(webhook_http_status(WH_BAD_TIMESTAMP), 400, "bad timestamp is a 400");
  is_int(webhook_http_status(WH_TOO_OLD), 401, "stale is a 401");
  is_int(webhook_http_status(WH_BAD_SIGNATURE), 401, "bad signature is a 401");
}

static void
parse_cases(void)
{
  struct wh_event ev;
  const char *why = NULL;

  ok(webhook_parse(V5_BODY, strlen(V5_BODY), "whe_run_started_0001", &ev, &why) == 0,
     "V5 body parses");
  is_str(ev.data_type, "session.status_run_started", "data.type");
  is_str(ev.data_id, "sesn_01XYZ", "data.id");
  ok(webhook_parse(V5_BODY, strlen(V5_BODY), "whe_other", &ev, &why) < 0 &&
     !strcmp(why, "body id does not match webhook-id"), "body id must equal webhook-id");
  ok(webhook_parse(V3_BODY, strlen(V3_BODY), "1", &ev, &why) < 0, "V3: id '1' differs from body");
  ok(webhook_parse(V3_BODY, strlen(V3_BODY), "whe_0f1e2d3c4b5a69788796a5b4c3d2e1f0", &ev, &why) == 0 &&
     !strcmp(ev.data_type, "session.status_idled"), "key order does not matter");
  ok(webhook_parse("{\"test\": 1}", 11, "x", &ev, &why) < 0, "not an event envelope");
  ok(webhook_parse("[1,2", 4, "x", &ev, &why) < 0, "not JSON");
  ok(webhook_parse("{\"type\":\"event\",\"id\":\"a\"}", 25, "a", &ev, &why) < 0, "no data");
}

/* A rotation: the current key and the previous one both verify, and the
 * caller learns which one did. */
static void
two_keys(void)
{
  const char *id = "msg_rot", *body = "{\"x\":1}";
  struct wh_key keys[2], other;
  char sig[64], both[160];
  int which = 99;

  webhook_key_decode("whsec_Y3VycmVudC1rZXktb2YtdGhlLXJvdGF0aW9u", &keys[0]);
  webhook_key_decode(V1_SECRET, &keys[1]);
  webhook_key_decode("whsec_c2VjcmV0LW5vdC1jb25maWd1cmVk", &other);
  webhook_sign(&keys[1], id, 1700000000, body, strlen(body), sig, sizeof(sig));
  is_int(webhook_verify(keys, 2, id, "1700000000", sig, body, strlen(body), 1700000000, &which),
         WH_OK, "a delivery signed with the previous key verifies");
  is_int(which, 1, "and the previous key is the one that matched");
  is_int(webhook_verify(keys, 1, id, "1700000000", sig, body, strlen(body), 1700000000, &which),
         WH_BAD_SIGNATURE, "without the previous key it does not");
  is_int(which, -1, "and no key matched");
  webhook_sign(&other, id, 1700000000, body, strlen(body), both, sizeof(both));
  strcat(both, " ");
  webhook_sign(&keys[0], id, 1700000000, body, strlen(body), both + strlen(both), 64);
  is_int(webhook_verify(keys, 2, id, "1700000000", both, body, strlen(body), 1700000000, &which),
         WH_OK, "a header with an unknown key's entry and the current key's verifies");
  is_int(which, 0, "and the current key is the one that matched");
  webhook_sign(&other, id, 1700000000, body, strlen(body), sig, sizeof(sig));
  is_int(webhook_verify(keys, 2, id, "1700000000", sig, body, strlen(body), 1700000000, &which),
         WH_BAD_SIGNATURE, "a key that is neither is refused");
}

int
main(void)
{
  positive_vectors();
  two_keys();
  negative_cases();
  parse_cases();
  return tap_done();
}
