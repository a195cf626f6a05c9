/* The per-item secret, the work object, and the numbers the control plane
 * sends that the worker computes with (Retry-After, a lease's ttl). */
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "drain/lease.h"
#include "drain/queue.h"
#include "tap.h"

static char *
encode(const char *json, int urlsafe, int pad)
{
  char *out = malloc(b64_encoded_size(strlen(json)));
  size_t n = b64_encode((const unsigned char *)json, strlen(json), out), i;

  if(urlsafe)
    for(i = 0; i < n; i++)
      out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
  if(!pad)
    while(n && out[n - 1] == '=')
      out[--n] = '\0';
  return out;
}

static int
parse(const char *json, struct work_item *item, char **secret)
{
  return work_parse(json, strlen(json), item, secret);
}

int
main(void)
{
  /* The '?>' and '~~' give '/' and '+' in standard base64. */
  const char *json = "{\"sessions_token\":\"sk-ant-req-abc?>~~\",\"api_base_url\":\"x\",\"auth\":{}}";
  char *s, *tok;
  struct work_item item;
  char *secret = NULL;
  int pad, url;

  for(url = 0; url < 2; url++)
    for(pad = 0; pad < 2; pad++) {
      s = encode(json, url, pad);
      tok = secret_sessions_token(s);
      is_str(tok, "sk-ant-req-abc?>~~", "token from %s base64, %s", url ? "url-safe" : "standard",
             pad ? "padded" : "unpadded");
      free(tok);
      free(s);
    }
  s = encode("{\"auth\":\"x\"}", 1, 0);
  ok(secret_sessions_token(s) == NULL, "no sessions_token: NULL (environment key fallback)");
  free(s);
  s = encode("{\"sessions_token\":\"\"}", 1, 0);
  ok(secret_sessions_token(s) == NULL, "empty sessions_token: NULL");
  free(s);
  s = encode("[1,2]", 1, 0);
  ok(secret_sessions_token(s) == NULL, "not an object: NULL");
  free(s);
  ok(secret_sessions_token("!!!not base64") == NULL, "not base64: NULL");

  ok(parse("{\"type\":\"work\",\"id\":\"work_1\",\"data\":{\"type\":\"session\",\"id\":\"sesn_1\"},"
           "\"secret\":\"abc\"}", &item, &secret) == 0, "work object parses");
  is_str(item.id, "work_1", "work id");
  is_str(item.data_type, "session", "data.type");
  is_str(item.data_id, "sesn_1", "data.id");
  is_str(secret, "abc", "secret");
  free(secret);
  ok(parse("{\"type\":\"work\",\"id\":\"work_2\",\"data\":{\"type\":\"healthcheck\",\"id\":\"h\"},"
           "\"secret\":null}", &item, &secret) == 0 && !secret &&
     !strcmp(item.data_type, "healthcheck"), "healthcheck item, null secret");
  ok(parse("{}", &item, &secret) < 0, "object without id is not a work item");
  /* Retry-After: whatever arrives, the wait stays a minute at most. */
  is_int(api_retry_after(" 120\r\n"), 120, "Retry-After: 120 is 120 s");
  is_int(api_retry_after(" 99999999999999999999999\r\n"), 3600, "a Retry-After past long's range is an hour");
  is_int(api_retry_after(" -5"), 0, "a negative Retry-After is none");
  is_int(api_retry_after(" Wed, 21 Oct 2015 07:28:00 GMT"), 0, "an HTTP-date is none");
  is_int(api_backoff_ms(1, 3600), 60000, "an hour's Retry-After waits a minute");
  is_int(api_backoff_ms(1, 30), 30000, "a 30 s Retry-After waits 30 s");
  ok(api_backoff_ms(40, 0) >= 8000 && api_backoff_ms(40, 0) <= 10000, "attempt 40 backs off 8-10 s, no shift overflow");
  {
    static const struct { const char *json; long want; } ttl[] = {
      { "30", 30000 }, { "0.5", 500 }, { "1e300", 86400000L }, { "-1e300", 0 }, { "0", 0 },
      { "\"30\"", 0 }, { "null", 0 },
    };
    size_t i;

    for(i = 0; i < sizeof(ttl) / sizeof(ttl[0]); i++) {
      cJSON *v = cJSON_Parse(ttl[i].json);

      is_int(lease_ttl_from_json(v), ttl[i].want, "ttl_seconds %s is %ld ms", ttl[i].json, ttl[i].want);
      cJSON_Delete(v);
    }
  }
  return tap_done();
}
