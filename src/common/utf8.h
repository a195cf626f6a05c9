/* utf8: the one UTF-8 decoder, for every text that leaves in a JSON body.
 *
 * Strict (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
 * utf8_clean decodes as Node and browsers do (WHATWG): each maximal
 * invalid subsequence becomes one U+FFFD, and so does NUL, which a C
 * string, and so cJSON, cannot carry. */
#ifndef SANDHOOK_UTF8_H
#define SANDHOOK_UTF8_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Whether s[0..len) is valid UTF-8 (NUL included). */
int utf8_valid(const char *s, size_t len);

/* A NUL-terminated copy of s[0..len) that is valid UTF-8 without NUL, its
 * length in *outlen (may be NULL); NULL when out of memory. */
char *utf8_clean(const char *s, size_t len, size_t *outlen);

/* Replaces every string (and key) below item that is not valid UTF-8 with
 * its cleaned copy; -1 when out of memory. */
int utf8_clean_json(cJSON *item);

#endif
