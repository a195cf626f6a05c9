/* memfiles: the memory store folders under /mnt/memory, from inside the jail.
 *
 * The drainer never touches a file the agent can write: it asks the jail
 * helper, as the jail uid, to scan, read, write and remove files in a store
 * folder, each path walked one component at a time with O_NOFOLLOW, so no
 * link the agent plants leads anywhere.  A store mounted read-only for the
 * tools is reached through the directory descriptor the helper opened
 * before that mount covered it (memfiles_keep).  Each memfiles_* call takes
 * the request's JSON and returns the reply's (NULL only when out of memory). */
#ifndef SANDHOOK_MEMFILES_H
#define SANDHOOK_MEMFILES_H

#include <cjson/cJSON.h>

#define MEMORY_ROOT "/mnt/memory"
#define MEMORY_MARKER ".anthropic-memory-store"

/* Remembers dirfd as the way in to the read-only store at rel. */
int memfiles_keep(const char *rel, int dirfd);

/* {"op":"mem_prepare","root","marker"}: makes the folder, writes the marker.
 * {"op":"mem_scan","root"}: {"exists","marker","files":[{path,size,mtime,ctime,ino}]},
 * with "partial" set when the listing is not whole (too many files, too deep).
 * {"op":"mem_read","root","paths"}: {"files":{path:content},"errors":{path:why}}.
 * {"op":"mem_write","root","path","content"}: {"stat"} or {"is_error","error"}.
 * {"op":"mem_remove","root","path","stat"}: removes it only while it is
 * unchanged since stat: {"removed"} or {"gone"} or {"stat": the fresh one}. */
cJSON *memfiles_op(const char *op, const cJSON *req);

#endif
