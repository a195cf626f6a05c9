#include "front/seen.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/selfpid.h"
#include "common/statedir.h"

/* SHA256_Init and friends: the front links OpenSSL's SHA-256 alone (see
 * webhook.c's compute_mac). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "SHSEEN01"
#define BUCKET 64                       /* entries: 2 KiB, scanned whole */
#define MIN_BUCKETS 16u                 /* 32 KiB */
/* 128 MiB, four million ids: a 15-minute window of 4,600 new deliveries
 * a second.  Past that the window shortens for the ids evicted. */
#define MAX_BUCKETS (1u << 16)
#define BUCKET_FULL 2                   /* mark_locked: grow first */
/* A mark that leaves its bucket this full has the table doubled after the
 * response (seen_grow), so no delivery waits for a growth. */
#define GROW_AHEAD (BUCKET - BUCKET / 8)

struct entry {
  uint64_t key[3];                      /* the first 192 bits of SHA-256(id) */
  int64_t stamp;                        /* first seen, seconds; 0: free */
};

struct header {
  char magic[8];
  uint32_t entry_size, bucket_entries;
  uint64_t nbuckets;                    /* a power of two */
  uint64_t evicted;
  uint64_t reserved[4];
};

_Static_assert(sizeof(struct header) == 64, "the header is one cache line");
_Static_assert(sizeof(struct entry) == 32, "entries pack two to a cache line");

/* The table this process has mapped.  A FastCGI responder keeps it across
 * requests; a CGI one maps it once. */
static struct {
  struct header *h;
  size_t len;
  int fd;
  dev_t dev;
  ino_t ino;
  pid_t pid;
  int grow_ahead;                       /* a mark left its bucket GROW_AHEAD full */
  char path[PATH_MAX];
} tab = { .fd = -1 };

static size_t
table_len(uint64_t nbuckets)
{
  return sizeof(struct header) + nbuckets * BUCKET * sizeof(struct entry);
}

static int
table_valid(const struct header *h, size_t size)
{
  return !memcmp(h->magic, MAGIC, 8) && h->entry_size == sizeof(struct entry) &&
         h->bucket_entries == BUCKET && h->nbuckets >= MIN_BUCKETS &&
         h->nbuckets <= MAX_BUCKETS && !(h->nbuckets & (h->nbuckets - 1)) &&
         size == table_len(h->nbuckets);
}

static struct entry *
bucket_at(struct header *h, uint64_t i)
{
  return (struct entry *)(h + 1) + i * BUCKET;
}

static struct entry *
bucket_of(struct header *h, const uint64_t key[3])
{
  return bucket_at(h, key[0] & (h->nbuckets - 1));
}

/* A stamp further ahead of the clock than ttl was written under a wrong
 * clock, and would otherwise hold its id for as long. */
static int
live(int64_t stamp, time_t now, long ttl)
{
  return stamp != 0 && now - stamp < ttl && stamp - now < ttl;
}

static int
id_key(const char *id, uint64_t key[3])
{
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_CTX c;

  if(!SHA256_Init(&c) || !SHA256_Update(&c, id, strlen(id)) || !SHA256_Final(md, &c)) {
    errno = EIO;
    return -1;
  }
  memcpy(key, md, 3 * sizeof(key[0]));
  return 0;
}

/* Into a table no other process sees yet: 0, or -1 when its bucket is full. */
static int
put(struct header *h, const struct entry *x)
{
  struct entry *b = bucket_of(h, x->key);
  int i;

  for(i = 0; i < BUCKET; i++)
    if(b[i].stamp == 0) {
      b[i] = *x;
      return 0;
    }
  return -1;
}

/* A private table of nbuckets holding src's live entries (src NULL: none).
 * Doubling never overfills a bucket: bucket i's entries go to i or i + n. */
static struct header *
rehash(const struct header *src, uint64_t nbuckets, time_t now, long ttl)
{
  struct header *h = calloc(1, table_len(nbuckets));
  const struct entry *e;
  uint64_t i;

  if(!h)
    return NULL;
  memcpy(h->magic, MAGIC, 8);
  h->entry_size = sizeof(struct entry);
  h->bucket_entries = BUCKET;
  h->nbuckets = nbuckets;
  if(src) {
    h->evicted = src->evicted;
    e = (const struct entry *)(src + 1);
    for(i = 0; i < src->nbuckets * BUCKET; i++)
      if(live(e[i].stamp, now, ttl))
        put(h, &e[i]);
  }
  return h;
}

