/* base64 both ways: what the strict decoder takes the loose one takes the
 * same; whatever is encoded decodes back. */
#include "fuzz.h"
#include "common/b64.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t cap = size + 4;
  unsigned char *a = malloc(cap), *b = malloc(cap);
  char *enc = malloc(b64_encoded_size(size));
  ssize_t na, nb;
  size_t ne;

  FUZZ_ASSERT(a && b && enc);
  na = b64_decode_strict((const char *)data, size, a, cap);
  nb = b64_decode_loose((const char *)data, size, b, cap);
  FUZZ_ASSERT(na <= (ssize_t)(size / 4 * 3) && nb <= (ssize_t)(size / 4 * 3 + 2));
  if(na >= 0)
    FUZZ_ASSERT(nb == na && !memcmp(a, b, (size_t)na));
  ne = b64_encode(data, size, enc);
  FUZZ_ASSERT(ne == b64_encoded_size(size) - 1 && enc[ne] == '\0');
  na = b64_decode_strict(enc, ne, a, cap);
  FUZZ_ASSERT(na == (ssize_t)size && !memcmp(a, data, size));
  free(a);
  free(b);
  free(enc);
  return 0;
}
