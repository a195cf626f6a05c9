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
  /* Header lines as libcurl hands them, not NUL-terminated: a status line
   * and the waits a server may ask for, as the official SDK reads them. */
  {
    static const struct { const char *line; enum api_header kind; long want; } hdr[] = {
      { "HTTP/1.1 200 OK\r\n", API_HEADER_STATUS, 200 },
      { "HTTP/2 429\r\n", API_HEADER_STATUS, 429 },
      { "HTTP/1.1 2000 OK\r\n", API_HEADER_STATUS, 0 },
      { "HTTP/1.1 099\r\n", API_HEADER_STATUS, 0 },
      { "HTTP/1.1\r\n", API_HEADER_STATUS, 0 },
      { "\r\n", API_HEADER_END, 0 },
      { "Retry-After: 120\r\n", API_HEADER_RETRY_AFTER, 120000 },
      { "retry-after:1.5\r\n", API_HEADER_RETRY_AFTER, 1500 },
      { "Retry-After: 99999999999999999999999\r\n", API_HEADER_RETRY_AFTER, API_RETRY_AFTER_MAX_MS },
      { "Retry-After: -5\r\n", API_HEADER_RETRY_AFTER, 0 },
      { "Retry-After: inf\r\n", API_HEADER_RETRY_AFTER, 0 },
      { "Retry-After: 0x10\r\n", API_HEADER_RETRY_AFTER, 0 },
      /* now_s below is 2015-10-21T07:27:00Z */
      { "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n", API_HEADER_RETRY_AFTER, 60000 },
      { "Retry-After: Wed, 21 Oct 2015 07:20:00 GMT\r\n", API_HEADER_RETRY_AFTER, 0 },
      { "Retry-After: tomorrow-ish\r\n", API_HEADER_RETRY_AFTER, 0 },
      { "retry-after-ms: 250\r\n", API_HEADER_RETRY_AFTER_MS, 250 },
      { "Retry-After-Ms: 12.9\r\n", API_HEADER_RETRY_AFTER_MS, 12 },
      { "retry-after-ms: soon\r\n", API_HEADER_RETRY_AFTER_MS, 0 },
      { "Retry-Afterwards: 5\r\n", API_HEADER_OTHER, 0 },
      { "Content-Type: text/event-stream\r\n", API_HEADER_OTHER, 0 },
    };
    size_t i;

    for(i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
      size_t len = strlen(hdr[i].line);
      /* Exactly the line's bytes, so a read past them is ASan's to see. */
      char *line = malloc(len);
      long v = -1;
      enum api_header kind;

      if(!line)
        abort();
      memcpy(line, hdr[i].line, len);
      kind = api_header(line, len, 1445412420, &v);
      ok(kind == hdr[i].kind && v == hdr[i].want, "header %.*s: kind %d value %ld (got %d, %ld)",
         (int)strcspn(hdr[i].line, "\r"), hdr[i].line, hdr[i].kind, hdr[i].want, kind, v);
      free(line);
    }
  }
  is_int(api_backoff_ms(1, 3600000), 60000, "an hour's Retry-After waits a minute");
  is_int(api_backoff_ms(1, 30000), 30000, "a 30 s Retry-After waits 30 s");
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
