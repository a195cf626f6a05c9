#include "common/runstate.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Field 22 of /proc/<pid>/stat, after the command name, which may hold
 * spaces and parentheses: counted from the last ')'; 0 for a process that
 * is gone. */
static unsigned long long
pid_start_time(long pid)
{
  char path[64], buf[1024], *p;
  unsigned long long v = 0;
  size_t n;
  FILE *f;
  int i;

  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  if(!(f = fopen(path, "re")))
    return 0;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  if(!(p = strrchr(buf, ')')))
    return 0;
  /* Field 3, the state: a zombie has exited, whoever has yet to reap it
   * (a container's PID 1 may never). */
  if(p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
    return 0;
  for(i = 2; i < 22 && p; i++)
    p = strchr(p + 1, ' ');
  if(p)
    sscanf(p + 1, "%llu", &v);
  return v;
}

int
runstate_slot_path(char *buf, size_t cap, const char *state_dir, int i)
{
  return statedir_path(buf, cap, state_dir, STATEDIR_RUN "/slot.%d", i);
}

int
runstate_slot_lock(const char *state_dir, int max, int *index)
{
  char path[PATH_MAX];
  int i;

  for(i = 0; i < max; i++) {
    int fd;

    if(runstate_slot_path(path, sizeof(path), state_dir, i) < 0)
      return -1;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if(fd < 0)
      return -1;
    if(flock(fd, LOCK_EX | LOCK_NB) == 0) {
      *index = i;
      return fd;
    }
    close(fd);
  }
  errno = EAGAIN;
  return -1;
}

void
runstate_self(struct runstate *rs, int slot)
{
  memset(rs, 0, sizeof(*rs));
  rs->slot = slot;
  rs->pid = (long)getpid();
  rs->pid_start = pid_start_time(rs->pid);
  rs->started_ms = wall_ms();
}

static int
status_path(char *buf, size_t cap, const char *state_dir, int slot)
{
  return statedir_path(buf, cap, state_dir, STATEDIR_RUN "/status.%d", slot);
}

static void
add_str(cJSON *o, const char *name, const char *v)
{
  if(v[0])
    cJSON_AddStringToObject(o, name, v);
}

static void
add_time(cJSON *o, const char *name, long long ms)
{
  if(ms > 0)
    cJSON_AddNumberToObject(o, name, (double)ms);
}

int
runstate_publish(const char *state_dir, const struct runstate *rs)
{
  char path[PATH_MAX], *text;
  cJSON *o;
  int rc = -1;

  if(rs->slot < 0)
    return 0;                       /* no slot, nothing to show it in */
  o = cJSON_CreateObject();
  if(!o || status_path(path, sizeof(path), state_dir, rs->slot) < 0) {
    cJSON_Delete(o);
    return -1;
  }
  cJSON_AddNumberToObject(o, "slot", rs->slot);
  cJSON_AddNumberToObject(o, "pid", (double)rs->pid);
  cJSON_AddNumberToObject(o, "pid_start", (double)rs->pid_start);
  add_time(o, "started_ms", rs->started_ms);
  add_str(o, "work_id", rs->work_id);
  add_str(o, "session_id", rs->session_id);
  add_time(o, "claimed_ms", rs->claimed_ms);
  add_str(o, "tool", rs->tool);
  add_str(o, "tool_use_id", rs->tool_use_id);
  add_time(o, "call_ms", rs->call_ms);
  if((text = cJSON_PrintUnformatted(o))) {
    rc = write_file_atomic(path, text, strlen(text), 0644);
    free(text);
  }
  cJSON_Delete(o);
  return rc;
}

void
runstate_remove(const char *state_dir, int slot)
{
  char path[PATH_MAX];

  if(slot >= 0 && status_path(path, sizeof(path), state_dir, slot) == 0)
    unlink(path);
}

static long long
get_ms(const cJSON *o, const char *name)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

  return cJSON_IsNumber(v) && v->valuedouble > 0 ? (long long)v->valuedouble : 0;
}

int
runstate_read(const char *state_dir, int slot, struct runstate *rs)
{
  char path[PATH_MAX], *text = NULL;
  size_t len;
  cJSON *o;

  memset(rs, 0, sizeof(*rs));
  rs->slot = slot;
  if(status_path(path, sizeof(path), state_dir, slot) < 0 ||
     read_file(path, 8192, &text, &len) < 0)
    return -1;
  o = cJSON_ParseWithLength(text, len);
  free(text);
  if(!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return -1;
  }
  rs->pid = (long)get_ms(o, "pid");
  rs->pid_start = (unsigned long long)get_ms(o, "pid_start");
  rs->started_ms = get_ms(o, "started_ms");
  rs->claimed_ms = get_ms(o, "claimed_ms");
  rs->call_ms = get_ms(o, "call_ms");
  json_copy_str(o, "work_id", rs->work_id, sizeof(rs->work_id));
  json_copy_str(o, "session_id", rs->session_id, sizeof(rs->session_id));
  json_copy_str(o, "tool", rs->tool, sizeof(rs->tool));
  json_copy_str(o, "tool_use_id", rs->tool_use_id, sizeof(rs->tool_use_id));
  cJSON_Delete(o);
  return 0;
}

