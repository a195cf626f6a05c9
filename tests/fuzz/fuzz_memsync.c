/* The memory sync decision over every combination of baseline, remote,
 * local and refused shas and store access: the rules no sequence of edits
 * may break. */
#include "fuzz.h"
#include "drain/memstore_decide.h"

static const char *
pick(uint8_t b)
{
  static const char *const v[] = { NULL, "aa", "bb", "cc" };

  return v[b & 3];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct memsync_case c;
  enum memsync_note note, again;
  enum memsync_action act;
  const char *base, *r, *l;
  size_t i;

  for(i = 0; i + 2 <= size; i += 2) {
    c.base = base = pick(data[i]);
    c.remote = r = pick(data[i] >> 2);
    c.local = l = pick(data[i] >> 4);
    c.refused = pick(data[i] >> 6) ? pick(data[i] >> 6) : "";
    c.read_only = data[i + 1] & 1;
    act = memsync_decide(&c, &note);
    FUZZ_ASSERT(memsync_decide(&c, &again) == act && again == note);
    FUZZ_ASSERT(strcmp(memsync_action_name(act), "?"));
#define EQ(a, b) ((a) && (b) && !strcmp(a, b))
    if(c.read_only)
      FUZZ_ASSERT(act != MEMSYNC_UPLOAD && act != MEMSYNC_UPLOAD_NEW && act != MEMSYNC_DELETE_REMOTE);
    if(act == MEMSYNC_DELETE_REMOTE)
      FUZZ_ASSERT(!l && r && EQ(r, base));
    if(act == MEMSYNC_REMOVE_LOCAL)
      FUZZ_ASSERT(!r && l && EQ(l, base));
    if(act == MEMSYNC_UPLOAD)
      FUZZ_ASSERT(r && l && EQ(r, base) && !EQ(l, r) && !EQ(l, c.refused));
    if(act == MEMSYNC_UPLOAD_NEW)
      FUZZ_ASSERT(!r && l && !EQ(l, c.refused));
    if(act == MEMSYNC_PULL)
      FUZZ_ASSERT(r && !EQ(l, r));
    if(act == MEMSYNC_IN_STEP)
      FUZZ_ASSERT(r);
    /* A local edit is only ever dropped out loud. */
    if(l && !EQ(l, base) && !EQ(l, r) && act == MEMSYNC_PULL)
      FUZZ_ASSERT(note == MEMSYNC_NOTE_BOTH_CHANGED);
    /* Nothing that differs on both sides is ever left without a word. */
    if(r && l && !EQ(l, r))
      FUZZ_ASSERT(act == MEMSYNC_PULL || act == MEMSYNC_UPLOAD || act == MEMSYNC_IN_STEP);
#undef EQ
  }
  return 0;
}
