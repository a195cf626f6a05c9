#include "front/capture.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "front/responder.h"
#include "common/strbuf.h"
#include "common/random.h"
#include "common/errmsg.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* HTTP_WEBHOOK_ID -> webhook-id; CONTENT_TYPE -> Content-Type. */
static int
header_name(const char *param, size_t len, char *out, size_t cap)
{
  size_t i, o = 0;

  if(len == 12 && !memcmp(param, "CONTENT_TYPE", 12))
    return snprintf(out, cap, "Content-Type") < (int)cap ? 0 : -1;
  if(len == 14 && !memcmp(param, "CONTENT_LENGTH", 14))
    return snprintf(out, cap, "Content-Length") < (int)cap ? 0 : -1;
  /* nginx passes these twice, as CONTENT_* and HTTP_CONTENT_*; one copy
   * each, or the capture would not be a valid request. */
  if(len <= 5 || memcmp(param, "HTTP_", 5) ||
     (len == 17 && !memcmp(param, "HTTP_CONTENT_TYPE", 17)) ||
     (len == 19 && !memcmp(param, "HTTP_CONTENT_LENGTH", 19)))
    return -1;
  for(i = 5; i < len && o + 1 < cap; i++)
    out[o++] = param[i] == '_' ? '-' : (char)tolower((unsigned char)param[i]);
  out[o] = '\0';
  return 0;
}

static void
append_value(struct strbuf *sb, const char *v)
{
  /* A value never breaks the line structure of the file. */
  for(; *v; v++)
    sb_append(sb, *v == '\r' || *v == '\n' ? " " : v, 1);
}

struct cap_file {
  char name[NAME_MAX + 1];
  off_t size;
  struct timespec mtime;
};

