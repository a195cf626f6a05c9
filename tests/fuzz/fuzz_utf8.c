/* The one UTF-8 decoder every outgoing text goes through: what it cleans
 * is valid and NUL-free, it leaves valid text as it was, and a JSON
 * document cleaned by it prints as valid UTF-8. */
#include "fuzz.h"
#include "common/utf8.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *)data;
  size_t n;
  char *out = utf8_clean(s, size, &n);
  cJSON *doc;

  FUZZ_ASSERT(out && strlen(out) == n && utf8_valid(out, n));
  FUZZ_ASSERT(n <= 3 * size);
  if(utf8_valid(s, size) && !memchr(s, '\0', size))
    FUZZ_ASSERT(n == size && !memcmp(out, s, size));
  free(out);
  doc = cJSON_ParseWithLength(s, size);
  if(doc) {
    char *printed;

    FUZZ_ASSERT(utf8_clean_json(doc) == 0);
    printed = cJSON_PrintUnformatted(doc);
    FUZZ_ASSERT(printed && utf8_valid(printed, strlen(printed)));
    free(printed);
    cJSON_Delete(doc);
  }
  return 0;
}
