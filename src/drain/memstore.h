/* memstore: the drainer's state of a session's memory stores, shared by
 * the files that sync them (not a public interface: see memstore_sync.h).
 *
 *   memstore_plan.c    which stores, where in the jail, the host folder
 *   memstore_state.c   what the drainer remembers of each path
 *   memstore_local.c   the store folders, only through the jail
 *   memstore_remote.c  the memory endpoints (sessions token)
 *   memstore_sync.c    the three-way merge, the download and the flush
 *
 * The ms_ prefix marks what these files share and nothing else calls. */
#ifndef SANDHOOK_MEMSTORE_H
#define SANDHOOK_MEMSTORE_H

#include <cjson/cJSON.h>
#include <limits.h>
#include <stddef.h>

#include "common/config.h"
#include "common/errmsg.h"
#include "drain/api.h"
#include "drain/jail_client.h"
#include "drain/queue.h"

#define BETA_MEMORY "agent-memory-2026-07-22"
#define MAX_STORES 8
#define PASS_MS 30000L          /* each end-of-item pass */
#define DELETE_WINDOW_MS 30000L /* a local delete waits this long */
#define READ_BATCH 16
#define OP_WALL_MS 60000L
#define SHA_LEN 65

/* What the drainer knows of one path of a store. */
struct fstate {
  char *path;
  char base[SHA_LEN];         /* the baseline: the sha both sides last agreed on */
  char refused[SHA_LEN];      /* the local sha the server refused */
  char sent[SHA_LEN];         /* the sha of an upload not yet seen listed */
  long long pending_since;    /* when the file was first seen missing */
  cJSON *stat;                /* the local file's stat when st_sha was taken */
  char st_sha[SHA_LEN];
};

struct store {
  char id[128];
  char rel[PATH_MAX];         /* below /mnt/memory */
  char marker[160];
  int ro;
  struct fstate *f;
  size_t n, cap;
  size_t max_tracked;         /* SANDHOOK_MEMORY_MAX_FILES */
  int full;                   /* said so in the log */
};

/* One side's view in a sync: path -> sha (and the memory's id, remotely). */
struct entry {
  char *path;
  char id[128];
  char sha[SHA_LEN];
};

struct side {
  struct entry *v;
  size_t n, cap;
};

struct memory {
  const struct config *cfg;
  const struct work_item *item;
  char host[PATH_MAX];
  char *ro_list;
  struct store st[MAX_STORES];
  int n;
  long long last_sync;
  long long deadline;         /* of the pass under way; 0: none */
  int cut;                    /* the pass ran out of time */
};

/* ---- the plan (memstore_plan.c) ---- */

/* The session's memory_store resources into m->st (m->cfg set, m->n 0):
 * each store's folder below /mnt/memory, clean (no "", ".", ".." or empty
 * component, no ','), no two nested, at most MAX_STORES, and m->ro_list
 * the read-only ones joined by ','.  0, or -1 with err saying which
 * resource is wrong.  Bytes the API sent: tests/fuzz/fuzz_memplan. */
int ms_plan(struct memory *m, const cJSON *session, struct errmsg *err);

/* ---- state (memstore_state.c) ---- */

/* The path's state, made on first use; NULL past SANDHOOK_MEMORY_MAX_FILES
 * (logged once) or out of memory. */
struct fstate *ms_file(struct store *s, const char *path);
/* After a whole pass: forgets paths neither side has and nothing is
 * pending for, so the state follows the store, not its history. */
void ms_prune(struct store *s, const struct side *local, const struct side *remote);
struct entry *ms_side_find(const struct side *sd, const char *path);
int ms_side_add(struct side *sd, const char *path, const char *id, const char *sha);
void ms_side_free(struct side *sd);
void ms_set_sha(char *dst, const char *sha);
/* Whether the pass under way ran out of time (and stays so). */
int ms_out_of_time(struct memory *m);

/* ---- the folders, through the jail (memstore_local.c) ---- */

/* Makes the store's folder and writes its marker; -1 logged. */
int ms_local_prepare(struct memory *m, struct jail *j, struct store *s);
/* Reads one file: its content (malloc'd), or NULL with *why ("gone" when
 * it is not there, else "unreadable"). */
char *ms_local_read(struct memory *m, struct jail *j, struct store *s, const char *path,
                    const char **why);
/* Writes the file and remembers its stat with sha; -1 logged. */
int ms_local_write(struct memory *m, struct jail *j, struct store *s, const char *path,
                   const char *content, const char *sha);
/* The folder as it is: *exists, whether the marker is this store's, and
 * each file's sha (read only where the stat changed since last time).  Any
 * failure is -1: a partial picture would read as local deletes. */
int ms_local_scan(struct memory *m, struct jail *j, struct store *s, struct side *local,
                  int *exists, int *marker_ok);

enum removal {
  REMOVAL_GONE,                 /* removed, or gone already: no baseline */
  REMOVAL_KEPT,                 /* could not remove: keep the baseline */
  REMOVAL_EDITED,               /* changed since the scan: its sha in fresh */
};

/* Gone remotely, unchanged locally: removes the file unless it changed
 * since the scan. */
enum removal ms_local_remove(struct memory *m, struct jail *j, struct store *s, struct fstate *f,
                             char *fresh);

/* ---- the server (memstore_remote.c) ---- */

/* One call to the memory endpoints, bounded by the pass; the HTTP status
 * (0 when out of time), *out the JSON answer.  Unexpected statuses are
 * logged here, the ones the merge answers by the merge. */
long ms_call(struct memory *m, struct api *api, const char *method, const char *path,
             const char *body, cJSON **out);
/* /v1/memory_stores/<store>/memories[/<mem>][query], each id escaped. */
int ms_api_path(struct api *api, char *buf, size_t cap, const char *store, const char *mem,
                const char *query);

/* Every memory of the store; with view=full, calls each(content) too. */
typedef int (*each_fn)(struct memory *, struct jail *, struct store *, const char *rel,
                       const cJSON *mem);
int ms_remote_list(struct memory *m, struct api *api, struct jail *j, struct store *s, int full,
                   struct side *remote, each_fn each);
/* Writes a listed memory (view=full) to the folder; its sha becomes the
 * baseline. */
int ms_pull_listed(struct memory *m, struct jail *j, struct store *s, const char *rel,
                   const cJSON *mem);
void ms_pull_one(struct memory *m, struct api *api, struct jail *j, struct store *s,
                 const struct entry *r);
/* Uploads the file; the server's new sha in out, or NULL (logged). */
const char *ms_upload(struct memory *m, struct api *api, struct jail *j, struct store *s,
                      const char *rel, const char *local_sha, const struct entry *existing,
                      char *out);

#endif
