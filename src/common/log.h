/* log: one logfmt line per event.
 *
 * Lines go to stderr (the web server's error log) until log_to_file() moves
 * them, which the detached drainer does so it never holds the gateway's
 * stderr open.  The work and session ids set with log_ids() are added to
 * every line.  Callers never pass keys, tokens, secrets or signatures.
 * Callers never quote either: each conversion in fmt is one value, and the
 * logger writes it bare when it is a plain token, else in double quotes
 * with '"' and '\\' escaped, control bytes escaped always, so no value,
 * whoever chose it, can end its field, add one or start a line.
 *
 * With SANDHOOK_LOG_FORMAT=json each line is one JSON object instead (the
 * same fields; pid a number, every other value a string), for shippers. */
#ifndef SANDHOOK_LOG_H
#define SANDHOOK_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <sys/types.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

struct config;

void log_init(const char *component);
int log_to_file(const char *path);

/* From the settings: the level (ANTHROPIC_LOG, or SANDHOOK_DEBUG=1 for
 * debug), the format, and where lines go: SANDHOOK_LOG=syslog to the
 * syslog socket; SANDHOOK_LOG=file, or SANDHOOK_LOG_FILE named, to that
 * file; else a detached part (the drainer after a webhook) to the log file
 * and a part run by the web server or a terminal to stderr.  -1 (errno)
 * when the file or the socket cannot be opened; lines then stay on stderr. */
int log_setup(const struct config *cfg, int detached);
/* Whether a syslog daemon listens at path (sandhook check): 0, or -1
 * with errno. */
int log_syslog_try(const char *path);
void log_set_json(int on);
void log_ids(const char *work_id, const char *session_id);
/* The calling thread's ids ("" when none); each thread has its own. */
const char *log_work_id(void);
const char *log_session_id(void);
/* pthread_create, the thread starting with the caller's ids: 0 or an
 * errno value. */
int log_thread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
void log_set_level(enum log_level min);
enum log_level log_level(void);

/* The pid this process's lines name, where getpid() is not the one their
 * readers see: the jail, pid 1 in its own PID namespace, gives its pid in
 * the drainer's, which ps, the kernel's OOM lines and syslog's peer
 * credentials show.  A child forked later names its own again. */
void log_set_pid(pid_t pid);

/* The connected syslog socket when SANDHOOK_LOG=syslog is in use, else -1:
 * a part started by this one (the jail helper, as its stderr) sends its
 * lines there too, with log_use_syslog on the descriptor it got. */
int log_syslog_fd(void);
void log_use_syslog(int fd);

/* Called after each error line is written, with the line as written
 * (without its newline); the hook must not log. */
typedef void (*log_error_hook)(const char *component, const char *event, const char *line);
void log_on_error(log_error_hook hook);

/* fmt is a sequence of "key=%s key2=%d ..." pairs, values unquoted. */
void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

#define log_info(ev, ...) log_event(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_event(LOG_WARN, ev, __VA_ARGS__)
#define log_err(ev, ...) log_event(LOG_ERROR, ev, __VA_ARGS__)
#define log_debug(ev, ...) log_event(LOG_DEBUG, ev, __VA_ARGS__)

#endif