/* The store of earlier versions, one file per id whose mtime is its first
 * arrival, as a private table.  A directory that cannot be read is left
 * out: its ids were seen at most ttl ago. */
static struct header *
import_legacy(const char *dir, time_t now, long ttl)
{
  struct header *h = rehash(NULL, MIN_BUCKETS, now, ttl), *bigger;
  struct dirent *de;
  struct entry x;
  struct stat st;
  DIR *d;

  if(!h || !(d = opendir(dir)))
    return h;
  while(h && (de = readdir(d))) {
    if(de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
       !S_ISREG(st.st_mode) || !live(st.st_mtime, now, ttl) || id_key(de->d_name, x.key) < 0)
      continue;
    x.stamp = st.st_mtime;
    while(put(h, &x) < 0 && h->nbuckets < MAX_BUCKETS) {
      bigger = rehash(h, h->nbuckets * 2, now, ttl);
      free(h);
      if(!(h = bigger))
        break;
    }
  }
  closedir(d);
  return h;
}

/* Writes h whole beside path, synced: the new file's descriptor, open to
 * read and write, and its name in tmp; -1 with errno.  Written whole, never
 * grown with ftruncate: a sparse page of a shared mapping on a full
 * filesystem is SIGBUS at the first write, where a failed write is only an
 * error. */
static int
write_beside(const char *path, const struct header *h, char tmp[PATH_MAX])
{
  int fd, e, n = snprintf(tmp, PATH_MAX, "%s.%ld.new", path, (long)getpid());

  if(n < 0 || n >= PATH_MAX) {
    errno = ENAMETOOLONG;
    return -1;
  }
  fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if(fd < 0)
    return -1;
  if(write_all(fd, h, table_len(h->nbuckets)) < 0 || fsync(fd) < 0) {
    e = errno;
    close(fd);
    unlink(tmp);
    errno = e;
    return -1;
  }
  return fd;
}

/* h written beside path, then put in place: renamed over the table there
 * (replace), or linked where there is none yet, failing with EEXIST when
 * another process was first. */
static int
install(const char *path, struct header *h, int replace)
{
  char tmp[PATH_MAX];
  int fd = write_beside(path, h, tmp), rc, e;

  if(fd < 0)
    return -1;
  rc = close(fd);
  if(!rc)
    rc = replace ? rename(tmp, path) : link(tmp, path);
  e = errno;
  if(rc || !replace)
    unlink(tmp);
  errno = e;
  return rc;
}

static void
unmap_table(void)
{
  if(tab.h)
    munmap(tab.h, tab.len);
  if(tab.fd >= 0)
    close(tab.fd);
  tab.h = NULL;
  tab.fd = -1;
  tab.grow_ahead = 0;
  tab.path[0] = '\0';
}

/* A file at path that is no table of this version (cut short by a crash of
 * the host, or another layout) is replaced by an empty table, under its
 * lock so that one process does it.  0, or -1 with errno. */
static int
reset_table(int fd, const char *path, const struct stat *st)
{
  struct header *h;
  struct stat now;
  int rc = 0, e;

  if(flock(fd, LOCK_EX) < 0)
    return -1;
  if(stat(path, &now) == 0 && now.st_ino == st->st_ino && now.st_dev == st->st_dev) {
    log_warn("seen_store_reset", "path=%s size=%lld reason=%s", path, (long long)st->st_size,
             "not a duplicate table of this version; ids seen before count as new");
    h = rehash(NULL, MIN_BUCKETS, 0, 1);
    rc = h ? install(path, h, 1) : -1;
    free(h);
  }
  e = errno;
  flock(fd, LOCK_UN);
  errno = e;
  return rc;
}

/* Maps the table at path, creating it when create is set (else ENOENT).
 * 0 mapped, 1 try again (another process created or replaced it), -1 on an
 * error with errno. */
