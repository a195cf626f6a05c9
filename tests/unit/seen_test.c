/* The duplicate store: one winner among concurrent processes, expiry. */
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "front/seen.h"
#include "tap.h"

int
main(void)
{
  char dir[] = "/tmp/sandhook-seen-XXXXXX";
  time_t now = time(NULL);
  int i, winners = 0, pipefd[2];

  if(!mkdtemp(dir))
    return 99;
  is_int(seen_mark(dir, "whe_1", 900, now), 0, "first delivery is new");
  is_int(seen_mark(dir, "whe_1", 900, now + 10), 1, "second delivery is a duplicate");
  is_int(seen_mark(dir, "whe_1", 900, now + 901), 0, "after the TTL it counts as new");
  seen_forget(dir, "whe_1");
  is_int(seen_mark(dir, "whe_1", 900, now), 0, "forgotten ids are new again");

  if(pipe(pipefd) < 0)
    return 99;
  for(i = 0; i < 16; i++) {
    if(fork() == 0) {
      char r = seen_mark(dir, "whe_race", 900, now) == 0 ? '1' : '0';

      if(write(pipefd[1], &r, 1) != 1)
        _exit(1);
      _exit(0);
    }
  }
  close(pipefd[1]);
  for(i = 0; i < 16; i++) {
    char r;

    if(read(pipefd[0], &r, 1) == 1 && r == '1')
      winners++;
  }
  while(wait(NULL) > 0)
    ;
  is_int(winners, 1, "16 concurrent processes: exactly one treats the id as new");

  is_int(seen_mark(dir, "whe_old", 900, now), 0, "marked");
  seen_sweep(dir, 900, now + 2000);
  is_int(seen_mark(dir, "whe_1", 900, now + 2000), 0, "swept ids are gone");
  remove_tree(dir);
  return tap_done();
}
