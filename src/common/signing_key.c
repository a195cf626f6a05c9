#include "common/signing_key.h"
#include "common/b64.h"

#include <string.h>
#include <sys/types.h>

int
webhook_key_decode(const char *secret, struct wh_key *key)
{
  ssize_t n;

  if(!secret)
    return -1;
  if(!strncmp(secret, "whsec_", 6))
    secret += 6;
  n = b64_decode_loose(secret, strlen(secret), key->bytes, sizeof(key->bytes));
  if(n <= 0)
    return -1;
  key->len = (size_t)n;
  return 0;
}
