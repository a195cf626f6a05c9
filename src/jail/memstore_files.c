#include "jail/memstore_files.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/utf8.h"
#include "jail/walk.h"
#include "common/json.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_KEPT 8            /* stores per session (section 8.1) */
#define MAX_DEPTH 32
#define MAX_FILES 5000
#define READ_CAP (1 << 20)
#define TMP_PREFIX ".sandhook-tmp-"

static struct { char *rel; int fd; } kept[MAX_KEPT];
static int nkept;

int
memstore_files_keep(const char *rel, int dirfd)
{
  if(nkept == MAX_KEPT || !(kept[nkept].rel = strdup(rel)))
    return -1;
  kept[nkept++].fd = dirfd;
  return 0;
}

/* The store folder: its kept descriptor when read-only, else walked from
 * /mnt/memory. */
static int
store_dir(const char *rel, int create)
{
  char buf[PATH_MAX], *comp[MAX_DEPTH];
  int i, n, top, fd;

  for(i = 0; i < nkept; i++)
    if(!strcmp(kept[i].rel, rel))
      return dup(kept[i].fd);
  if(strlen(rel) >= sizeof(buf)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(buf, rel);
  n = path_split(buf, comp, MAX_DEPTH, 0);
  if(n <= 0) {
    errno = n < 0 ? errno : EINVAL;
    return -1;
  }
  top = open(MEMORY_ROOT, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(top < 0)
    return -1;
  fd = open_dirs_beneath(top, comp, n, create);
  close(top);
  return fd;
}

/* The directory holding path's leaf, and the leaf; -1 on a bad path. */
static int
parent_of(int base, const char *path, char *buf, size_t cap, const char **leaf, int create)
{
  char *comp[MAX_DEPTH];
  int n;

  if(strlen(path) >= cap) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(buf, path);
  n = path_split(buf, comp, MAX_DEPTH, 0);
  if(n <= 0) {
    errno = n < 0 ? errno : EINVAL;
    return -1;
  }
  *leaf = comp[n - 1];
  return open_dirs_beneath(base, comp, n - 1, create);
}

/* Strings, not numbers: a time in nanoseconds does not fit a double, and
 * cJSON prints a double it cannot round-trip within its tolerance (about
 * one time in twenty here), so a stat sent to the drainer and back would
 * not match the file's own, and a memory deleted remotely would be held
 * as "changed since the scan" at every sync. */
static cJSON *
stat_json(const struct stat *st)
{
  char v[4][48];
  cJSON *o = cJSON_CreateObject();

  snprintf(v[0], sizeof(v[0]), "%lld", (long long)st->st_size);
  snprintf(v[1], sizeof(v[1]), "%lld.%09ld", (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
  snprintf(v[2], sizeof(v[2]), "%lld.%09ld", (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
  snprintf(v[3], sizeof(v[3]), "%llu", (unsigned long long)st->st_ino);
  if(o && (!cJSON_AddStringToObject(o, "size", v[0]) || !cJSON_AddStringToObject(o, "mtime", v[1]) ||
           !cJSON_AddStringToObject(o, "ctime", v[2]) || !cJSON_AddStringToObject(o, "ino", v[3]))) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static int
same_stat(const struct stat *st, const cJSON *want)
{
  cJSON *now = stat_json(st), *k;
  int same = now && cJSON_IsObject(want);

  cJSON_ArrayForEach(k, now) {
    const char *w = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, k->string));

    if(same && (!w || strcmp(w, k->valuestring)))
      same = 0;
  }
  cJSON_Delete(now);
  return same;
}

static cJSON *
fail(cJSON *out, const char *what, int err)
{
  char msg[256];

  snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
  cJSON_AddBoolToObject(out, "is_error", 1);
  cJSON_AddStringToObject(out, "error", msg);
  return out;
}

static int
put(int dir, const char *leaf, const char *data, size_t len, struct stat *st)
{
  char tmp[64];
  int fd, e;

  snprintf(tmp, sizeof(tmp), TMP_PREFIX "%d", (int)getpid());
  unlinkat(dir, tmp, 0);        /* whatever the agent may have put there */
  fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if(fd < 0)
    return -1;
  /* Written aside and renamed in, so the agent never reads half a memory. */
  if(write_all(fd, data, len) < 0 || fchmod(fd, 0644) < 0 || close(fd) < 0 ||
     renameat(dir, tmp, dir, leaf) < 0) {
    e = errno;
    unlinkat(dir, tmp, 0);
    errno = e;
    return -1;
  }
  return fstatat(dir, leaf, st, AT_SYMLINK_NOFOLLOW);
}

/* UTF-8 without NUL: what a memory's content can be. */
static int
text_ok(const char *p, size_t len)
{
  return !memchr(p, '\0', len) && utf8_valid(p, len);
}

struct scan {
  cJSON *files;
  int count;
};

/* Our temporary files and the store's marker are not the store's files. */
static int
on_file(int dirfd, const char *name, const char *rel, const struct stat *st, void *ctx)
{
  struct scan *sc = ctx;
  cJSON *o;

  (void)dirfd;
  if(!strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) || !strcmp(rel, MEMORY_MARKER))
    return 0;
  if(++sc->count > MAX_FILES)
    return 1;
  o = stat_json(st);
  if(!o)
    return 1;
  cJSON_AddStringToObject(o, "path", rel);
  cJSON_AddItemToArray(sc->files, o);
  return 0;
}

/* Opens leaf for reading only if it is a regular file, checked on the
 * open descriptor: a FIFO or device the agent swapped in after the listing
 * can neither block this process (O_NONBLOCK) nor be read (EINVAL). */
static int
open_regular(int dir, const char *leaf)
{
  int fd = openat(dir, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  struct stat st;

  if(fd < 0)
    return -1;
  if(fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    errno = EINVAL;
    return -1;
  }
  return fd;
}

static void
read_marker(int dir, cJSON *out)
{
  char buf[256];
  int fd = open_regular(dir, MEMORY_MARKER);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

  if(fd >= 0)
    close(fd);
  if(n >= 0) {
    buf[n] = '\0';
    cJSON_AddStringToObject(out, "marker", buf);
  }
}

/* The request's store folder, opened (created with create); -1 when it
 * cannot be, the reason then in out. */
static int
store_of(const cJSON *req, cJSON *out, int create)
{
  const char *root = json_str(req, "root");
  int base;

  if(!root) {
    cJSON_AddBoolToObject(out, "is_error", 1);
    cJSON_AddStringToObject(out, "error", "no store root");
    return -1;
  }
  base = store_dir(root, create);
  if(base < 0)
    fail(out, root, errno);
  return base;
}

static const char *
req_path(const cJSON *req)
{
  return json_str(req, "path");
}

cJSON *
memstore_files_scan(const cJSON *req)
{
  cJSON *out = cJSON_CreateObject(), *files;
  const char *root = json_str(req, "root");
  AUTO_FD int base = -1;

  if(!out)
    return NULL;
  if(!root)
    return fail(out, "no store root", EINVAL);
  /* A store not there yet is an answer ("exists": false), not an error. */
  base = store_dir(root, 0);
  files = cJSON_AddArrayToObject(out, "files");
  cJSON_AddBoolToObject(out, "exists", base >= 0);
  if(base >= 0 && files) {
    /* A listing that is not whole would read as deletions: say so. */
    struct walk_limits lim = { 4L * MAX_FILES, MAX_DEPTH, 0, 0 };
    struct scan sc = { files, 0 };

    read_marker(base, out);
    if(walk_tree(base, &lim, on_file, &sc) != WALK_WHOLE)
      cJSON_AddBoolToObject(out, "partial", 1);
  }
  return out;
}

cJSON *
memstore_files_prepare(const cJSON *req)
{
  const char *marker = json_str(req, "marker");
  cJSON *out = cJSON_CreateObject();
  struct stat st;
  AUTO_FD int base = -1;

  if(!out || (base = store_of(req, out, 1)) < 0)
    return out;
  if(!marker || put(base, MEMORY_MARKER, marker, strlen(marker), &st) < 0)
    fail(out, "write the marker", errno);
  return out;
}

cJSON *
memstore_files_read(const cJSON *req)
{
  cJSON *out = cJSON_CreateObject(), *files, *errors;
  char buf[PATH_MAX];
  const cJSON *p;
  const char *leaf;
  AUTO_FD int base = -1;

  if(!out || (base = store_of(req, out, 0)) < 0)
    return out;
  files = cJSON_AddObjectToObject(out, "files");
  errors = cJSON_AddObjectToObject(out, "errors");
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(req, "paths")) {
    AUTO_FREE char *data = NULL;
    AUTO_FD int fd = -1;
    AUTO_FD int dir = -1;
    size_t len = 0;
    const char *why = NULL;

    if(!cJSON_IsString(p))
      continue;
    dir = parent_of(base, p->valuestring, buf, sizeof(buf), &leaf, 0);
    if(dir >= 0)
      fd = open_regular(dir, leaf);
    if(fd < 0)
      why = errno == ENOENT ? "gone" : errno == EINVAL ? "not a regular file" : strerror(errno);
    else if(read_fd(fd, READ_CAP, &data, &len) < 0)
      why = errno == EFBIG ? "too large" : strerror(errno);
    else if(!text_ok(data, len))
      why = "not UTF-8 text";
    if(why)
      cJSON_AddStringToObject(errors, p->valuestring, why);
    else
      cJSON_AddStringToObject(files, p->valuestring, data);
  }
  return out;
}

cJSON *
memstore_files_write(const cJSON *req)
{
  const char *content = json_str(req, "content");
  const char *path = req_path(req), *leaf;
  cJSON *out = cJSON_CreateObject();
  char buf[PATH_MAX];
  struct stat st;
  AUTO_FD int base = -1;
  AUTO_FD int dir = -1;

  if(!out || (base = store_of(req, out, 0)) < 0)
    return out;
  dir = path && content ? parent_of(base, path, buf, sizeof(buf), &leaf, 1) : -1;
  if(dir < 0 || put(dir, leaf, content, strlen(content), &st) < 0)
    fail(out, path ? path : "no path", errno);
  else
    cJSON_AddItemToObject(out, "stat", stat_json(&st));
  return out;
}

cJSON *
memstore_files_remove(const cJSON *req)
{
  const char *path = req_path(req), *leaf;
  cJSON *out = cJSON_CreateObject();
  char buf[PATH_MAX];
  struct stat st;
  AUTO_FD int base = -1;
  AUTO_FD int dir = -1;

  if(!out || (base = store_of(req, out, 0)) < 0)
    return out;
  dir = path ? parent_of(base, path, buf, sizeof(buf), &leaf, 0) : -1;
  if(dir < 0 || fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
    cJSON_AddBoolToObject(out, "gone", 1);
  else if(!same_stat(&st, cJSON_GetObjectItemCaseSensitive(req, "stat")))
    cJSON_AddItemToObject(out, "stat", stat_json(&st));
  else if(unlinkat(dir, leaf, 0) < 0)
    fail(out, path, errno);
  else
    cJSON_AddBoolToObject(out, "removed", 1);
  return out;
}
