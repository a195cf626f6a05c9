/* frame: the channel between the drainer and a jail process.  A frame is
 * a 4-byte big-endian length, then that many bytes of JSON, at most
 * FRAME_MAX.  Requests are {"tool","input","timeout_ms"}, replies
 * {"is_error","content"}. */
#ifndef SANDHOOK_FRAME_H
#define SANDHOOK_FRAME_H

#include <stddef.h>

#define FRAME_MAX (64u << 20)
/* The jail process receives its end of the channel on this descriptor. */
#define JAIL_FD 3

int send_frame(int fd, const char *data, size_t len);
/* A NUL-terminated frame, or NULL on EOF, error or an oversized frame. */
char *recv_frame(int fd, size_t *len);

/* Ids become path components: only [A-Za-z0-9_-], 1..200 bytes. */
int safe_id(const char *id);

#endif
