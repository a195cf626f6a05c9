#include "common/log.h"
#include "common/strbuf.h"

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

/* fmt is "key=%s key2=%d ..." (the compiler checks it as printf's): the
 * literal text is the caller's, every conversion is one value, formatted
 * on its own (at most 1023 bytes) and passed through put_value. */
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

      /* A value cut to a precision still goes through put_value whole. */
      if(nstars == 1 && strchr(spec, '.')) {
        v = va_arg(ap, const char *);
        snprintf(val, sizeof(val), "%.*s", stars[0], v ? v : "(null)");
      }
      else
        ONE(const char *);
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
            level_names[lvl], log_component, (int)getpid());
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
  /* One write per line keeps lines whole when several processes share the
   * web server's error log. */
  if(!sb.failed)
    while(write(log_fd, sb.data, sb.len) < 0 && errno == EINTR)
      ;
  sb_release(&sb);
}
