/* runstate: what each drainer is doing and what happened lately, kept in
 * the state directory, so that `sandhook status` and the metrics read it
 * while nothing runs.
 *
 *   run/status.<slot>  the drainer holding that slot: one JSON object,
 *                      replaced whole at each change (write_file_atomic):
 *                      its pid and the pid's start time (a dead drainer's
 *                      file is told from a live one even after pid reuse),
 *                      the item, the session and the call in flight, each
 *                      with the wall-clock time it began; removed when the
 *                      drainer exits
 *   run/recent         JSON lines, appended under flock, newest last: each
 *                      work item's outcome and each error log line of any
 *                      part; cut to its newest half past RUNSTATE_RECENT_MAX
 *
 * Nothing here is a secret: ids, tool names, outcomes, log lines (which
 * never carry one). */
#ifndef SANDHOOK_RUNSTATE_H
#define SANDHOOK_RUNSTATE_H

#include <cjson/cJSON.h>

#define RUNSTATE_RECENT_MAX (64 * 1024)

struct runstate {
  int slot;
  long pid;
  unsigned long long pid_start;         /* /proc/<pid>/stat's starttime */
  long long started_ms;                 /* wall clock; 0: not yet */
  long long claimed_ms, call_ms;
  char work_id[128], session_id[256];
  char tool[32], tool_use_id[128];
};

/* run/slot.<i> (statedir.h): runstate_slot_lock locks the first free one
 * of 0..max-1 and returns its descriptor (close-on-exec; closing it frees
 * the slot), its number in *index; -1 with EAGAIN when every slot is held,
 * or another errno. */
int runstate_slot_path(char *buf, size_t cap, const char *state_dir, int i);
int runstate_slot_lock(const char *state_dir, int max, int *index);

/* The drainer's side.  runstate_self fills in this process and the time. */
void runstate_self(struct runstate *rs, int slot);
int runstate_publish(const char *state_dir, const struct runstate *rs);
void runstate_remove(const char *state_dir, int slot);

/* The reader's side: slot's file (0), none (-1).  runstate_alive says
 * whether the process that wrote it still runs. */
int runstate_read(const char *state_dir, int slot, struct runstate *rs);
int runstate_alive(const struct runstate *rs);
/* Over slots 0..max-1: drainers alive, and those of them holding an item. */
void runstate_count(const char *state_dir, int max, int *running, int *busy);

/* Appends obj (a "time_ms" member is added) to run/recent.  Says nothing
 * when it fails: it is called from the logger. */
void runstate_note(const char *state_dir, cJSON *obj);
/* The newest first, at most max of them; a cJSON array (NULL: none). */
cJSON *runstate_recent(const char *state_dir, int max);

/* Makes every error line this process logs a run/recent entry. */
void runstate_record_errors(const char *state_dir);

#endif
