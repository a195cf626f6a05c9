/* random: unpredictable names (temporary files, the bash sentinel, the
 * worker id), from getrandom(2): no descriptor, works inside the jail. */
#ifndef SANDHOOK_RANDOM_H
#define SANDHOOK_RANDOM_H

#include <stddef.h>

/* Fills out with 2 * nbytes lowercase hex digits and a NUL (out holds
 * 2 * nbytes + 1).  0, or -1 with errno when the kernel gave no bytes. */
int random_hex(char *out, size_t nbytes);

#endif
