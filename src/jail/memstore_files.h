/* memstore_files: the memory store folders under /mnt/memory, from inside
 * the jail; the other half of drain/memstore_sync.c.
 *
 * The drainer never touches a file the agent can write: it asks the jail
 * helper, as the jail uid, to scan, read, write and remove files in a store
 * folder, each path walked one component at a time with O_NOFOLLOW, so no
 * link the agent plants leads anywhere.  A store mounted read-only for the
 * tools is reached through the directory descriptor the helper opened
 * before that mount covered it (memstore_files_keep).  Each operation takes
 * the request's JSON ("root" names the store folder below /mnt/memory) and
 * returns the reply's, NULL only when out of memory; a failure is
 * {"is_error": true, "error"}. */
#ifndef SANDHOOK_MEMSTORE_FILES_H
#define SANDHOOK_MEMSTORE_FILES_H

#include <cjson/cJSON.h>

#include "common/protocol.h"

/* Remembers dirfd as the way in to the read-only store at rel. */
int memstore_files_keep(const char *rel, int dirfd);

/* JAIL_OP_MEM_PREPARE {"root","marker"}: makes the folder, writes the marker. */
cJSON *memstore_files_prepare(const cJSON *req);
/* JAIL_OP_MEM_SCAN {"root"}: {"exists","marker","files":[{path,size,mtime,ctime,ino}]},
 * with "partial" set when the listing is not whole (too many files, too deep). */
cJSON *memstore_files_scan(const cJSON *req);
/* JAIL_OP_MEM_READ {"root","paths"}: {"files":{path:content},"errors":{path:why}}. */
cJSON *memstore_files_read(const cJSON *req);
/* JAIL_OP_MEM_WRITE {"root","path","content"}: {"stat"}. */
cJSON *memstore_files_write(const cJSON *req);
/* JAIL_OP_MEM_REMOVE {"root","path","stat"}: removes it only while it is
 * unchanged since stat: {"removed"} or {"gone"} or {"stat": the fresh one}. */
cJSON *memstore_files_remove(const cJSON *req);

#endif
