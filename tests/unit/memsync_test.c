/* The per-path memory sync decision, case by case: which side changed, who
 * wins, what a read-only store and a refused upload change. */
#include "drain/memstore_decide.h"
#include "tap.h"

#define A "aaaa"
#define B "bbbb"
#define C "cccc"

static const struct {
  struct memsync_case c;
  enum memsync_action act;
  enum memsync_note note;
  const char *what;
} cases[] = {
  { { NULL, NULL, NULL, "", 0 }, MEMSYNC_FORGET, MEMSYNC_NOTE_NONE, "on neither side, never synced" },
  { { A, NULL, NULL, "", 0 }, MEMSYNC_FORGET, MEMSYNC_NOTE_NONE, "deleted on both sides" },
  { { NULL, NULL, A, "", 0 }, MEMSYNC_UPLOAD_NEW, MEMSYNC_NOTE_NONE, "new locally: created remotely" },
  { { NULL, NULL, A, "", 1 }, MEMSYNC_FORGET, MEMSYNC_NOTE_NONE, "new locally in a read-only store: not sent" },
  { { NULL, NULL, A, A, 0 }, MEMSYNC_FORGET, MEMSYNC_NOTE_NONE, "new locally but refused before: not sent again" },
  { { A, NULL, A, "", 0 }, MEMSYNC_REMOVE_LOCAL, MEMSYNC_NOTE_NONE, "deleted remotely, unchanged locally: removed" },
  { { A, NULL, A, "", 1 }, MEMSYNC_REMOVE_LOCAL, MEMSYNC_NOTE_NONE, "the same in a read-only store" },
  { { A, NULL, B, "", 0 }, MEMSYNC_UPLOAD_NEW, MEMSYNC_NOTE_RECREATED, "deleted remotely, edited locally: sent again" },
  { { A, NULL, B, "", 1 }, MEMSYNC_FORGET, MEMSYNC_NOTE_KEPT, "the same in a read-only store: kept locally" },
  { { A, NULL, B, B, 0 }, MEMSYNC_FORGET, MEMSYNC_NOTE_NONE, "the same, refused before: quiet" },
  { { NULL, A, NULL, "", 0 }, MEMSYNC_PULL, MEMSYNC_NOTE_NONE, "new remotely: pulled" },
  { { A, A, NULL, "", 0 }, MEMSYNC_DELETE_REMOTE, MEMSYNC_NOTE_NONE, "deleted locally, unchanged remotely: deleted remotely" },
  { { A, A, NULL, "", 1 }, MEMSYNC_HOLD, MEMSYNC_NOTE_NONE, "the same in a read-only store: held" },
  { { A, B, NULL, "", 0 }, MEMSYNC_PULL, MEMSYNC_NOTE_RESTORED, "deleted locally, changed remotely: restored" },
  { { A, A, A, "", 0 }, MEMSYNC_IN_STEP, MEMSYNC_NOTE_NONE, "unchanged on both sides" },
  { { A, B, B, "", 0 }, MEMSYNC_IN_STEP, MEMSYNC_NOTE_NONE, "the same change on both sides" },
  { { NULL, A, A, "", 0 }, MEMSYNC_IN_STEP, MEMSYNC_NOTE_NONE, "never synced, equal on both sides" },
  { { A, A, B, "", 0 }, MEMSYNC_UPLOAD, MEMSYNC_NOTE_NONE, "edited locally: uploaded" },
  { { A, A, B, "", 1 }, MEMSYNC_IN_STEP, MEMSYNC_NOTE_NONE, "edited locally in a read-only store: not sent" },
  { { A, A, B, B, 0 }, MEMSYNC_IN_STEP, MEMSYNC_NOTE_NONE, "edited locally, refused before: not sent again" },
  { { A, B, A, "", 0 }, MEMSYNC_PULL, MEMSYNC_NOTE_NONE, "changed remotely: pulled" },
  { { A, B, C, "", 0 }, MEMSYNC_PULL, MEMSYNC_NOTE_BOTH_CHANGED, "changed on both sides: the remote wins, loudly" },
  { { NULL, A, B, "", 0 }, MEMSYNC_PULL, MEMSYNC_NOTE_BOTH_CHANGED, "never synced, different on both sides" },
  { { A, B, C, "", 1 }, MEMSYNC_PULL, MEMSYNC_NOTE_BOTH_CHANGED, "the same in a read-only store" },
};

int
main(void)
{
  size_t i;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    enum memsync_note note;
    enum memsync_action act = memsync_decide(&cases[i].c, &note);

    ok(act == cases[i].act && note == cases[i].note, "%s: %s (note %d)", cases[i].what,
       memsync_action_name(act), (int)note);
  }
  return tap_done();
}
