/* spawn: finding sandhook's own programs.  The front, the drainer and the
 * jail are three programs, so that each links only what it needs: the
 * front (what an internet client reaches) neither libcurl nor libarchive,
 * the jail no network stack and no secret.  Each is found next to the
 * running binary (a build tree, or all three installed in one directory),
 * else where "make install" puts it. */
#ifndef SANDHOOK_SPAWN_H
#define SANDHOOK_SPAWN_H

#include <stddef.h>

#define PROGRAM_DRAIN "sandhook-drain"
#define PROGRAM_JAIL "sandhook-jail"

/* Returns 0 with the program's path in buf, or -1 (ENAMETOOLONG). */
int spawn_program_path(const char *name, char *buf, size_t cap);

#endif
