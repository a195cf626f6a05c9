/* The duplicate store: one winner per id among many concurrent processes
 * while the table grows, expiry, a process killed holding the lock, the
 * import of the old file-per-id store, a broken table, and a growth that
 * holds back only the marks of a full bucket. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "front/seen.h"
#include "tap.h"

#define PROCS 16
#define IDS 3000                        /* past the first table's 1,024: it grows */

static char dir[] = "/tmp/sandhook-seen-XXXXXX";

static void
id_of(char *buf, size_t cap, const char *prefix, int i)
{
  snprintf(buf, cap, "%s_%d", prefix, i);
}

static int
count_entries(const char *path)
{
  DIR *d = opendir(path);
  struct dirent *de;
  int n = 0;

  if(!d)
    return -1;
  while((de = readdir(d)))
    n += de->d_name[0] != '.';
  closedir(d);
  return n;
}

static off_t
table_size_in(const char *d)
{
  char path[512];
  struct stat st;

  snprintf(path, sizeof(path), "%s/seen.table", d);
  return stat(path, &st) == 0 ? st.st_size : -1;
}

static off_t
table_size(void)
{
  return table_size_in(dir);
}

/* The bytes of a table of n buckets of 64 entries of 32 bytes, and its
 * 64-byte header. */
static off_t
table_of(int n)
{
  return 64 + (off_t)n * 64 * 32;
}

/* The bucket of id in a table of n buckets, as seen.c files it: the first
 * 64 bits of SHA-256(id), in this machine's order. */
static unsigned
bucket(const char *id, unsigned n)
{
  unsigned char md[SHA256_DIGEST_LENGTH];
  uint64_t k;

  SHA256((const unsigned char *)id, strlen(id), md);
  memcpy(&k, md, sizeof(k));
  return (unsigned)(k & (n - 1));
}

/* The next id after *i named prefix_N whose bucket in a table of n is b
 * (in == 1) or is not (in == 0). */
static void
next_id(char *buf, size_t cap, const char *prefix, int *i, unsigned n, unsigned b, int in)
{
  do
    id_of(buf, cap, prefix, (*i)++);
  while((bucket(buf, n) == b) != in);
}

/* Whether /proc/locks shows a process waiting for a lock on inode ino. */
static int
lock_waiter(ino_t ino)
{
  char line[256], want[32];
  FILE *f = fopen("/proc/locks", "r");
  int found = 0;

  if(!f)
    return 0;
  snprintf(want, sizeof(want), ":%lu ", (unsigned long)ino);
  while(!found && fgets(line, sizeof(line), f))
    found = strstr(line, "->") && strstr(line, want);
  fclose(f);
  return found;
}

/* Every process marks every id, each in its own order; counts[i] is how
 * many took id i as new. */
