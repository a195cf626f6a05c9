/* pump: two connected sockets joined, both ways, until both sides are
 * done; an EOF from one is passed on as a half-close of the other, so a
 * client that shut its writing side still gets the rest of the answer.
 * Used by the egress proxy (tool <-> outside) and the jail's relay (tool
 * <-> proxy), and the line reader both ends of the proxy's control
 * channel use. */
#ifndef SANDHOOK_PUMP_H
#define SANDHOOK_PUMP_H

#include <stddef.h>

/* Bytes carried from a to b and from b to a go to *ab and *ba (either may
 * be NULL).  0 when both ended, -1 when a write failed. */
int pump(int a, int b, unsigned long long *ab, unsigned long long *ba);

/* Calls fn for each '\n'-terminated line read from fd (without its
 * newline; lines longer than the buffer are dropped whole) until EOF or
 * an error. */
void read_lines(int fd, void (*fn)(char *line, void *ctx), void *ctx);

#endif
