#include "common/log.h"
#include "common/selfpid.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/strbuf.h"
#include "common/utf8.h"
#include "common/util.h"

#include <cjson/cJSON.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/types.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDERR_FILENO;
static int log_json;
static int syslog_fd = -1;
static char syslog_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static long long syslog_retried_ms;
static const char *log_component = "sandhook";
/* Per thread: a drainer serves several items at once, one per thread, and
 * a thread it starts for an item takes that item's ids (log_thread_create). */
static _Thread_local char cur_work[128];
static _Thread_local char cur_session[128];
static enum log_level log_min = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static log_error_hook error_hook;
static pid_t shown_pid, shown_for;

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

enum log_level
log_level(void)
{
  return log_min;
}

void
log_set_pid(pid_t pid)
{
  shown_for = self_pid();
  shown_pid = pid;
}

/* A child forked after log_set_pid names its own pid again. */
static int
line_pid(void)
{
  pid_t self = self_pid();

  return (int)(shown_pid > 0 && self == shown_for ? shown_pid : self);
}

int
log_syslog_fd(void)
{
  return syslog_fd;
}

void
log_use_syslog(int fd)
{
  syslog_fd = fd;
  syslog_path[0] = '\0';
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
log_set_json(int on)
{
  log_json = on;
}

/* A datagram socket connected to the syslog daemon's. */
static int
open_syslog(const char *path)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd;

  if(strlen(path) >= sizeof(sa.sun_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(sa.sun_path, path);
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if(fd < 0)
    return -1;
  if(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    int e = errno;

    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

int
log_syslog_try(const char *path)
{
  int fd = open_syslog(path);

  if(fd < 0)
    return -1;
  close(fd);
  return 0;
}

int
log_setup(const struct config *cfg, int detached)
{
  static const char *const levels[] = { "debug", "info", "warn", "error", "off" };
  const char *dest = cfg->log_dest;
  size_t i;

  log_min = LOG_INFO;
  for(i = 0; cfg->anthropic_log && i < N_ELEMENTS(levels); i++)
    if(!strcmp(cfg->anthropic_log, levels[i]))
      log_min = (enum log_level)i;
  if(cfg->log_debug)
    log_min = LOG_DEBUG;
  log_json = cfg->log_format && !strcmp(cfg->log_format, "json");
  if(syslog_fd >= 0) {                /* set up again (SIGHUP) */
    close(syslog_fd);
    syslog_fd = -1;
  }
  if(!dest)
    dest = detached || cfg->log_file_named ? "file" : "stderr";
  if(!strcmp(dest, "syslog")) {
    const char *path = cfg->syslog_socket ? cfg->syslog_socket : "/dev/log";

    syslog_fd = open_syslog(path);
    if(syslog_fd >= 0)
      snprintf(syslog_path, sizeof(syslog_path), "%s", path);
    return syslog_fd < 0 ? -1 : 0;
  }
  return strcmp(dest, "file") ? 0 : log_to_file(cfg->log_file);
}

void
log_ids(const char *work_id, const char *session_id)
{
  snprintf(cur_work, sizeof(cur_work), "%s", work_id ? work_id : "");
  snprintf(cur_session, sizeof(cur_session), "%s", session_id ? session_id : "");
}

const char *
log_work_id(void)
{
  return cur_work;
}

const char *
log_session_id(void)
{
  return cur_session;
}

struct thread_start {
  void *(*fn)(void *);
  void *arg;
  char work[sizeof(cur_work)], session[sizeof(cur_session)];
};

static void *
thread_main(void *p)
{
  struct thread_start ts = *(struct thread_start *)p;

  free(p);
  log_ids(ts.work, ts.session);
  return ts.fn(ts.arg);
}

int
log_thread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
  struct thread_start *ts = malloc(sizeof(*ts));
  int e;

  if(!ts)
    return errno;
  ts->fn = fn;
  ts->arg = arg;
  memcpy(ts->work, cur_work, sizeof(ts->work));
  memcpy(ts->session, cur_session, sizeof(ts->session));
  if((e = pthread_create(t, attr, thread_main, ts)) != 0)
    free(ts);
  return e;
}

/* Appends one value as logfmt does: bare when it is a plain token, else in
 * double quotes with '"' and '\\' escaped; control bytes are escaped
 * either way.  So no value, whoever chose it, can end its field, add a
 * field or start a line. */
static void
put_value(struct strbuf *sb, const char *v)
{
  const unsigned char *p;
  int quote = !*v;

  for(p = (const unsigned char *)v; *p && !quote; p++)
    quote = *p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f;
  if(quote)
    sb_append(sb, "\"", 1);
  for(p = (const unsigned char *)v; *p; p++) {
    if(*p == '"' || *p == '\\') {
      sb_append(sb, "\\", 1);
      sb_append(sb, (const char *)p, 1);
    }
    else if(*p == '\n')
      sb_append(sb, "\\n", 2);
    else if(*p < 0x20 || *p == 0x7f)
      sb_printf(sb, "\\x%02x", *p);
    else
      sb_append(sb, (const char *)p, 1);
  }
  if(quote)
    sb_append(sb, "\"", 1);
}

/* A value longer than the line allows ends in how much of it is not
 * there, cut where a UTF-8 sequence starts: a cut value never reads as
 * the whole. */
static void
mark_cut(char *val, size_t cap, size_t full)
{
  char note[40];
  size_t at;

  snprintf(note, sizeof(note), "...(%zu bytes cut)", full);
  at = cap - 1 - strlen(note);
  while(at > 0 && ((unsigned char)val[at] & 0xc0) == 0x80)
    at--;
  snprintf(val + at, cap - at, "...(%zu bytes cut)", full - at);
}

/* fmt is "key=%s key2=%d ..." (the compiler checks it as printf's): the
 * literal text is the caller's, every conversion is one value, formatted
 * on its own (at most 1023 bytes, mark_cut) and passed through put_value. */
static void
format_fields(struct strbuf *sb, const char *fmt, va_list ap)
{
  const char *f = fmt;

  while(*f) {
    char spec[32], val[1024];
    const char *start = f;
    int stars[2], nstars = 0, lng = 0, size = 0;
    size_t n;

    if(*f != '%') {
      const char *pct = strchr(f, '%');

      n = pct ? (size_t)(pct - f) : strlen(f);
      sb_append(sb, f, n);
      f += n;
      continue;
    }
    if(f[1] == '%') {
      sb_append(sb, "%", 1);
      f += 2;
      continue;
    }
    for(f++; *f && strchr("-+ #0", *f); f++)
      ;
    for(; *f == '*' || (*f >= '0' && *f <= '9') || *f == '.'; f++)
      if(*f == '*' && nstars < 2)
        stars[nstars++] = va_arg(ap, int);
    for(; *f && strchr("hlzjt", *f); f++) {
      if(*f == 'l')
        lng++;
      else if(*f == 'z' || *f == 'j' || *f == 't')
        size = 1;
    }
    if(!*f)
      break;
    n = (size_t)(f - start) + 1;
    if(n >= sizeof(spec))
      break;
    memcpy(spec, start, n);
    spec[n] = '\0';
    /* Only the conversions the callers use; each takes its argument. */
#define ONE(type) (nstars == 2 ? snprintf(val, sizeof(val), spec, stars[0], stars[1], va_arg(ap, type)) : \
                   nstars == 1 ? snprintf(val, sizeof(val), spec, stars[0], va_arg(ap, type)) : \
                   snprintf(val, sizeof(val), spec, va_arg(ap, type)))
    switch(*f) {
    case 's': {
      const char *v;
      int full;

      /* A value cut to a precision still goes through put_value whole. */
      if(nstars == 1 && strchr(spec, '.')) {
        v = va_arg(ap, const char *);
        full = snprintf(val, sizeof(val), "%.*s", stars[0], v ? v : "(null)");
      }
      else
        full = ONE(const char *);
      if(full >= (int)sizeof(val))
        mark_cut(val, sizeof(val), (size_t)full);
      put_value(sb, val);
      f++;
      continue;
    }
    case 'd': case 'i':
      if(size)
        ONE(ssize_t);
      else if(lng > 1)
        ONE(long long);
      else if(lng)
        ONE(long);
      else
        ONE(int);
      break;
    case 'u': case 'x': case 'X': case 'o':
      if(size)
        ONE(size_t);
      else if(lng > 1)
        ONE(unsigned long long);
      else if(lng)
        ONE(unsigned long);
      else
        ONE(unsigned);
      break;
    case 'c':
      ONE(int);
      break;
    case 'f': case 'g': case 'e':
      ONE(double);
      break;
    case 'p':
      ONE(void *);
      break;
    default:
      snprintf(val, sizeof(val), "?");
    }
#undef ONE
    put_value(sb, val);
    f++;
  }
}

/* One logfmt value as put_value wrote it, back to its text; returns where
 * the next field starts. */
static const char *
take_value(const char *p, struct strbuf *v)
{
  if(*p != '"') {
    size_t n = strcspn(p, " \n");

    sb_append(v, p, n);
    return p + n;
  }
  for(p++; *p && *p != '"'; p++) {
    if(*p != '\\' || !p[1]) {
      sb_append(v, p, 1);
      continue;
    }
    p++;
    if(*p == 'n')
      sb_append(v, "\n", 1);
    else if(*p == 'x' && p[1] && p[2]) {
      char hex[3] = { p[1], p[2], 0 }, c = (char)strtol(hex, NULL, 16);

      sb_append(v, &c, 1);
      p += 2;
    }
    else
      sb_append(v, p, 1);
  }
  return *p ? p + 1 : p;
}

/* The same fields as one JSON object: the logger wrote the line, so it
 * parses back field by field. */
static char *
to_json(const char *line)
{
  cJSON *o = cJSON_CreateObject();
  const char *p = line;
  char *text = NULL;

  while(o && *p && *p != '\n') {
    const char *eq = strchr(p, '=');
    struct strbuf key = STRBUF_INIT, val = STRBUF_INIT;
    char *clean;

    if(!eq)
      break;
    sb_append(&key, p, (size_t)(eq - p));
    p = take_value(eq + 1, &val);
    clean = val.data ? utf8_clean(val.data, val.len, NULL) : strdup("");
    if(!key.failed && !val.failed && clean) {
      if(!strcmp(key.data, "pid"))
        cJSON_AddNumberToObject(o, key.data, atof(clean));
      else
        cJSON_AddStringToObject(o, key.data, clean);
    }
    free(clean);
    sb_release(&key);
    sb_release(&val);
    while(*p == ' ')
      p++;
  }
  if(o)
    text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return text;
}

/* A syslog daemon that restarted made a new socket, and ours is connected
 * to the old one: connect again, under the same descriptor number (threads
 * and the jails started later use it), at most once a second while the
 * daemon is down.  The jail has no path to connect to (log_use_syslog). */
static int
syslog_reconnect(int failed)
{
  long long now = now_ms();
  int fd, rc = -1;

  pthread_mutex_lock(&log_lock);
  if(syslog_fd == failed && *syslog_path && now - syslog_retried_ms >= 1000) {
    syslog_retried_ms = now;
    if((fd = open_syslog(syslog_path)) >= 0) {
      rc = dup3(fd, failed, O_CLOEXEC) < 0 ? -1 : 0;
      close(fd);
    }
  }
  pthread_mutex_unlock(&log_lock);
  return rc;
}

/* One line out, whole: one write (or one datagram), so lines of several
 * processes sharing a file or the error log never interleave. */
static void
emit(enum log_level lvl, const char *line, size_t len)
{
  if(syslog_fd >= 0) {
    static const int pri[] = { 7, 6, 4, 3 };      /* debug, info, warning, err */
    struct strbuf d = STRBUF_INIT;

    /* facility daemon (3); the line without its newline */
    sb_printf(&d, "<%d>sandhook[%d]: ", 3 * 8 + pri[lvl], line_pid());
    sb_append(&d, line, len - 1);
    for(int again = 1; !d.failed; again = 0) {
      int fd = syslog_fd;

      if(send(fd, d.data, d.len, MSG_NOSIGNAL) == (ssize_t)d.len) {
        sb_release(&d);
        return;
      }
      if(!again || (errno != ECONNREFUSED && errno != ENOTCONN && errno != ECONNRESET) ||
         syslog_reconnect(fd) < 0)
        break;
    }
    sb_release(&d);
  }
  while(write(log_fd, line, len) < 0 && errno == EINTR)
    ;
}

void
log_event(enum log_level lvl, const char *event, const char *fmt, ...)
{
  struct strbuf sb = STRBUF_INIT;
  char ts[32];
  struct timespec now;
  struct tm tm;
  va_list ap;

  if(lvl < log_min)
    return;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

  pthread_mutex_lock(&log_lock);
  sb_printf(&sb, "ts=%s.%03ldZ level=%s component=%s pid=%d event=", ts, now.tv_nsec / 1000000L,
            level_names[lvl], log_component, line_pid());
  put_value(&sb, event);
  if(cur_work[0]) {
    sb_append(&sb, " work_id=", 9);
    put_value(&sb, cur_work);
  }
  if(cur_session[0]) {
    sb_append(&sb, " session_id=", 12);
    put_value(&sb, cur_session);
  }
  pthread_mutex_unlock(&log_lock);
  if(*fmt) {
    sb_append(&sb, " ", 1);
    va_start(ap, fmt);
    format_fields(&sb, fmt, ap);
    va_end(ap);
  }
  sb_append(&sb, "\n", 1);
  if(!sb.failed && log_json) {
    char *json = to_json(sb.data);

    if(json) {
      sb.len = 0;
      sb_append(&sb, json, strlen(json));
      sb_append(&sb, "\n", 1);
      free(json);
    }
  }
  if(!sb.failed) {
    emit(lvl, sb.data, sb.len);
    if(lvl == LOG_ERROR && error_hook) {
      sb.data[sb.len - 1] = '\0';
      error_hook(log_component, event, sb.data);
    }
  }
  sb_release(&sb);
}

void
log_on_error(log_error_hook hook)
{
  error_hook = hook;
}