static void
race(time_t now)
{
  int *counts = mmap(NULL, IDS * sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int p, i, errors = 0, once = 0, status, clean = 1;
  char id[64];

  if(counts == MAP_FAILED)
    exit(99);
  for(p = 0; p < PROCS; p++) {
    pid_t pid = fork();

    if(pid < 0)
      exit(99);
    if(pid == 0) {
      for(i = 0; i < IDS; i++) {
        int k = (i * 7919 + p * 104729) % IDS;      /* a different order each */
        enum seen_mark m;

        id_of(id, sizeof(id), "whe_race", k);
        m = seen_mark(dir, id, 900, now);
        if(m == SEEN_ERROR)
          _exit(2);
        if(m == SEEN_NEW)
          __atomic_add_fetch(&counts[k], 1, __ATOMIC_RELAXED);
      }
      _exit(0);
    }
  }
  while(wait(&status) > 0)
    clean &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
  for(i = 0; i < IDS; i++) {
    once += counts[i] == 1;
    errors += counts[i] != 1;
  }
  ok(clean, "%d processes marked %d ids each, every mark answered", PROCS, IDS);
  is_int(once, IDS, "each id was new to exactly one process (%d wrong)", errors);
  ok(table_size() > 64 + 16 * 64 * 32, "the table grew while they raced (%lld bytes)",
     (long long)table_size());
  for(i = errors = 0; i < IDS; i++) {
    id_of(id, sizeof(id), "whe_race", i);
    errors += seen_mark(dir, id, 900, now + 1) != SEEN_DUPLICATE;
  }
  is_int(errors, 0, "after the growth every id is still a duplicate");
  munmap(counts, IDS * sizeof(int));
}

/* A process killed with -9 at any point of its marks: the lock goes with
 * it, and what it marked stays marked. */
static void
killed(time_t now)
{
  int *done = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int i, dups = 0;
  pid_t pid;
  char id[64];

  if(done == MAP_FAILED || (pid = fork()) < 0)
    exit(99);
  if(pid == 0) {
    for(i = 0;; i++) {
      id_of(id, sizeof(id), "whe_killed", i);
      if(seen_mark(dir, id, 900, now) == SEEN_NEW)
        __atomic_store_n(done, i + 1, __ATOMIC_RELEASE);
    }
  }
  while(__atomic_load_n(done, __ATOMIC_ACQUIRE) < 500)
    usleep(1000);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  for(i = 0; i < *done; i++) {
    id_of(id, sizeof(id), "whe_killed", i);
    dups += seen_mark(dir, id, 900, now) == SEEN_DUPLICATE;
  }
  is_int(dups, *done, "a process killed with -9 while marking: its marks stay (%d)", *done);
  is_int(seen_mark(dir, "whe_after_kill", 900, now), SEEN_NEW, "  ...and the lock went with it");
  munmap(done, sizeof(int));
}

/* A bucket seven-eighths full asks for the growth after the response,
 * once; a full one waits for the grower holding the grow lock while marks
 * in other buckets go on, and a second grower leaves it to the first. */
static void
growth(time_t now)
{
  char d[] = "/tmp/sandhook-seen-grow-XXXXXX", id[64], path[600], dead[600], alive[600];
  struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
  int i = 0, k, wanted = 0, news = 0, dups = 0, fd, status, waited = 0, go[2];
  char c;
  struct stat st;
  pid_t pid;

  if(!mkdtemp(d))
    exit(99);
  for(k = 0; k < 55; k++) {
    next_id(id, sizeof(id), "whe_full", &i, 16, 3, 1);
    news += seen_mark(d, id, 900, now) == SEEN_NEW;
    wanted += seen_grow_wanted();
  }
  is_int(news, 55, "55 ids into one bucket of the first table are new");
  is_int(wanted, 0, "  ...and ask for no growth");
  next_id(id, sizeof(id), "whe_full", &i, 16, 3, 1);
  is_int(seen_mark(d, id, 900, now), SEEN_NEW, "the 56th...");
  ok(seen_grow_wanted(), "  ...asks for the table to grow after the response");
  ok(!seen_grow_wanted(), "  ...once");
  is_int(table_size_in(d), table_of(16), "  ...and the mark did not grow it");
  /* Copies left beside the table by a grower killed before its rename, and
   * one of a live process. */
  if((pid = fork()) < 0)
    exit(99);
  if(pid == 0)
    _exit(0);
  waitpid(pid, NULL, 0);
  snprintf(dead, sizeof(dead), "%s/seen.table.%ld.new", d, (long)pid);
  snprintf(alive, sizeof(alive), "%s/seen.table.1.new", d);
  if((fd = open(dead, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) < 0 || close(fd) < 0 ||
     (fd = open(alive, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) < 0 || close(fd) < 0)
    exit(99);
  /* A second grower for the same mark, started before the first renamed
   * (a delivery marked in the old table meanwhile): it waits here. */
  if(pipe(go) < 0 || (pid = fork()) < 0)
    exit(99);
  if(pid == 0) {
    close(go[1]);
    if(read(go[0], &c, 1) != 1)
      _exit(99);
    seen_grow(d, 900, now);
    _exit(0);
  }
  close(go[0]);
  seen_grow(d, 900, now);
  is_int(table_size_in(d), table_of(32), "seen_grow doubled it");
  ok(access(dead, F_OK) < 0 && access(alive, F_OK) == 0,
     "  ...and removed the copy a dead grower left, not a live process's");
  if(write(go[1], "g", 1) != 1 || waitpid(pid, &status, 0) != pid)
    exit(99);
  close(go[1]);
  is_int(table_size_in(d), table_of(32), "  ...and a grower asked for by a mark in the old table leaves the new one");
  for(k = i, i = 0, dups = 0; i < k;) {
    next_id(id, sizeof(id), "whe_full", &i, 16, 3, 1);
    dups += seen_mark(d, id, 900, now) == SEEN_DUPLICATE;
  }
  is_int(dups, 56, "  ...and every id in it is still a duplicate");

  /* Bucket 3 of the 32 full: 64 ids there, old ones and new. */
  for(i = 0, k = 0; k < 64;) {
    next_id(id, sizeof(id), "whe_full", &i, 32, 3, 1);
    k += seen_mark(d, id, 900, now) != SEEN_ERROR;
  }
  seen_grow_wanted();
  snprintf(path, sizeof(path), "%s/seen.table", d);
  if((fd = open(path, O_RDWR | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 || fcntl(fd, F_OFD_SETLK, &l) < 0)
    exit(99);
  next_id(id, sizeof(id), "whe_full", &i, 32, 3, 1);
  if((pid = fork()) < 0)
    exit(99);
  if(pid == 0) {
    close(fd);                          /* else its copy would hold our lock */
    _exit(seen_mark(d, id, 900, now) == SEEN_NEW ? 0 : 1);
  }
  for(k = 0; k < 30000 && !(waited = lock_waiter(st.st_ino)); k++)
    usleep(1000);
  ok(waited, "a mark into a full bucket waits for the grower's lock");
  for(k = 0, i = 0, news = 0; k < 50; k++) {
    next_id(id, sizeof(id), "whe_other", &i, 32, 3, 0);
    news += seen_mark(d, id, 900, now) == SEEN_NEW;
  }
  is_int(news, 50, "  ...while 50 marks into other buckets go on");
  seen_grow(d, 900, now);
  ok(waitpid(pid, &status, WNOHANG) == 0, "  ...and a second grower leaves the growth to the first");
  is_int(table_size_in(d), table_of(32), "  ...without growing it");
  close(fd);
  ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
     "when the grower lets go, the waiting mark grows the table and is new");
  is_int(table_size_in(d), table_of(64), "  ...in a table twice the size");
  for(k = 0, i = 0, dups = 0; k < 50; k++) {
    next_id(id, sizeof(id), "whe_other", &i, 32, 3, 0);
    dups += seen_mark(d, id, 900, now) == SEEN_DUPLICATE;
  }
  is_int(dups, 50, "  ...which holds the marks made while it waited");
  remove_tree(d);
}

int
main(void)
{
  char path[600], legacy[512];
  struct timespec ts[2];
  time_t now = time(NULL);
  int fd;

  if(!mkdtemp(dir))
    return 99;
  /* The store of earlier versions: one file per id, its mtime the arrival. */
  snprintf(legacy, sizeof(legacy), "%s/seen", dir);
  if(mkdir(legacy, 0700) < 0)
    return 99;
  snprintf(path, sizeof(path), "%s/whe_recent", legacy);
  if((fd = open(path, O_CREAT | O_WRONLY, 0600)) < 0)
    return 99;
  ts[0].tv_sec = ts[1].tv_sec = now - 10;
  ts[0].tv_nsec = ts[1].tv_nsec = 0;
  futimens(fd, ts);
  close(fd);
  snprintf(path, sizeof(path), "%s/whe_stale", legacy);
  if((fd = open(path, O_CREAT | O_WRONLY, 0600)) < 0)
    return 99;
  ts[0].tv_sec = ts[1].tv_sec = now - 2000;
  futimens(fd, ts);
  close(fd);

  is_int(seen_mark(dir, "whe_1", 900, now), SEEN_NEW, "first delivery is new");
  is_int(seen_mark(dir, "whe_recent", 900, now), SEEN_DUPLICATE,
         "an id the old file-per-id store held is imported: a duplicate");
  is_int(seen_mark(dir, "whe_stale", 900, now), SEEN_NEW, "  ...one past the TTL there is not");
  ok(access(legacy, F_OK) < 0, "  ...and the old store is removed");
  is_int(seen_mark(dir, "whe_1", 900, now + 10), SEEN_DUPLICATE, "second delivery is a duplicate");
  is_int(seen_mark(dir, "whe_1", 900, now + 901), SEEN_NEW, "after the TTL it counts as new");
  seen_forget(dir, "whe_1");
  is_int(seen_mark(dir, "whe_1", 900, now), SEEN_NEW, "forgotten ids are new again");
  is_int(seen_mark(dir, "whe_ahead", 900, now + 5000), SEEN_NEW, "a mark under a clock far ahead...");
  is_int(seen_mark(dir, "whe_ahead", 900, now), SEEN_NEW, "  ...does not hold its id once the clock is right");

  race(now);
  killed(now);
  growth(now);
  is_int(count_entries(dir), 1, "the state directory holds one file, not one per delivery");

  /* A table cut short (the host crashed while it grew, or an older layout). */
  snprintf(path, sizeof(path), "%s/seen.table", dir);
  if(truncate(path, 100) < 0)
    return 99;
  is_int(seen_mark(dir, "whe_2", 900, now), SEEN_NEW, "a broken table is replaced, and marks go on");
  is_int(seen_mark(dir, "whe_2", 900, now), SEEN_DUPLICATE, "  ...in the new table");
  if(unlink(path) < 0)
    return 99;
  is_int(seen_mark(dir, "whe_2", 900, now), SEEN_NEW,
         "a table removed while mapped: this process follows the file at the path");
  seen_forget(dir, "whe_missing");
  is_int(seen_mark(dir, "whe_missing", 900, now), SEEN_NEW, "forgetting an id never marked is harmless");
  remove_tree(dir);
  return tap_done();
}
