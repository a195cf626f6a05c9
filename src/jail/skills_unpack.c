#include "jail/skills_unpack.h"
#include "common/fsutil.h"
#include "common/errmsg.h"

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 64

/* libarchive is opened only when a skill is unpacked: linked in, it brings
 * libxml2 and ICU into every jail start, which costs milliseconds per tool
 * call session for a library most jails never use. */
#define ARCHIVE_SONAME "libarchive.so.13"
#define ARCHIVE_FUNCS(X)                                                       \
  X(struct archive *, archive_read_new, (void))                                \
  X(int, archive_read_support_format_zip, (struct archive *))                  \
  X(int, archive_read_support_format_tar, (struct archive *))                  \
  X(int, archive_read_support_filter_gzip, (struct archive *))                 \
  X(int, archive_read_support_filter_bzip2, (struct archive *))                \
  X(int, archive_read_support_filter_xz, (struct archive *))                   \
  X(int, archive_read_open_fd, (struct archive *, int, size_t))                \
  X(int, archive_read_free, (struct archive *))                                \
  X(int, archive_read_next_header, (struct archive *, struct archive_entry **)) \
  X(int, archive_read_data_skip, (struct archive *))                           \
  X(int, archive_read_data_block, (struct archive *, const void **, size_t *,  \
                                   la_int64_t *))                              \
  X(const char *, archive_error_string, (struct archive *))                    \
  X(const char *, archive_entry_pathname, (struct archive_entry *))            \
  X(int, archive_entry_size_is_set, (struct archive_entry *))                  \
  X(la_int64_t, archive_entry_size, (struct archive_entry *))                  \
  X(__LA_MODE_T, archive_entry_filetype, (struct archive_entry *))             \
  X(const char *, archive_entry_hardlink, (struct archive_entry *))            \
  X(__LA_MODE_T, archive_entry_perm, (struct archive_entry *))

#define DECLARE(ret, name, args) static ret (*la_##name) args;
ARCHIVE_FUNCS(DECLARE)
#undef DECLARE

