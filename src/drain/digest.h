/* digest: SHA-256 in lower-case hex (OpenSSL), for the memory stores'
 * content_sha256 and the audit trail's chain. */
#ifndef SANDHOOK_DIGEST_H
#define SANDHOOK_DIGEST_H

#include <stddef.h>

#define SHA256_HEX_LEN 65       /* 64 digits and the terminator */

/* out gets "" if OpenSSL fails, which a comparison then never matches. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN]);

#endif
