/* memstore_sync: the session's memory stores, section 8 of the protocol;
 * the drainer's half (jail/memstore_files.c is the jail's).
 *
 * Each attached store gets a folder under /mnt/memory in the jail (its
 * mount_path; without one, /mnt/memory/<name or id>), backed on the host by
 * STATE/sessions/<sid>/memory and bound into every jail of the item; a
 * read-only store is mounted read-only for every tool.  The drainer talks
 * to the memory endpoints with the sessions token (the environment key is
 * refused there) and to the files only through the jail (jail/memstore_files.h).
 *
 * memory_download pulls every store with its marker file; memory_sync runs
 * the three-way merge on content_sha256 at most every
 * SANDHOOK_MEMORY_SYNC_SECONDS; memory_finish runs the final sync (a clean
 * end only) and the push-only flush, each bounded at 30 s; memory_free
 * removes the folders once the jail is gone. */
#ifndef SANDHOOK_MEMSTORE_SYNC_H
#define SANDHOOK_MEMSTORE_SYNC_H

#include <cjson/cJSON.h>

#include "drain/api.h"
#include "common/config.h"
#include "drain/jail_client.h"
#include "drain/queue.h"

struct memory;

/* Reads the session's memory_store resources.  0 with *m NULL when there
 * are none; 0 with *m set up (host folder ready) when there are; -1 when
 * the item must fail, the reason logged. */
int memory_plan(struct memory **m, const struct config *cfg, const cJSON *session,
                const struct work_item *item);

/* What jail_open needs: the host folder and the read-only stores. */
const char *memory_host_dir(const struct memory *m);
const char *memory_ro_stores(const struct memory *m);

/* Downloads every store; -1 fails the item (logged). */
int memory_download(struct memory *m, struct api *api, struct jail *j);

/* A sync when the interval has passed since the last one. */
void memory_sync(struct memory *m, struct api *api, struct jail *j);

/* The end of the item: the final sync when clean, then the flush. */
void memory_finish(struct memory *m, struct api *api, struct jail *j, int clean);

/* Frees m; with remove_folder, which the caller sets only once every
 * process of the jail is gone, it removes the host folder first,
 * descriptor-relative. */
void memory_free(struct memory *m, int remove_folder);

#endif
