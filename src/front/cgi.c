#include "front/front.h"
#include "common/fsutil.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static const char *
cgi_param(void *ctx, const char *name)
{
  (void)ctx;
  return getenv(name);
}

static char **
cgi_params(void *ctx)
{
  extern char **environ;

  (void)ctx;
  return environ;
}

static ssize_t
cgi_read(void *ctx, void *buf, size_t n)
{
  ssize_t got;

  (void)ctx;
  do
    got = read(STDIN_FILENO, buf, n);
  while(got < 0 && errno == EINTR);
  return got;
}

static int
cgi_write(void *ctx, const char *data, size_t n)
{
  (void)ctx;
  return write_all(STDOUT_FILENO, data, n);
}

/* The gateway holds the request open until our stdout closes; stderr stays
 * ours for logging until exit. */
static void
cgi_finish(void *ctx)
{
  (void)ctx;
  close(STDOUT_FILENO);
}

int
cgi_serve(struct responder *r)
{
  struct request rq = { NULL, cgi_param, cgi_params, cgi_read, cgi_write, cgi_finish };

  responder_serve(r, &rq, NULL);
  return 0;
}
