/* errmsg: the one message type for a failure that explains itself (a bad
 * setting, a refused archive, an API error, a capture that does not add
 * up): whoever knows what went wrong writes it once, whoever logs or
 * answers reads e->text.  System-call-like helpers do not take one: they
 * return -1 with errno, and their caller says what it was doing.  A parser
 * whose every reason is fixed text (webhook_parse, capture_parse) hands a
 * string literal back through "const char **why" instead.
 *
 * The caller owns the struct, usually on its stack, set up by ERRMSG_INIT
 * or by the first errmsg_set; nothing to release. */
#ifndef SANDHOOK_ERRMSG_H
#define SANDHOOK_ERRMSG_H

#define ERRMSG_MAX 512

struct errmsg {
  char text[ERRMSG_MAX];
};

#define ERRMSG_INIT { "" }

/* Sets the message (cut to ERRMSG_MAX - 1 bytes); returns -1, so that a
 * failing function can end with "return errmsg_set(e, ...)". */
int errmsg_set(struct errmsg *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether a message was set. */
#define errmsg_isset(e) ((e)->text[0] != '\0')

#endif
