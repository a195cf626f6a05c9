/* memstore_decide: what one memory file's sync does, decided from four hashes.
 *
 * Pure: no I/O, no state.  The drainer (memstore_sync.c) gathers the baseline (the
 * sha both sides last agreed on), the remote and local shas and the sha the
 * API last refused, asks memsync_decide, and carries the action out.  The
 * rules it keeps: a read-only store never uploads nor deletes remotely; a
 * remote delete only follows a local delete of an unchanged file, a local
 * remove only a remote delete of an unchanged file; when both sides
 * changed, the remote wins and the note says so. */
#ifndef SANDHOOK_MEMSTORE_DECIDE_H
#define SANDHOOK_MEMSTORE_DECIDE_H

struct memsync_case {
  const char *base;             /* NULL: never synced */
  const char *remote;           /* NULL: not in the store */
  const char *local;            /* NULL: not in the folder */
  const char *refused;          /* the sha the API last refused, "" none */
  int read_only;
};

enum memsync_action {
  MEMSYNC_FORGET,               /* drop the baseline, touch nothing */
  MEMSYNC_IN_STEP,              /* nothing to send: the remote sha is the baseline */
  MEMSYNC_HOLD,                 /* nothing to send: the baseline stays */
  MEMSYNC_UPLOAD_NEW,           /* create it remotely */
  MEMSYNC_UPLOAD,               /* update it remotely, on the remote sha */
  MEMSYNC_PULL,                 /* write the remote version locally */
  MEMSYNC_REMOVE_LOCAL,         /* deleted remotely: remove the local file */
  MEMSYNC_DELETE_REMOTE,        /* deleted locally: delete it remotely */
};

enum memsync_note {
  MEMSYNC_NOTE_NONE,
  MEMSYNC_NOTE_BOTH_CHANGED,    /* edited on both sides: the remote wins */
  MEMSYNC_NOTE_RESTORED,        /* deleted locally, changed remotely */
  MEMSYNC_NOTE_RECREATED,       /* deleted remotely, edited locally: sent again */
  MEMSYNC_NOTE_KEPT,            /* the same in a read-only store: kept locally */
};

enum memsync_action memsync_decide(const struct memsync_case *c, enum memsync_note *note);
const char *memsync_action_name(enum memsync_action a);

#endif
