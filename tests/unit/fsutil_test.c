/* remove_tree_at: links removed, never followed; depth bounded by neither
 * the stack nor the descriptor table; a mount inside stops it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
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
  is_int(remove_tree(top), 0, "remove_tree by path, for trees the host alone writes");
  ok(stat(top, &st) < 0 && errno == ENOENT, "the top is gone");
  close(t);
  return tap_done();
}
