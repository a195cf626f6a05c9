#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDERR_FILENO;
static const char *log_component = "sandhook";
static char cur_work[128];
static char cur_session[128];
static enum log_level log_min = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
log_init(const char *component)
{
  log_component = component;
}

void
log_set_level(enum log_level min)
{
  log_min = min;
}

int
log_to_file(const char *path)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

  if(fd < 0)
    return -1;
  /* On fd 2, so the jail processes we start log to the same file. */
  if(dup2(fd, STDERR_FILENO) < 0) {
    close(fd);
    return -1;
  }
  close(fd);
  log_fd = STDERR_FILENO;
  return 0;
}

void
log_ids(const char *work_id, const char *session_id)
{
  pthread_mutex_lock(&log_lock);
  snprintf(cur_work, sizeof(cur_work), "%s", work_id ? work_id : "");
  snprintf(cur_session, sizeof(cur_session), "%s", session_id ? session_id : "");
  pthread_mutex_unlock(&log_lock);
}

/* Values arrive already formatted; anything that could break the one-line
 * contract (newlines, control bytes) is escaped here. */
static size_t
sanitize(char *dst, size_t cap, const char *src)
{
  size_t o = 0;

  for(; *src && o + 4 < cap; src++) {
    unsigned char c = (unsigned char)*src;

    if(c == '\n') {
      dst[o++] = '\\';
      dst[o++] = 'n';
    }
    else if(c < 0x20 || c == 0x7f) {
      o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
    }
    else
      dst[o++] = (char)c;
  }
  dst[o] = '\0';
  return o;
}

void
log_event(enum log_level lvl, const char *event, const char *fmt, ...)
{
  char body[2048], clean[4096], line[5120];
  char ts[32];
  struct timespec now;
  struct tm tm;
  va_list ap;
  int n;

  if(lvl < log_min)
    return;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

  va_start(ap, fmt);
  vsnprintf(body, sizeof(body), fmt, ap);
  va_end(ap);
  sanitize(clean, sizeof(clean), body);

  pthread_mutex_lock(&log_lock);
  n = snprintf(line, sizeof(line),
               "ts=%s.%03ldZ level=%s component=%s pid=%d event=%s%s%s%s%s%s%s\n",
               ts, now.tv_nsec / 1000000L, level_names[lvl], log_component,
               (int)getpid(), event,
               cur_work[0] ? " work_id=" : "", cur_work,
               cur_session[0] ? " session_id=" : "", cur_session,
               clean[0] ? " " : "", clean);
  pthread_mutex_unlock(&log_lock);
  if(n < 0)
    return;
  if((size_t)n >= sizeof(line)) {
    n = sizeof(line) - 1;
    line[n - 1] = '\n';
  }
  /* One write per line keeps lines whole when several processes share the
   * web server's error log. */
  while(write(log_fd, line, (size_t)n) < 0 && errno == EINTR)
    ;
}