static int
load_libarchive(void)
{
  static void *lib;

  if(lib)
    return 0;
  lib = dlopen(ARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
  if(!lib)
    return -1;
#define LOAD(ret, name, args)                                                  \
  if(!(*(void **)&la_##name = dlsym(lib, #name))) {                            \
    dlclose(lib);                                                              \
    lib = NULL;                                                                \
    return -1;                                                                 \
  }
  ARCHIVE_FUNCS(LOAD)
#undef LOAD
  return 0;
}


struct member {
  char *comp[MAX_DEPTH];
  int n;
  char buf[PATH_MAX];
};

/* A member's name as logged: quotes, backslashes and control bytes become
 * '?', so a hostile name cannot break the log line's quoting. */
static const char *
shown(const char *name, char *buf, size_t cap)
{
  size_t i;

  if(!name)
    return "?";
  for(i = 0; name[i] && i + 1 < cap; i++)
    buf[i] = (name[i] == '"' || name[i] == '\\' || (unsigned char)name[i] < 0x20) ? '?' : name[i];
  buf[i] = '\0';
  return buf;
}

static struct archive *
open_archive(int fd)
{
  struct archive *a = la_archive_read_new();

  if(!a)
    return NULL;
  if(lseek(fd, 0, SEEK_SET) < 0 ||
     la_archive_read_support_format_zip(a) != ARCHIVE_OK ||
     la_archive_read_support_format_tar(a) != ARCHIVE_OK ||
     la_archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
     la_archive_read_support_filter_bzip2(a) != ARCHIVE_OK ||
     la_archive_read_support_filter_xz(a) != ARCHIVE_OK ||
     la_archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
    la_archive_read_free(a);
    return NULL;
  }
  return a;
}

/* Splits a member's name into components; 0, or -1 for a name that points
 * outside (absolute, "..") or cannot be handled. */
static int
split(struct archive_entry *e, struct member *m, const char **why)
{
  const char *name = la_archive_entry_pathname(e);

  m->n = 0;
  if(!name || !*name || strlen(name) >= sizeof(m->buf)) {
    *why = "an unreadable or overlong name";
    return -1;
  }
  if(name[0] == '/') {
    *why = "an absolute path";
    return -1;
  }
  strcpy(m->buf, name);
  m->n = path_split(m->buf, m->comp, MAX_DEPTH, 1);
  if(m->n < 0) {
    *why = errno == ENAMETOOLONG ? "too deep a path" : "a '..' component";
    m->n = 0;
    return -1;
  }
  return 0;
}

static void
refuse(cJSON *refused, const char *entry, const char *reason)
{
  cJSON *o = cJSON_CreateObject();
  char sbuf[256];

  if(!o)
    return;
  cJSON_AddStringToObject(o, "entry", shown(entry, sbuf, sizeof(sbuf)));
  cJSON_AddStringToObject(o, "reason", reason);
  cJSON_AddItemToArray(refused, o);
}

/* One pass over the archive: every member's name is split (an absolute or
 * ".." one fails the pass) and handed to visit, which returns -1 to stop
 * with err set.  The pass fails too on a damaged archive. */
typedef int (*visit_fn)(struct archive *a, struct archive_entry *e, const struct member *m,
                        void *ctx, struct errmsg *err);

static int
each_member(int fd, visit_fn visit, void *ctx, struct errmsg *err)
{
  struct archive *a = open_archive(fd);
  struct archive_entry *e;
  struct member m;
  const char *why;
  char sbuf[256];
  int rc;

  if(!a) {
    errmsg_set(err, "not a zip or tar archive");
    return -1;
  }
  while((rc = la_archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    if(split(e, &m, &why) < 0) {
      errmsg_set(err, "member '%s' has %s",
          shown(la_archive_entry_pathname(e), sbuf, sizeof(sbuf)), why);
      break;
    }
    if(visit(a, e, &m, ctx, err) < 0)
      break;
  }
  if(rc != ARCHIVE_OK && rc != ARCHIVE_EOF)
    errmsg_set(err, "archive unreadable: %s", la_archive_error_string(a) ?
        la_archive_error_string(a) : "truncated");
  la_archive_read_free(a);
  return rc == ARCHIVE_EOF ? 0 : -1;
}

/* The first pass, headers only: the limits, and the wrapper directory. */
struct scan {
  const struct unpack_limits *lim;
  long entries;
  long long bytes;
  char top[NAME_MAX + 1];
  int wrapped, nested;
};

static int
scan_member(struct archive *a, struct archive_entry *e, const struct member *m, void *ctx,
            struct errmsg *err)
{
  struct scan *sc = ctx;

  if(++sc->entries > sc->lim->max_entries) {
    errmsg_set(err, "more than %ld entries", sc->lim->max_entries);
    return -1;
  }
  if(la_archive_entry_size_is_set(e)) {
    la_int64_t size = la_archive_entry_size(e);

    /* Compared before it is added: a header's size is anything up to
     * INT64_MAX, and bytes never passes max_bytes. */
    if(size < 0 || size > sc->lim->max_bytes - sc->bytes) {
      errmsg_set(err, "more than %lld bytes unpacked", sc->lim->max_bytes);
      return -1;
    }
    sc->bytes += size;
  }
  if(m->n == 0)
    return 0;
  if(!sc->top[0])
    snprintf(sc->top, sizeof(sc->top), "%s", m->comp[0]);
  /* A wrapper holds everything, and something; a plain file at the top
   * means none. */
  if(strcmp(sc->top, m->comp[0]) || (m->n == 1 && la_archive_entry_filetype(e) != AE_IFDIR))
    sc->wrapped = 0;
  if(m->n > 1)
    sc->nested = 1;
  la_archive_read_data_skip(a);
  return 0;
}

static int
write_member(struct archive *a, struct archive_entry *e, int dirfd, const char *leaf,
             long long *bytes, const struct unpack_limits *lim, struct errmsg *err)
{
  int fd = openat(dirfd, leaf, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  const void *buf;
  size_t size;
  la_int64_t off;
  int rc;
  char sbuf[256];

  if(fd < 0) {
    errmsg_set(err, "cannot create '%s': %s", shown(leaf, sbuf, sizeof(sbuf)), strerror(errno));
    return -1;
  }
  while((rc = la_archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
    *bytes += (long long)size;
    if(*bytes > lim->max_bytes) {
      errmsg_set(err, "more than %lld bytes unpacked", lim->max_bytes);
      goto fail;
    }
    if(pwrite(fd, buf, size, off) != (ssize_t)size) {
      errmsg_set(err, "cannot write '%s': %s", shown(leaf, sbuf, sizeof(sbuf)), strerror(errno));
      goto fail;
    }
  }
  if(rc != ARCHIVE_EOF) {
    errmsg_set(err, "archive unreadable: %s", la_archive_error_string(a) ?
        la_archive_error_string(a) : "truncated");
    goto fail;
  }
  if(fchmod(fd, la_archive_entry_perm(e) & 0111 ? 0755 : 0644) < 0) {
    errmsg_set(err, "chmod '%s': %s", shown(leaf, sbuf, sizeof(sbuf)), strerror(errno));
    goto fail;
  }
  close(fd);
  return 0;
fail:
  close(fd);
  return -1;
}

/* The second pass: files and directories below the target, the rest
 * refused one by one. */
struct extract {
  const struct unpack_limits *lim;
  int target, strip;
  long long bytes;
  long files;
  cJSON *refused;
};

static int
extract_member(struct archive *a, struct archive_entry *e, const struct member *m, void *ctx,
               struct errmsg *err)
{
  struct extract *x = ctx;
  const char *name = la_archive_entry_pathname(e);
  mode_t type = la_archive_entry_filetype(e);
  char *const *comp = m->comp + (x->strip ? 1 : 0);
  int n = m->n - (x->strip ? 1 : 0), dir, rc = 0;
  char sbuf[256];

  if(n <= 0)
    return 0;
  if(la_archive_entry_hardlink(e)) {
    refuse(x->refused, name, "hard link");
    return 0;
  }
  if(type == AE_IFLNK) {
    refuse(x->refused, name, "symbolic link");
    return 0;
  }
  if(type != AE_IFDIR && type != AE_IFREG) {
    refuse(x->refused, name, "device or special file");
    return 0;
  }
  dir = open_dirs_beneath(x->target, comp, type == AE_IFDIR ? n : n - 1, 1);
  if(dir < 0) {
    errmsg_set(err, "cannot create the directory of '%s': %s", shown(name, sbuf, sizeof(sbuf)),
        strerror(errno));
    return -1;
  }
  if(type == AE_IFREG) {
    rc = write_member(a, e, dir, comp[n - 1], &x->bytes, x->lim, err);
    x->files += rc == 0;
  }
  close(dir);
  return rc;
}

static int
valid_name(const char *name)
{
  return *name && strlen(name) <= NAME_MAX && !strchr(name, '/') && strcmp(name, ".") &&
         strcmp(name, "..");
}

/* Removes relative to skills_dir, opened without following a link, so a
 * link planted in its place cannot redirect the removal. */
int
unpack_remove(const char *skills_dir, const char *name)
{
  int dir, rc, e;

  if(!valid_name(name)) {
    errno = EINVAL;
    return -1;
  }
  dir = open(skills_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(dir < 0)
    return errno == ENOENT ? 0 : -1;
  rc = remove_tree_at(dir, name);
  e = errno;
  close(dir);
  errno = e;
  return rc;
}

long
unpack_skill(int archive_fd, const char *skills_dir, const char *name,
             const struct unpack_limits *lim, cJSON *refused, struct errmsg *err)
{
  struct scan sc = { lim, 0, 0, "", 1, 0 };
  struct extract x = { lim, -1, 0, 0, 0, refused };
  int parent, target, rc;

  if(!valid_name(name)) {
    errmsg_set(err, "unusable skill directory name");
    return -1;
  }
  if(load_libarchive() < 0) {
    errmsg_set(err, "cannot load %s: %s", ARCHIVE_SONAME, dlerror());
    return -1;
  }
  if(each_member(archive_fd, scan_member, &sc, err) < 0)
    return -1;
  if(mkdir(skills_dir, 0700) < 0 && errno != EEXIST) {
    errmsg_set(err, "cannot create %s: %s", skills_dir, strerror(errno));
    return -1;
  }
  parent = open(skills_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(parent < 0) {
    errmsg_set(err, "%s is not a directory (a link?): %s", skills_dir, strerror(errno));
    return -1;
  }
  if(unpack_remove(skills_dir, name) < 0 ||
     (mkdirat(parent, name, 0700) < 0 && errno != EEXIST) ||
     (target = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
    errmsg_set(err, "cannot make %s/%s: %s", skills_dir, name, strerror(errno));
    close(parent);
    return -1;
  }
  close(parent);
  x.target = target;
  x.strip = sc.top[0] && sc.wrapped && sc.nested;
  rc = each_member(archive_fd, extract_member, &x, err);
  close(target);
  if(rc < 0) {
    unpack_remove(skills_dir, name);
    return -1;
  }
  return x.files;
}
