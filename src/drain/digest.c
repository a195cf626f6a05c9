#include "drain/digest.h"

#include <openssl/evp.h>
#include <stdio.h>

void
sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0, i;

  if(!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
    n = 0;
  for(i = 0; i < n; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  out[2 * n] = '\0';
}