int
runstate_alive(const struct runstate *rs)
{
  return rs->pid > 0 && rs->pid_start && pid_start_time(rs->pid) == rs->pid_start;
}

void
runstate_count(const char *state_dir, int max, int *running, int *busy)
{
  int i;

  *running = *busy = 0;
  for(i = 0; i < max; i++) {
    struct runstate rs;

    if(runstate_read(state_dir, i, &rs) == 0 && runstate_alive(&rs)) {
      (*running)++;
      *busy += rs.work_id[0] != '\0';
    }
  }
}

/* ---- run/recent ---- */

static int
recent_path(char *buf, size_t cap, const char *state_dir)
{
  return statedir_path(buf, cap, state_dir, STATEDIR_RUN "/recent");
}

/* Opens and locks run/recent; a file another writer replaced meanwhile
 * (its cut) is opened again, so no line goes to an unlinked copy. */
static int
recent_lock(const char *path)
{
  int tries;

  for(tries = 0; tries < 8; tries++) {
    struct stat a, b;
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);

    if(fd < 0)
      return -1;
    if(flock(fd, LOCK_EX) == 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
       a.st_ino == b.st_ino && a.st_dev == b.st_dev)
      return fd;
    close(fd);
  }
  return -1;
}

/* Keeps the newest half, from a line's start. */
static void
recent_cut(const char *path, int fd)
{
  char *text = NULL, *from;
  size_t len;

  if(read_fd(fd, RUNSTATE_RECENT_MAX * 2, &text, &len) < 0)
    return;
  from = len > RUNSTATE_RECENT_MAX / 2 ? memchr(text + len - RUNSTATE_RECENT_MAX / 2, '\n',
                                                RUNSTATE_RECENT_MAX / 2) : NULL;
  if(from)
    write_file_atomic(path, from + 1, len - (size_t)(from + 1 - text), 0644);
  free(text);
}

void
runstate_note(const char *state_dir, cJSON *obj)
{
  char path[PATH_MAX], *text;
  struct stat st;
  int fd;

  if(recent_path(path, sizeof(path), state_dir) < 0)
    return;
  cJSON_AddNumberToObject(obj, "time_ms", (double)wall_ms());
  if(!(text = cJSON_PrintUnformatted(obj)))
    return;
  if((fd = recent_lock(path)) >= 0) {
    size_t n = strlen(text);

    text[n] = '\n';     /* over the terminator: the line goes in one write */
    if(write_all(fd, text, n + 1) == 0 && fstat(fd, &st) == 0 && st.st_size > RUNSTATE_RECENT_MAX &&
       lseek(fd, 0, SEEK_SET) == 0)
      recent_cut(path, fd);
    close(fd);
  }
  free(text);
}

cJSON *
runstate_recent(const char *state_dir, int max)
{
  char path[PATH_MAX], *text = NULL, *line, *end;
  cJSON *arr;
  size_t len;

  if(recent_path(path, sizeof(path), state_dir) < 0 ||
     read_file(path, RUNSTATE_RECENT_MAX * 2, &text, &len) < 0)
    return NULL;
  arr = cJSON_CreateArray();
  /* From the end backwards: the newest first. */
  for(end = text + len; arr && end > text && cJSON_GetArraySize(arr) < max; end = line) {
    cJSON *o;

    while(end > text && end[-1] == '\n')
      end--;
    for(line = end; line > text && line[-1] != '\n'; line--)
      ;
    if(line == end)
      break;
    o = cJSON_ParseWithLength(line, (size_t)(end - line));
    if(cJSON_IsObject(o))
      cJSON_AddItemToArray(arr, o);
    else
      cJSON_Delete(o);
  }
  free(text);
  return arr;
}

static const char *errors_dir;

static void
note_error(const char *component, const char *event, const char *line)
{
  cJSON *o = cJSON_CreateObject();

  if(o && cJSON_AddStringToObject(o, "kind", "error") &&
     cJSON_AddStringToObject(o, "component", component) &&
     cJSON_AddStringToObject(o, "event", event) && cJSON_AddStringToObject(o, "line", line))
    runstate_note(errors_dir, o);
  cJSON_Delete(o);
}

void
runstate_record_errors(const char *state_dir)
{
  errors_dir = state_dir;
  log_on_error(note_error);
}
