/* util: the few macros every part uses. */
#ifndef SANDHOOK_UTIL_H
#define SANDHOOK_UTIL_H

/* The element count of an array (never of a pointer: GCC warns). */
#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

#endif