static int
map_table(const char *path, const char *state_dir, int create, time_t now, long ttl)
{
  char legacy[PATH_MAX];
  struct header *h = MAP_FAILED;
  struct stat st;
  int fd, rc;

  fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if(fd < 0) {
    if(errno != ENOENT || !create)
      return -1;
    if(statedir_path(legacy, sizeof(legacy), state_dir, STATEDIR_SEEN_LEGACY) < 0 ||
       mkdir_p(state_dir, 0700) < 0 || !(h = import_legacy(legacy, now, ttl)))
      return -1;
    rc = install(path, h, 0);
    free(h);
    if(rc == 0)
      remove_tree(legacy);
    return rc == 0 || errno == EEXIST ? 1 : -1;
  }
  if(fstat(fd, &st) < 0)
    goto fail;
  if((size_t)st.st_size >= sizeof(*h)) {
    h = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if(h == MAP_FAILED)
      goto fail;
  }
  if(h == MAP_FAILED || !table_valid(h, (size_t)st.st_size)) {
    if(h != MAP_FAILED)
      munmap(h, (size_t)st.st_size);
    rc = reset_table(fd, path, &st);
    close(fd);
    return rc < 0 ? -1 : 1;
  }
  tab.h = h;
  tab.len = (size_t)st.st_size;
  tab.fd = fd;
  tab.dev = st.st_dev;
  tab.ino = st.st_ino;
  tab.pid = self_pid();
  snprintf(tab.path, sizeof(tab.path), "%s", path);
  return 0;
fail:
  rc = errno;
  close(fd);
  errno = rc;
  return -1;
}

/* Locks the table of state_dir, mapping it first, or again when the file
 * at its path is no longer the one mapped (grown, reset or removed by
 * another process, or cut by hand).  0, or -1 with errno. */
static int
lock_table(const char *state_dir, int create, time_t now, long ttl)
{
  char path[PATH_MAX];
  struct stat st;
  int tries, rc;

  if(statedir_path(path, sizeof(path), state_dir, STATEDIR_SEEN_TABLE) < 0)
    return -1;
  for(tries = 0; tries < 32; tries++) {
    /* A child forked with the mapping shares its open file, and a flock
     * held through it would not keep the two apart: its own, then. */
    if(tab.h && (strcmp(tab.path, path) != 0 || tab.pid != self_pid()))
      unmap_table();
    if(!tab.h && (rc = map_table(path, state_dir, create, now, ttl)) != 0) {
      if(rc < 0)
        return -1;
      continue;
    }
    while((rc = flock(tab.fd, LOCK_EX)) < 0 && errno == EINTR)
      ;
    if(rc < 0)
      return -1;
    /* The size too: a table cut in place would be SIGBUS past its end. */
    if(stat(path, &st) == 0 && st.st_ino == tab.ino && st.st_dev == tab.dev &&
       (size_t)st.st_size == tab.len)
      return 0;
    flock(tab.fd, LOCK_UN);
    unmap_table();
  }
  errno = EAGAIN;
  return -1;
}

/* Under the lock: SEEN_NEW (marked), SEEN_DUPLICATE, or BUCKET_FULL. */
static int
mark_locked(const uint64_t key[3], time_t now, long ttl)
{
  struct entry *b = bucket_of(tab.h, key), *slot = NULL, *oldest = NULL;
  int64_t s;
  int i, others = 0;

  for(i = 0; i < BUCKET; i++) {
    s = __atomic_load_n(&b[i].stamp, __ATOMIC_ACQUIRE);
    if(s != 0 && !memcmp(b[i].key, key, sizeof(b[i].key))) {
      if(live(s, now, ttl))
        return SEEN_DUPLICATE;
      slot = &b[i];                     /* its own expired entry: one per id */
      continue;
    }
    if(!live(s, now, ttl)) {
      if(!slot)
        slot = &b[i];
    }
    else {
      others++;
      if(!oldest || s < oldest->stamp)
        oldest = &b[i];
    }
  }
  if(!slot) {
    if(tab.h->nbuckets < MAX_BUCKETS)
      return BUCKET_FULL;
    slot = oldest;
    tab.h->evicted++;
    /* Powers of two only: a host past the cap would log every delivery. */
    if(!(tab.h->evicted & (tab.h->evicted - 1)))
      log_warn("seen_store_full", "path=%s evicted=%llu first_seen_age_s=%lld", tab.path,
               (unsigned long long)tab.h->evicted, (long long)(now - oldest->stamp));
  }
  /* Free while its key changes; the stamp last, so a process killed
   * between the two leaves a free entry, never a wrong one. */
  __atomic_store_n(&slot->stamp, 0, __ATOMIC_RELEASE);
  memcpy(slot->key, key, sizeof(slot->key));
  __atomic_store_n(&slot->stamp, (int64_t)now, __ATOMIC_RELEASE);
  if(others + 1 >= GROW_AHEAD && tab.h->nbuckets < MAX_BUCKETS)
    tab.grow_ahead = 1;
  return SEEN_NEW;
}

