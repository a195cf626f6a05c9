/* frame: the channel between the drainer and a jail process.  A frame is
 * a 4-byte big-endian length, then that many bytes of JSON, at most
 * FRAME_MAX.  The first frame is the jail's setup, answered by the jail's
 * one byte of the user namespace handshake (jail_start.h); then each
 * request is {"op": N, ...}, N one of protocol.h's numbered operations,
 * and gets one reply, {"is_error", ...}. */
#ifndef SANDHOOK_FRAME_H
#define SANDHOOK_FRAME_H

#include <stddef.h>
#include <sys/types.h>

#define FRAME_MAX (64u << 20)
/* The jail process receives its end of the channel on this descriptor. */
#define JAIL_FD 3

int send_frame(int sock, const char *data, size_t len);
/* One sendmsg of len bytes with descriptor fd (SCM_RIGHTS) when fd >= 0;
 * the bytes sent, or -1. */
ssize_t send_with_fd(int sock, const void *data, size_t len, int fd);
/* send_frame, passing descriptor fd along when fd >= 0; fd stays the
 * caller's to close. */
int send_frame_fd(int sock, const char *data, size_t len, int fd);
/* A NUL-terminated frame the caller frees, or NULL on EOF, error or an
 * oversized frame.  A descriptor sent along is closed. */
char *recv_frame(int sock, size_t *len);
/* The same, handing a descriptor sent along to *fd (-1 when none), which
 * the caller then owns. */
char *recv_frame_fd(int sock, size_t *len, int *fd);


#endif
