#include "drain/memstore_decide.h"
#include "common/util.h"

#include <stddef.h>
#include <string.h>

static int
same(const char *a, const char *b)
{
  return a && b && !strcmp(a, b);
}

enum memsync_action
memsync_decide(const struct memsync_case *c, enum memsync_note *note)
{
  const char *base = c->base, *r = c->remote, *l = c->local;
  int refused = same(l, c->refused);

  *note = MEMSYNC_NOTE_NONE;
  if(!r) {
    if(!l)
      return MEMSYNC_FORGET;
    if(same(l, base))
      return MEMSYNC_REMOVE_LOCAL;
    if(base)
      *note = c->read_only ? MEMSYNC_NOTE_KEPT : refused ? MEMSYNC_NOTE_NONE : MEMSYNC_NOTE_RECREATED;
    return c->read_only || refused ? MEMSYNC_FORGET : MEMSYNC_UPLOAD_NEW;
  }
  if(!l) {
    if(!base)
      return MEMSYNC_PULL;
    if(!same(r, base)) {
      *note = MEMSYNC_NOTE_RESTORED;
      return MEMSYNC_PULL;
    }
    return c->read_only ? MEMSYNC_HOLD : MEMSYNC_DELETE_REMOTE;
  }
  if(same(l, r))
    return MEMSYNC_IN_STEP;
  if(!same(r, base)) {
    if(!same(l, base))
      *note = MEMSYNC_NOTE_BOTH_CHANGED;
    return MEMSYNC_PULL;
  }
  /* The remote is the baseline and the local file differs: a local edit. */
  return c->read_only || refused ? MEMSYNC_IN_STEP : MEMSYNC_UPLOAD;
}

const char *
memsync_action_name(enum memsync_action a)
{
  static const char *const names[] = {
    [MEMSYNC_FORGET] = "forget", [MEMSYNC_IN_STEP] = "in_step", [MEMSYNC_HOLD] = "hold",
    [MEMSYNC_UPLOAD_NEW] = "upload_new", [MEMSYNC_UPLOAD] = "upload", [MEMSYNC_PULL] = "pull",
    [MEMSYNC_REMOVE_LOCAL] = "remove_local", [MEMSYNC_DELETE_REMOTE] = "delete_remote",
  };

  return (unsigned)a < N_ELEMENTS(names) ? names[a] : "?";
}
