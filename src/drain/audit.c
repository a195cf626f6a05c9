#include "drain/audit.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define LAST_LINE_MAX 65536

static int audit_fd = -1;
static char last_head[SHA256_HEX_LEN];
static pthread_mutex_t audit_mu = PTHREAD_MUTEX_INITIALIZER;

int
audit_open(const struct config *cfg)
{
  if(!cfg->audit_file || audit_fd >= 0)
    return 0;
  audit_fd = open(cfg->audit_file, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  return audit_fd < 0 ? -1 : 0;
}

void
audit_head(char out[SHA256_HEX_LEN])
{
  pthread_mutex_lock(&audit_mu);
  memcpy(out, last_head, SHA256_HEX_LEN);
  pthread_mutex_unlock(&audit_mu);
}

void
audit_add_hash(cJSON *event, const char *name, const char *text)
{
  char key[64], hex[SHA256_HEX_LEN];

  snprintf(key, sizeof(key), "%s_sha256", name);
  sha256_hex(text ? text : "", text ? strlen(text) : 0, hex);
  cJSON_AddStringToObject(event, key, hex);
}

void
audit_tool_call(const char *tool_use_id, const char *tool, const cJSON *input,
                const cJSON *result, long long duration_ms)
{
  cJSON *ev;
  char *in, *out;

  if(audit_fd < 0 || !(ev = cJSON_CreateObject()))
    return;
  in = input ? cJSON_PrintUnformatted(input) : NULL;
  out = result ? cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(result, "content")) : NULL;
  cJSON_AddStringToObject(ev, "type", "tool_call");
  cJSON_AddStringToObject(ev, "tool_use_id", tool_use_id);
  cJSON_AddStringToObject(ev, "tool", tool);
  audit_add_hash(ev, "input", in);
  audit_add_hash(ev, "output", out);
  cJSON_AddBoolToObject(ev, "is_error", json_true(result, "is_error"));
  cJSON_AddNumberToObject(ev, "duration_ms", (double)duration_ms);
  audit_append(ev);
  cJSON_Delete(ev);
  free(in);
  free(out);
}

void
audit_event(const char *type, ...)
{
  cJSON *ev;
  const char *k;
  va_list ap;

  if(audit_fd < 0 || !(ev = cJSON_CreateObject()))
    return;
  cJSON_AddStringToObject(ev, "type", type);
  va_start(ap, type);
  while((k = va_arg(ap, const char *))) {
    const char *v = va_arg(ap, const char *);

    cJSON_AddStringToObject(ev, k, v ? v : "");
  }
  va_end(ap);
  audit_append(ev);
  cJSON_Delete(ev);
}

/* The file's last line (without its newline) into buf; its length, 0 for
 * an empty file, -1 on an error. */
static ssize_t
last_line(int fd, char *buf, size_t cap)
{
  struct stat st;
  off_t from;
  ssize_t n, i;

  if(fstat(fd, &st) < 0)
    return -1;
  if(st.st_size == 0)
    return 0;
  from = st.st_size > (off_t)cap ? st.st_size - (off_t)cap : 0;
  n = pread(fd, buf, (size_t)(st.st_size - from), from);
  if(n <= 0)
    return -1;
  if(buf[n - 1] == '\n')
    n--;
  for(i = n; i > 0 && buf[i - 1] != '\n'; i--)
    ;
  if(i == 0 && from > 0) {
    errno = EFBIG;                  /* a line longer than we ever write */
    return -1;
  }
  memmove(buf, buf + i, (size_t)(n - i));
  return n - i;
}

static long long
seq_of(const char *line, size_t len)
{
  cJSON *o = cJSON_ParseWithLength(line, len);
  long long v = o ? (long long)json_long(cJSON_GetObjectItemCaseSensitive(o, "seq"), 1, 0x7fffffffffffL, 0) : 0;

  cJSON_Delete(o);
  return v;
}