static int
older_first(const void *a, const void *b)
{
  const struct cap_file *x = a, *y = b;

  if(x->mtime.tv_sec != y->mtime.tv_sec)
    return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
  if(x->mtime.tv_nsec != y->mtime.tv_nsec)
    return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* With the folder's lock held: removes the oldest files until need more
 * bytes fit under max; -1 (EFBIG) when need alone is over it. */
static int
make_room(int dfd, off_t need, off_t max)
{
  struct cap_file *f = NULL;
  size_t n = 0, cap = 0, i;
  off_t total = 0;
  struct dirent *de;
  DIR *d;

  if(need > max) {
    errno = EFBIG;
    return -1;
  }
  if(!(d = opendir_fd(dfd)))
    return -1;
  while((de = readdir(d))) {
    struct stat st;

    if(de->d_name[0] == '.' || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
       !S_ISREG(st.st_mode))
      continue;
    if(grow_array(&f, &cap, n, sizeof(*f)) < 0)
      break;
    snprintf(f[n].name, sizeof(f[n].name), "%s", de->d_name);
    f[n].size = st.st_size;
    f[n].mtime = st.st_mtim;
    total += st.st_size;
    n++;
  }
  closedir(d);
  if(n)
    qsort(f, n, sizeof(*f), older_first);
  for(i = 0; i < n && total + need > max; i++)
    if(unlinkat(dfd, f[i].name, 0) == 0 || errno == ENOENT)
      total -= f[i].size;
  free(f);
  return total + need > max ? -1 : 0;
}

int
capture_write(const char *dir, struct request *rq, const char *body, size_t len,
              long max_mb, char *path, size_t pathcap)
{
  const char *method = rq->param(rq->ctx, "REQUEST_METHOD");
  const char *uri = rq->param(rq->ctx, "REQUEST_URI");
  char **p, name[256], tmp[PATH_MAX];
  struct strbuf sb = STRBUF_INIT;
  struct timespec now;
  char rnd[9];
  int fd, dfd = -1, rc = -1;

  if(mkdir_p(dir, 0700) < 0)
    return -1;
  sb_printf(&sb, "%s %s HTTP/1.1\r\n", method ? method : "GET",
            uri && *uri ? uri : "/");
  for(p = rq->params(rq->ctx); p && *p; p++) {
    const char *eq = strchr(*p, '=');

    if(!eq || header_name(*p, (size_t)(eq - *p), name, sizeof(name)) < 0)
      continue;
    sb_printf(&sb, "%s: ", name);
    append_value(&sb, eq + 1);
    sb_append(&sb, "\r\n", 2);
  }
  sb_append(&sb, "\r\n", 2);
  if(len)
    sb_append(&sb, body, len);
  if(sb.failed)
    goto out;
  /* One writer at a time makes room and writes, so the folder never holds
   * more than SANDHOOK_CAPTURE_MAX_MB whatever arrives. */
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if(dfd < 0 || flock(dfd, LOCK_EX) < 0 || make_room(dfd, (off_t)sb.len, (off_t)max_mb << 20) < 0)
    goto out;
  clock_gettime(CLOCK_REALTIME, &now);
  if(random_hex(rnd, 4) < 0 ||
     snprintf(path, pathcap, "%s/%lld%03ld-%d-%s.http", dir, (long long)now.tv_sec,
              now.tv_nsec / 1000000, (int)getpid(), rnd) >= (int)pathcap ||
     snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
    goto out;
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if(fd < 0)
    goto out;
  if(write_all(fd, sb.data, sb.len) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
    unlink(tmp);
    goto out;
  }
  rc = 0;
out:
  if(dfd >= 0)
    close(dfd);
  sb_release(&sb);
  return rc;
}

void
capture_sweep(const char *dir, long keep_seconds, time_t now)
{
  sweep_old_files(dir, ".http", keep_seconds, now);
}

int
captured_set(struct captured *c, const char *name, const char *value)
{
  size_t i, nl = strlen(name);
  char *kv;

  if(asprintf(&kv, "%s=%s", name, value) < 0)
    return -1;
  for(i = 0; i < c->nparams; i++)
    if(!strncmp(c->params[i], name, nl) && c->params[i][nl] == '=') {
      free(c->params[i]);
      c->params[i] = kv;
      return 0;
    }
  if(c->nparams == CAPTURE_MAX_PARAMS) {
    free(kv);
    return -1;
  }
  c->params[c->nparams++] = kv;
  c->params[c->nparams] = NULL;
  return 0;
}

const char *
captured_param(const struct captured *c, const char *name)
{
  size_t i, nl = strlen(name);

  for(i = 0; i < c->nparams; i++)
    if(!strncmp(c->params[i], name, nl) && c->params[i][nl] == '=')
      return c->params[i] + nl + 1;
  return NULL;
}

/* HTTP header name -> CGI param: webhook-id -> HTTP_WEBHOOK_ID. */
static void
param_name(const char *h, size_t len, char *out, size_t cap)
{
  size_t i, o;

  if(len == 12 && !strncasecmp(h, "content-type", 12)) {
    snprintf(out, cap, "CONTENT_TYPE");
    return;
  }
  if(len == 14 && !strncasecmp(h, "content-length", 14)) {
    snprintf(out, cap, "CONTENT_LENGTH");
    return;
  }
  o = (size_t)snprintf(out, cap, "HTTP_");
  for(i = 0; i < len && o + 1 < cap; i++)
    out[o++] = h[i] == '-' ? '_' : (char)toupper((unsigned char)h[i]);
  out[o] = '\0';
}

int
capture_parse(const char *data, size_t len, struct captured *c, const char **why)
{
  char *p, *end, *line, *sp1, *sp2, name[256];
  int first = 1;

  memset(c, 0, sizeof(*c));
  c->buf = malloc(len + 1);
  if(!c->buf) {
    *why = "out of memory";
    return -1;
  }
  memcpy(c->buf, data, len);
  c->buf[len] = '\0';
  p = c->buf;
  end = c->buf + len;
  for(;;) {
    char *nl = memchr(p, '\n', (size_t)(end - p));

    if(!nl) {
      *why = "no blank line after the headers";
      goto fail;
    }
    line = p;
    *nl = '\0';
    if(nl > line && nl[-1] == '\r')
      nl[-1] = '\0';
    p = nl + 1;
    if(!*line)
      break;
    if(first) {
      first = 0;
      sp1 = strchr(line, ' ');
      sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
      if(!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
        *why = "the first line is not an HTTP/1.x request line";
        goto fail;
      }
      *sp1 = *sp2 = '\0';
      if(captured_set(c, "REQUEST_METHOD", line) < 0 ||
         captured_set(c, "REQUEST_URI", sp1 + 1) < 0)
        goto oom;
      continue;
    }
    sp1 = strchr(line, ':');
    if(!sp1 || sp1 == line) {
      *why = "a header line without a name";
      goto fail;
    }
    param_name(line, (size_t)(sp1 - line), name, sizeof(name));
    sp1++;
    while(*sp1 == ' ' || *sp1 == '\t')
      sp1++;
    if(captured_set(c, name, sp1) < 0)
      goto oom;
  }
  if(first) {
    *why = "empty request";
    goto fail;
  }
  c->body = p;
  c->body_len = (size_t)(end - p);
  return 0;
oom:
  *why = "out of memory or too many headers";
fail:
  captured_free(c);
  return -1;
}

void
captured_free(struct captured *c)
{
  size_t i;

  for(i = 0; i < c->nparams; i++)
    free(c->params[i]);
  free(c->buf);
  memset(c, 0, sizeof(*c));
}

int
captured_length_matches(const struct captured *c, struct errmsg *why)
{
  const char *cl = captured_param(c, "CONTENT_LENGTH");
  unsigned long long want;
  char *end;

  if(!cl)
    return 1;
  errno = 0;
  want = strtoull(cl, &end, 10);
  if(errno || *end || end == cl)
    errmsg_set(why, "Content-Length \"%.40s\" is not a number", cl);
  else if(want == c->body_len)
    return 1;
  else
    errmsg_set(why, "the body is %zu bytes, %s than its Content-Length of %llu%s; replay with "
             "--resign to sign it as it is", c->body_len, c->body_len > want ? "longer" : "shorter",
             want, c->body_len == want + 1 && c->body[c->body_len - 1] == '\n' ?
             " (a newline an editor added?)" : "");
  return 0;
}