/* Whether the file at the table's path is still the one mapped, whole. */
static int
table_current(void)
{
  struct stat st;

  return stat(tab.path, &st) == 0 && st.st_ino == tab.ino && st.st_dev == tab.dev &&
         (size_t)st.st_size == tab.len;
}

/* The grow lock: an OFD lock on the table's first byte, apart from the
 * flock that marks take, so a second full bucket waits for the grower while
 * every other mark goes on. */
static int
grow_lock(short type, int wait)
{
  struct flock l = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
  int rc;

  while((rc = fcntl(tab.fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &l)) < 0 && errno == EINTR)
    ;
  return rc;
}

/* With the grow lock held: the copies that growers killed before their
 * rename left beside the table (up to 128 MiB each), known by a pid that
 * is gone.  A reset or first table being written now has a live pid. */
static void
sweep_dead_copies(void)
{
  char dir[PATH_MAX], *slash;
  const char *base;
  struct dirent *de;
  size_t blen;
  DIR *d;

  snprintf(dir, sizeof(dir), "%s", tab.path);
  if(!(slash = strrchr(dir, '/')))
    return;
  *slash = '\0';
  base = tab.path + (slash - dir) + 1;
  blen = strlen(base);
  if(!(d = opendir(dir)))
    return;
  while((de = readdir(d))) {
    char *end;
    long pid;

    if(strncmp(de->d_name, base, blen) || de->d_name[blen] != '.')
      continue;
    pid = strtol(de->d_name + blen + 1, &end, 10);
    if(pid > 0 && end != de->d_name + blen + 1 && !strcmp(end, ".new") && pid != (long)getpid() &&
       kill((pid_t)pid, 0) < 0 && errno == ESRCH && unlinkat(dirfd(d), de->d_name, 0) == 0)
      log_info("seen_store_copy_removed", "path=%s/%s", dir, de->d_name);
  }
  closedir(d);
}

/* Under the flock: the buckets of the mapped table that changed since snap
 * (marks, forgets, a copy torn by a mark), refilled in the doubled table m
 * from the live ones.  Bucket i's entries go to i or i + n.  How many. */
static uint64_t
catch_up(struct header *m, struct header *snap, time_t now, long ttl)
{
  const size_t size = BUCKET * sizeof(struct entry);
  uint64_t n = tab.h->nbuckets, i, changed = 0;
  struct entry *b;
  int j;

  for(i = 0; i < n; i++) {
    b = bucket_at(tab.h, i);
    if(!memcmp(b, bucket_at(snap, i), size))
      continue;
    changed++;
    memset(bucket_at(m, i), 0, size);
    memset(bucket_at(m, i + n), 0, size);
    for(j = 0; j < BUCKET; j++)
      if(live(b[j].stamp, now, ttl))
        put(m, &b[j]);
  }
  m->evicted = tab.h->evicted;
  return changed;
}

/* Not under the flock: the table twice the size, built from a copy and
 * written while other processes go on marking, then brought up to date and
 * renamed over under the flock, which is held for a pass over memory where
 * it was held for the copy, the write and the sync (a third of a second at
 * 32 MiB here).  Waits for another grower when wait is set, else leaves
 * the growth to it.  0 when the table at the path is a new one (grown here
 * or by another process: mark again) or left to another, or -1 with errno. */
