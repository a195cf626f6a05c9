/* A response header line from whoever answers in the control plane's
 * place, exactly as long as libcurl hands it (no NUL after it, so a read
 * past it is ASan's to see): its status is 0 or a real code, its wait is
 * within bounds, and a Retry-After of n seconds is n s. */
#include "fuzz.h"
#include "drain/api.h"

#include <inttypes.h>

static const time_t now_s = 1445412420;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char line[64];
  long v;
  enum api_header kind = api_header((const char *)data, size, now_s, &v);

  switch(kind) {
  case API_HEADER_STATUS:
    FUZZ_ASSERT(v == 0 || (v >= 100 && v <= 599));
    break;
  case API_HEADER_RETRY_AFTER:
  case API_HEADER_RETRY_AFTER_MS:
    FUZZ_ASSERT(v >= 0 && v <= API_RETRY_AFTER_MAX_MS);
    break;
  default:
    FUZZ_ASSERT(v == 0);
  }
  if(size >= sizeof(uint32_t)) {
    uint32_t n;
    int len;

    memcpy(&n, data, sizeof(n));
    len = snprintf(line, sizeof(line), "Retry-After: %" PRIu32 "\r\n", n);
    FUZZ_ASSERT(api_header(line, (size_t)len, now_s, &v) == API_HEADER_RETRY_AFTER);
    FUZZ_ASSERT(v == (n >= API_RETRY_AFTER_MAX_MS / 1000 ? API_RETRY_AFTER_MAX_MS : (long)n * 1000));
  }
  return 0;
}
