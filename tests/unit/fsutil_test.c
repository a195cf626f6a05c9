/* remove_tree_at: links removed, never followed; depth bounded by neither
 * the stack nor the descriptor table; a mount inside stops it.
 * write_file_atomic: a reader sees the old file or the new one whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "tap.h"

#define DEPTH 3000

static void
touch(int dir, const char *name)
{
  int fd = openat(dir, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

  if(fd >= 0)
    close(fd);
}

/* The directory's entries other than . and .., counted. */
static int
entries(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *de;
  int n = 0;

  while(d && (de = readdir(d)))
    n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
  if(d)
    closedir(d);
  return n;
}

static ssize_t
read_at(const char *path, char *buf, size_t cap)
{
  int fd = open(path, O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, buf, cap) : -1;

  if(fd >= 0)
    close(fd);
  return n;
}

#define ROUNDS 2000

static void
check_replace(const char *top)
{
  static char small[100], big[3000], got[4096];
  char dir[4096], path[4096 + 16];
  struct stat st, old;
  int i, torn = 0, held, status;
  ssize_t n;
  pid_t pid;

  snprintf(dir, sizeof(dir), "%s/replace", top);
  snprintf(path, sizeof(path), "%s/status", dir);
  mkdir(dir, 0700);
  is_int(write_file_atomic(path, "first", 5, 0640), 0, "write_file_atomic makes a new file");
  n = read_at(path, got, sizeof(got));
  ok(n == 5 && !memcmp(got, "first", 5) && stat(path, &old) == 0 && (old.st_mode & 0777) == 0640,
     "with its contents and mode");
  held = open(path, O_RDONLY);
  is_int(write_file_atomic(path, "second one", 10, 0644), 0, "and replaces an existing one");
  n = read_at(path, got, sizeof(got));
  ok(n == 10 && !memcmp(got, "second one", 10) && stat(path, &st) == 0 && st.st_ino != old.st_ino,
     "whole, by another file");
  n = pread(held, got, sizeof(got), 0);
  ok(n == 5 && !memcmp(got, "first", 5), "a reader that opened the old file still reads it whole");
  close(held);
  is_int(entries(dir), 1, "no temporary file is left beside it");

  /* A writer alternating two sizes against a reader: every read is one of
   * them whole.  Bounded by count, not time. */
  memset(small, 's', sizeof(small));
  memset(big, 'b', sizeof(big));
  pid = fork();
  if(pid == 0) {
    for(i = 0; i < ROUNDS; i++)
      if(write_file_atomic(path, i % 2 ? big : small, i % 2 ? sizeof(big) : sizeof(small), 0644) < 0)
        _exit(1);
    _exit(0);
  }
  for(i = 0; i < ROUNDS; i++) {
    n = read_at(path, got, sizeof(got));
    if(!((n == sizeof(small) && !memcmp(got, small, sizeof(small))) ||
         (n == sizeof(big) && !memcmp(got, big, sizeof(big))) ||
         (n == 10 && !memcmp(got, "second one", 10))))
      torn++;
  }
  ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
     "a writer replaced the file %d times", ROUNDS);
  is_int(torn, 0, "and none of %d reads meanwhile saw a part of one or a mix", ROUNDS);
  is_int(entries(dir), 1, "nor is a temporary file left");

  /* A directory in the file's place stays, and the write fails. */
  snprintf(path, sizeof(path), "%s/adir", dir);
  mkdir(path, 0700);
  ok(write_file_atomic(path, "x", 1, 0644) < 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
     entries(dir) == 2, "a directory in its place is left there, and the write fails");
  rmdir(path);
}

static void
check_paths(void)
{
  static const struct { const char *in, *trimmed, *parent; } cases[] = {
    { "/a/b/", "/a/b", "/a" }, { "/a//", "/a", "/" }, { "/", "/", "/" }, { "///", "/", "/" },
    { "b", "b", "." }, { "b/", "b", "." }, { "a/b", "a/b", "a" },
  };

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char buf[16];

    snprintf(buf, sizeof(buf), "%s", cases[i].in);
    path_trim_slashes(buf);
    is_str(buf, cases[i].trimmed, "path_trim_slashes(\"%s\")", cases[i].in);
    path_parent(buf);
    is_str(buf, cases[i].parent, "  ...and its parent");
  }
}

int
main(void)
{
  char top[] = "/tmp/sandhook-fsutil-XXXXXX", path[4096];
  int t, fd, i, next;
  struct stat st;

  if(!mkdtemp(top))
    return 99;
  t = open(top, O_RDONLY | O_DIRECTORY);
  /* outside/keep must survive links to it from inside the tree. */
  mkdirat(t, "outside", 0700);
  fd = openat(t, "outside", O_RDONLY | O_DIRECTORY);
  touch(fd, "keep");
  close(fd);
  mkdirat(t, "tree", 0700);
  fd = openat(t, "tree", O_RDONLY | O_DIRECTORY);
  snprintf(path, sizeof(path), "%s/outside", top);
  symlinkat(path, fd, "link");
  symlinkat("../outside/keep", fd, "filelink");
  mkfifoat(fd, "fifo", 0600);
  /* A chain deeper than any path: built and walked one level at a time. */
  for(i = 0; i < DEPTH && fd >= 0; i++) {
    touch(fd, "f");
    symlinkat(path, fd, "up");
    if(mkdirat(fd, "d", 0700) < 0)
      break;
    next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
    close(fd);
    fd = next;
  }
  if(fd >= 0)
    close(fd);
  is_int(i, DEPTH, "a tree %d levels deep was built", DEPTH);
  is_int(remove_tree_at(t, "tree"), 0, "the deep tree is removed");
  ok(fstatat(t, "tree", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT, "nothing of it is left");
  ok(fstatat(t, "outside/keep", &st, 0) == 0, "what its links pointed at is untouched");
  is_int(remove_tree_at(t, "tree"), 0, "a missing tree is success");

  symlinkat(path, t, "toplink");
  is_int(remove_tree_at(t, "toplink"), 0, "a link in the tree's place is removed");
  ok(fstatat(t, "toplink", &st, AT_SYMLINK_NOFOLLOW) < 0 && fstatat(t, "outside/keep", &st, 0) == 0,
     "and not followed");

  /* A mount inside (possible only with privileges) is never crossed. */
  mkdirat(t, "m", 0700);
  mkdirat(t, "m/mnt", 0700);
  snprintf(path, sizeof(path), "%s/m/mnt", top);
  if(mount("tmpfs", path, "tmpfs", 0, "size=1m") == 0) {
    fd = open(path, O_RDONLY | O_DIRECTORY);
    touch(fd, "inside");
    close(fd);
    ok(remove_tree_at(t, "m") < 0 && errno == EBUSY, "a mount inside stops the removal (EBUSY)");
    ok(fstatat(t, "m/mnt/inside", &st, 0) == 0, "and nothing on the mount was removed");
    umount2(path, MNT_DETACH);
  }
  else
    printf("ok %d - # SKIP a mount inside: no privileges to mount (errno=%d)\n", ++tap_n, errno);
  check_replace(top);
  check_paths();
  is_int(remove_tree(top), 0, "remove_tree by path, for trees the host alone writes");
  ok(stat(top, &st) < 0 && errno == ENOENT, "the top is gone");
  close(t);
  return tap_done();
}
