/* b64: base64 both ways, strict where a signature is compared and lenient
 * (URL-safe alphabet, optional padding) where the SDKs are lenient too. */
#ifndef SANDHOOK_B64_H
#define SANDHOOK_B64_H

#include <stddef.h>
#include <sys/types.h>

/* Standard alphabet, padded, length a multiple of 4.  Returns the decoded
 * length, or -1 on any deviation or when out is too small. */
ssize_t b64_decode_strict(const char *in, size_t len, unsigned char *out, size_t cap);

/* Accepts the standard and URL-safe alphabets, with or without padding. */
ssize_t b64_decode_loose(const char *in, size_t len, unsigned char *out, size_t cap);

/* Standard alphabet, padded; out needs 4*ceil(len/3)+1 bytes.  Returns the
 * encoded length. */
size_t b64_encode(const unsigned char *in, size_t len, char *out);
static inline size_t b64_encoded_size(size_t len) { return (len + 2) / 3 * 4 + 1; }

#endif
