/* What a tool sends the egress proxy first (untrusted): an HTTP proxy
 * head or a SOCKS5 greeting and request.  Whatever it holds: no crash; a
 * request taken names a host and a port in 1..65535; a forwarded HTTP head
 * is one head, ends in "Connection: close", carries one Host header (the
 * URL's) and none of the proxy's own headers. */
#include "fuzz.h"
#include "egress/request.h"

#include <strings.h>

static size_t
count(const char *hay, size_t len, const char *needle)
{
  size_t n = 0, k = strlen(needle), i;

  for(i = 0; i + k <= len; i++)
    if(!strncasecmp(hay + i, needle, k))
      n++;
  return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct egress_request r;
  size_t used = 0;
  int status, reply;
  const char *why;

  if(size && data[0] == 5) {
    if(request_socks5_greeting(data, size, &used) == 0 &&
       request_parse_socks5(data + used, size - used, &r, &used, &reply) == 0)
      FUZZ_ASSERT(r.host[0] && r.port >= 1 && r.port <= 65535 && r.kind == REQUEST_SOCKS5);
    return 0;
  }
  {
    size_t end = request_head_end((const char *)data, size);

    if(!end)
      return 0;
    if(request_parse_http((const char *)data, end, &r, &status, &why) == 0) {
      FUZZ_ASSERT(r.host[0] && r.port >= 1 && r.port <= 65535);
      if(r.kind == REQUEST_HTTP) {
        FUZZ_ASSERT(r.head_len >= 4 && !memcmp(r.head + r.head_len - 4, "\r\n\r\n", 4));
        FUZZ_ASSERT(request_head_end(r.head, r.head_len) == r.head_len);
        FUZZ_ASSERT(count(r.head, r.head_len, "\r\nhost:") == 1);
        FUZZ_ASSERT(count(r.head, r.head_len, "\r\nproxy-") == 0);
        FUZZ_ASSERT(count(r.head, r.head_len, "\r\nconnection:") == 1);
      }
      request_clear(&r);
    }
    else
      FUZZ_ASSERT(status >= 400 && status < 600 && why);
  }
  return 0;
}