static int
grow(time_t now, long ttl, int wait)
{
  uint64_t n = tab.h->nbuckets, changed = 0;
  struct header *snap = NULL, *h = NULL, *m = MAP_FAILED;
  char tmp[PATH_MAX];
  int fd = -1, rc = -1, locked = 0, renamed = 0, e;

  tab.grow_ahead = 0;
  if(grow_lock(F_WRLCK, wait) < 0)
    return !wait && (errno == EAGAIN || errno == EACCES) ? 0 : -1;
  if(!table_current()) {
    rc = 0;
    goto out;
  }
  sweep_dead_copies();
  if(!(snap = malloc(tab.len)))
    goto out;
  memcpy(snap, tab.h, tab.len);
  if(!(h = rehash(snap, n * 2, now, ttl)) || (fd = write_beside(tab.path, h, tmp)) < 0)
    goto out;
  m = mmap(NULL, table_len(n * 2), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if(m == MAP_FAILED)
    goto out;
  while((rc = flock(tab.fd, LOCK_EX)) < 0 && errno == EINTR)
    ;
  if(rc < 0)
    goto out;
  locked = 1;
  /* Reset or removed meanwhile: this copy is of a table that is gone. */
  if(!table_current())
    goto out;
  changed = catch_up(m, snap, now, ttl);
  rc = rename(tmp, tab.path);
  if(rc == 0) {
    renamed = 1;
    log_info("seen_store_grown", "path=%s buckets=%llu changed_meanwhile=%llu", tab.path,
             (unsigned long long)n * 2, (unsigned long long)changed);
  }
out:
  e = errno;
  if(locked)
    flock(tab.fd, LOCK_UN);
  if(m != MAP_FAILED)
    munmap(m, table_len(n * 2));
  if(fd >= 0) {
    close(fd);
    if(!renamed)
      unlink(tmp);
  }
  grow_lock(F_UNLCK, 0);
  /* The old table goes now, after the response, not at the next mark. */
  if(renamed)
    unmap_table();
  free(h);
  free(snap);
  errno = e;
  return rc;
}

enum seen_mark
seen_mark(const char *state_dir, const char *id, long ttl, time_t now)
{
  uint64_t key[3];
  int rc;

  if(id_key(id, key) < 0)
    return SEEN_ERROR;
  do {
    if(lock_table(state_dir, 1, now, ttl) < 0)
      return SEEN_ERROR;
    rc = mark_locked(key, now, ttl);
    flock(tab.fd, LOCK_UN);
    if(rc == BUCKET_FULL && grow(now, ttl, 1) < 0)
      return SEEN_ERROR;
  } while(rc == BUCKET_FULL);
  return rc;
}

int
seen_grow_wanted(void)
{
  int wanted = tab.grow_ahead && tab.h && tab.pid == self_pid();

  tab.grow_ahead = 0;
  return wanted;
}

void
seen_grow(const char *state_dir, long ttl, time_t now)
{
  /* The table the mark asking for it was made in, mapped still or
   * inherited by this grower: replaced since, it has grown already. */
  dev_t dev = tab.dev;
  ino_t ino = tab.ino;
  int e;

  if(lock_table(state_dir, 0, now, ttl) == 0) {
    flock(tab.fd, LOCK_UN);
    if(tab.dev != dev || tab.ino != ino || grow(now, ttl, 0) == 0)
      return;
  }
  e = errno;
  log_warn("seen_store_grow_failed", "path=%s errno=%d error=%s", tab.path, e, strerror(e));
}

void
seen_forget(const char *state_dir, const char *id)
{
  uint64_t key[3];
  struct entry *b;
  int i;

  if(id_key(id, key) < 0 || lock_table(state_dir, 0, 0, 1) < 0)
    return;
  b = bucket_of(tab.h, key);
  for(i = 0; i < BUCKET; i++)
    if(b[i].stamp != 0 && !memcmp(b[i].key, key, sizeof(b[i].key)))
      __atomic_store_n(&b[i].stamp, 0, __ATOMIC_RELEASE);
  flock(tab.fd, LOCK_UN);
}
