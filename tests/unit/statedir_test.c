/* statedir: paths that do not fit are refused, and the wake counter counts
 * every bump exactly once, from many processes, whatever text it found. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/statedir.h"
#include "tap.h"

enum { PROCS = 4, BUMPS = 250 };

static void
put(const char *path, const char *text)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  if(fd >= 0) {
    if(write(fd, text, strlen(text)) < 0)
      perror("write");
    close(fd);
  }
}

/* The whole file, so that a tail left behind shows. */
static const char *
text_of(const char *path)
{
  static char buf[128];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

  if(fd >= 0)
    close(fd);
  buf[n > 0 ? n : 0] = '\0';
  return buf;
}

int
main(void)
{
  char top[] = "/tmp/sandhook-statedir-XXXXXX", path[4096], wake[4096], big[5000];
  int i, status, all = 1;
  pid_t kids[PROCS];

  if(!mkdtemp(top))
    return 99;
  is_int(statedir_path(path, sizeof(path), top, "run/slot.%d", 3), 0, "a path is built");
  ok(!strcmp(path + strlen(top), "/run/slot.3"), "as state_dir/rest (%s)", path);
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  ok(statedir_path(path, sizeof(path), top, "%s", big) < 0 && errno == ENAMETOOLONG,
     "one that does not fit is ENAMETOOLONG");
  ok(statedir_path(path, 8, top, "run") < 0 && errno == ENAMETOOLONG,
     "and so is a state_dir that does not fit");

  snprintf(path, sizeof(path), "%s/run", top);
  snprintf(wake, sizeof(wake), "%s/run/wake", top);
  mkdir(path, 0700);
  is_int(statedir_wake(top, 0), 0, "no counter yet reads 0");
  is_int(statedir_wake(top, 1), 1, "the first bump is 1");
  for(i = 2; i <= 10; i++)
    statedir_wake(top, 1);
  is_int(statedir_wake(top, 0), 10, "ten bumps read 10");
  is_str(text_of(wake), "10\n", "and the file holds exactly that, written in place");

  put(wake, "000000000000000000041\n");
  is_int(statedir_wake(top, 1), 42, "a longer text found (edited by hand) is read");
  is_str(text_of(wake), "42\n", "and its tail is cut, so no old digits are left");
  put(wake, "");
  is_int(statedir_wake(top, 1), 1, "an empty file counts from 0");

  for(i = 0; i < PROCS; i++) {
    kids[i] = fork();
    if(kids[i] == 0) {
      int k;

      for(k = 0; k < BUMPS; k++)
        if(statedir_wake(top, 1) < 0)
          _exit(1);
      _exit(0);
    }
  }
  for(i = 0; i < PROCS; i++)
    if(kids[i] < 0 || waitpid(kids[i], &status, 0) < 0 || !WIFEXITED(status) ||
       WEXITSTATUS(status))
      all = 0;
  ok(all, "%d processes bumped %d times each without an error", PROCS, BUMPS);
  is_int(statedir_wake(top, 0), 1 + PROCS * BUMPS, "no bump is lost to a race");
  snprintf(big, sizeof(big), "%d\n", 1 + PROCS * BUMPS);
  is_str(text_of(wake), big, "and the file holds the count alone");

  remove_tree(path);
  ok(statedir_wake(top, 1) < 0 && errno == ENOENT,
     "with no run directory the bump fails (ENOENT), it does not pretend");
  remove_tree(top);
  return tap_done();
}