void
audit_append(cJSON *event)
{
  static char last[LAST_LINE_MAX];
  char prev[SHA256_HEX_LEN], when[32];
  cJSON *line = NULL, *item;
  char *text = NULL;
  ssize_t n;
  long long seq = 1;
  struct timespec ts;
  struct tm tm;

  if(audit_fd < 0)
    return;
  pthread_mutex_lock(&audit_mu);
  if(flock(audit_fd, LOCK_EX) < 0)
    goto fail;
  n = last_line(audit_fd, last, sizeof(last));
  if(n < 0)
    goto fail_locked;
  if(n == 0)
    memcpy(prev, GENESIS, sizeof(prev));
  else {
    sha256_hex(last, (size_t)n, prev);
    seq = seq_of(last, (size_t)n) + 1;
  }
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  line = cJSON_CreateObject();
  if(!line || !cJSON_AddNumberToObject(line, "seq", (double)seq) ||
     !cJSON_AddStringToObject(line, "prev", prev) || !cJSON_AddStringToObject(line, "time", when) ||
     (*log_work_id() && !cJSON_AddStringToObject(line, "work_id", log_work_id())) ||
     (*log_session_id() && !cJSON_AddStringToObject(line, "session_id", log_session_id())))
    goto fail_locked;
  cJSON_ArrayForEach(item, event)
    cJSON_AddItemToObject(line, item->string, cJSON_Duplicate(item, 1));
  text = cJSON_PrintUnformatted(line);
  if(!text)
    goto fail_locked;
  {
    size_t len = strlen(text);

    text[len] = '\n';               /* one write: the line and its end */
    if(write_all(audit_fd, text, len + 1) < 0)
      goto fail_locked;
    sha256_hex(text, len, last_head);
  }
  flock(audit_fd, LOCK_UN);
  pthread_mutex_unlock(&audit_mu);
  cJSON_Delete(line);
  free(text);
  return;
fail_locked:
  flock(audit_fd, LOCK_UN);
fail:
  pthread_mutex_unlock(&audit_mu);
  log_err("audit_write_failed", "errno=%d error=%s", errno, strerror(errno));
  cJSON_Delete(line);
  free(text);
}

int
audit_verify(const char *text, size_t len, long long *lines, const char **why,
              char head[SHA256_HEX_LEN])
{
  char prev[SHA256_HEX_LEN] = GENESIS;
  const char *p, *end = text + len;
  long long want = 1;

  *why = NULL;
  head[0] = '\0';
  for(p = text; p < end; want++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    cJSON *o = cJSON_ParseWithLength(p, n);
    const char *got_prev = json_str(o, "prev");
    long long seq = o ? (long long)json_long(cJSON_GetObjectItemCaseSensitive(o, "seq"), 1, 0x7fffffffffffL, 0) : 0;

    if(!nl)
      *why = "it is cut short (no newline): a write was interrupted, or the file was truncated";
    else if(!o || !got_prev || !seq)
      *why = "it is not an audit line";
    else if(seq != want)
      *why = seq > want ? "its seq is too high: a line before it was removed, or lines were moved"
                        : "its seq is too low: lines were moved, or a line repeated";
    else if(strcmp(got_prev, prev) && want > 1) {
      /* The line before was edited: name that one. */
      *why = "it was changed (the next line does not chain to it)";
      want--;
    }
    else if(strcmp(got_prev, prev))
      *why = "it does not start the chain";
    cJSON_Delete(o);
    if(*why) {
      *lines = want;
      return -1;
    }
    sha256_hex(p, n, prev);
    p += n + 1;
  }
  *lines = want - 1;
  if(want > 1)
    memcpy(head, prev, SHA256_HEX_LEN);
  return 0;
}

int
audit_verify_main(const char *path)
{
  char head[SHA256_HEX_LEN], *text = NULL;
  const char *why;
  long long lines;
  size_t len;
  int rc;

  if(read_file(path, (size_t)1 << 34, &text, &len) < 0) {
    fprintf(stderr, "sandhook audit verify: cannot read %s: %s\n", path, strerror(errno));
    return 2;
  }
  rc = audit_verify(text, len, &lines, &why, head);
  if(rc < 0)
    printf("sandhook audit verify: %s: line %lld: %s\n", path, lines, why);
  else
    printf("sandhook audit verify: %s: ok, %lld lines, head %s\n", path, lines, head[0] ? head : "-");
  free(text);
  return rc < 0 ? 1 : 0;
}
