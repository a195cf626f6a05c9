#include "jail/tools/tools.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Whether the normalised segments start with root's. */
static int
under(const char *root, const char *const *segs, size_t nseg, size_t *depth)
{
  char buf[4096], *r, *save = NULL;
  size_t k = 0;

  if(strlen(root) >= sizeof(buf))
    return 0;
  strcpy(buf, root);
  for(r = strtok_r(buf, "/", &save); r; r = strtok_r(NULL, "/", &save), k++)
    if(k >= nseg || strcmp(segs[k], r))
      return 0;
  *depth = k;
  return 1;
}

int
path_confine(const struct tool_ctx *ctx, const char *p, struct place *pl)
{
  char buf[8192];
  const char *segs[512];
  size_t nseg = 0, i, o = 0, best = 0, depth;
  char *s, *save = NULL;
  int n, r;

  pl->root = NULL;
  pl->others = ctx->nroots > 1;
  if(p[0] == '/')
    n = snprintf(buf, sizeof(buf), "%s", p);
  else
    n = snprintf(buf, sizeof(buf), "%s/%s", ctx->workdir, p);
  if(n < 0 || (size_t)n >= sizeof(buf)) {
    errno = ENAMETOOLONG;
    return PATH_ERRNO;
  }
  /* Lexical normalisation first: ".." that climbs above a root is refused
   * before anything touches the filesystem. */
  for(s = strtok_r(buf, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
    if(!strcmp(s, "."))
      continue;
    if(!strcmp(s, "..")) {
      if(nseg == 0)
        return PATH_OUTSIDE;
      nseg--;
      continue;
    }
    if(nseg == N_ELEMENTS(segs)) {
      errno = ENAMETOOLONG;
      return PATH_ERRNO;
    }
    segs[nseg++] = s;
  }
  /* The deepest root whose segments lead the result. */
  for(r = 0; r < ctx->nroots; r++)
    if(under(ctx->roots[r].path, segs, nseg, &depth) && (!pl->root || depth > best)) {
      pl->root = &ctx->roots[r];
      best = depth;
    }
  if(!pl->root)
    return PATH_OUTSIDE;
  if(best == nseg) {
    strcpy(pl->rel, ".");
    return PATH_OK;
  }
  for(i = best; i < nseg; i++) {
    size_t l = strlen(segs[i]);

    if(o + l + 2 > sizeof(pl->rel)) {
      errno = ENAMETOOLONG;
      return PATH_ERRNO;
    }
    if(o)
      pl->rel[o++] = '/';
    memcpy(pl->rel + o, segs[i], l);
    o += l;
  }
  pl->rel[o] = '\0';
  return PATH_OK;
}

int
path_read_only(struct tool_result *res, const char *tool, const char *p, const struct place *pl)
{
  if(!pl->root->ro)
    return 0;
  tool_text(res, 1, "%s: %s is inside read-only directory %s", tool, p, pl->root->path);
  return 1;
}

/* Without openat2 (kernels before 5.6, valgrind): walk rel one component
 * at a time with O_NOFOLLOW.  rel is already free of "." and "..", so this
 * cannot leave the workdir; it is stricter than openat2, refusing every
 * symlink rather than only those that lead out. */
static int
open_beneath_walk(int root_fd, const char *rel, int flags, mode_t mode)
{
  char buf[8192], *comp, *next;
  int dfd, fd, e;

  if(strlen(rel) >= sizeof(buf)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(buf, rel);
  dfd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  for(comp = buf; dfd >= 0; comp = next) {
    struct stat st;

    next = strchr(comp, '/');
    if(next)
      *next++ = '\0';
    fd = next ? openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
              : openat(dfd, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    e = errno;
    /* A symlink met on the way is reported like one that leads out. */
    if(fd < 0 && fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
      e = EXDEV;
    close(dfd);
    errno = e;
    if(!next || fd < 0)
      return fd;
    dfd = fd;
  }
  return -1;
}

int
path_open(const struct place *pl, const char *rel, int flags, mode_t mode)
{
  struct open_how how;
  long fd;

  memset(&how, 0, sizeof(how));
  how.flags = (unsigned long long)(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  do
    fd = syscall(SYS_openat2, pl->root->fd, rel, &how, sizeof(how));
  while(fd < 0 && errno == EAGAIN);
  if(fd < 0 && errno == ENOSYS)
    return open_beneath_walk(pl->root->fd, rel, flags, mode);
  return (int)fd;
}

int
path_open_parent(const struct place *pl, int create, const char **base)
{
  const char *rel = pl->rel;
  char dir[8192];
  const char *slash = strrchr(rel, '/');
  size_t i, dl;
  int fd;

  *base = slash ? slash + 1 : rel;
  if(!slash)
    return path_open(pl, ".", O_RDONLY | O_DIRECTORY, 0);
  dl = (size_t)(slash - rel);
  if(dl >= sizeof(dir)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(dir, rel, dl);
  dir[dl] = '\0';
  fd = path_open(pl, dir, O_RDONLY | O_DIRECTORY, 0);
  if(fd >= 0 || !create || errno != ENOENT)
    return fd;
  /* Create each missing level through a beneath-resolved parent, so a
   * symlink planted in the middle cannot redirect the mkdir. */
  for(i = 1; i <= dl; i++) {
    char *leaf;
    int pfd;

    if(i < dl && dir[i] != '/')
      continue;
    dir[i] = '\0';
    leaf = strrchr(dir, '/');
    leaf = leaf ? leaf + 1 : dir;
    if(leaf == dir)
      pfd = path_open(pl, ".", O_RDONLY | O_DIRECTORY, 0);
    else {
      char saved = leaf[-1];

      leaf[-1] = '\0';
      pfd = path_open(pl, dir, O_RDONLY | O_DIRECTORY, 0);
      leaf[-1] = saved;
    }
    if(pfd < 0)
      return -1;
    if(mkdirat(pfd, leaf, 0700) < 0 && errno != EEXIST) {
      int e = errno;

      close(pfd);
      errno = e;
      return -1;
    }
    close(pfd);
    if(i < dl)
      dir[i] = '/';
  }
  return path_open(pl, dir, O_RDONLY | O_DIRECTORY, 0);
}

static void
quote_json(char *dst, size_t cap, const char *s)
{
  size_t o = 0;

  dst[o++] = '"';
  for(; *s && o + 3 < cap; s++) {
    if(*s == '"' || *s == '\\')
      dst[o++] = '\\';
    dst[o++] = *s;
  }
  dst[o++] = '"';
  dst[o] = '\0';
}

void
path_error(struct tool_result *res, const char *tool, const char *p, int rc,
           const struct place *pl)
{
  char q[4200];
  const char *why;

  /* EXDEV and ELOOP from RESOLVE_BENEATH mean a symlink or ".." led out. */
  if(rc == PATH_OUTSIDE || errno == EXDEV) {
    quote_json(q, sizeof(q), p);
    tool_text(res, 1, "path %s is outside the session's working directory%s", q,
              pl && pl->others ? " and its other permitted directories" : "");
    return;
  }
  switch(errno) {
  case ENOENT: why = "no such file or directory"; break;
  case EACCES:
  case EPERM: why = "permission denied"; break;
  case ENOTDIR: why = "not a directory"; break;
  case EISDIR: why = "is a directory"; break;
  case ELOOP: why = "too many levels of symbolic links"; break;
  case ENAMETOOLONG: why = "file name too long"; break;
  case ENOSPC:
  case EDQUOT: why = "no space left on device"; break;
  case EFBIG: why = "file too large"; break;
  case EMFILE:
  case ENFILE: why = "too many open files"; break;
  case EEXIST: why = "file already exists"; break;
  default: why = "i/o error"; break;
  }
  tool_text(res, 1, "%s: %s: %s", tool, p, why);
}
