/* The one way sandhook starts a program: the child gets exactly the
 * descriptors named, the directory and session asked for, and a start that
 * fails (a missing program, a refusing hook) is an error with the child's
 * errno, not a child that exits 127 unnoticed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/spawn.h"
#include "tap.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>

/* A frame at spawn_start's depth over the bytes the child ran on: the
 * child's redzones there would make any later use of them an "overflow". */
static int __attribute__((noinline))
child_stack_is_ours_again(void)
{
  char frame[128 * 1024];

  return __asan_region_is_poisoned(frame, sizeof(frame)) == NULL;
}
#endif

static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };

/* Runs sh -c script with stdout a pipe; its output (at most cap - 1
 * bytes), or NULL when it could not start. */
static char *
run(const char *script, const int pass_fd[2], int dir_fd, int new_session, char *buf, size_t cap)
{
  const char *const argv[] = { "sh", "-c", script, NULL };
  struct spawn sp = SPAWN_INIT("/bin/sh", argv, env);
  int p[2];
  size_t got = 0;
  ssize_t n;
  pid_t pid;

  if(pipe2(p, O_CLOEXEC) < 0)
    return NULL;
  sp.in = SPAWN_NULL;
  sp.out = p[1];
  sp.pass_fd[0] = pass_fd[0];
  sp.pass_fd[1] = pass_fd[1];
  sp.dir_fd = dir_fd;
  sp.new_session = new_session;
  pid = spawn_start(&sp);
  close(p[1]);
  while(pid > 0 && got < cap - 1 && (n = read(p[0], buf + got, cap - 1 - got)) > 0)
    got += (size_t)n;
  close(p[0]);
  buf[got] = '\0';
  return pid > 0 && spawn_wait(pid) == 0 ? buf : NULL;
}

static volatile sig_atomic_t handled;

static void
on_usr1(int sig)
{
  (void)sig;
  handled = 1;
}

static int
raise_usr1(void *ctx)
{
  (void)ctx;
  raise(SIGUSR1);
  return 0;
}

static int
refuse(void *ctx)
{
  (void)ctx;
  errno = EPERM;
  return -1;
}

int
main(void)
{
  static const int none[2] = { -1, -1 };
  char buf[512], *out;
  int p[2], q[2], stray, dir;
  pid_t pid;

  /* A descriptor of ours without close-on-exec must not reach the child
   * either: only the ones named do. */
  stray = open("/dev/null", O_RDONLY);
  ok(pipe2(p, O_CLOEXEC) == 0 && write(p[1], "passed\n", 7) == 7 && close(p[1]) == 0 && stray >= 0,
     "a pipe to pass and a stray descriptor");
  out = run("cat <&3; for i in 4 5 6 7 8 9 10 11 12 13 14; do [ -e /proc/$$/fd/$i ] && echo open $i; done;"
            " echo end", (const int[2]){ p[0], -1 }, -1, 0, buf, sizeof(buf));
  is_str(out, "passed\nend\n", "the passed descriptor is fd 3 and nothing else is open");
  close(p[0]);
  ok(pipe2(p, O_CLOEXEC) == 0 && write(p[1], "three\n", 6) == 6 && close(p[1]) == 0 &&
     pipe2(q, O_CLOEXEC) == 0 && write(q[1], "four\n", 5) == 5 && close(q[1]) == 0,
     "two pipes to pass");
  out = run("cat <&3; cat <&4; for i in 5 6 7 8 9 10 11 12 13 14; do [ -e /proc/$$/fd/$i ] && echo open $i; done;"
            " echo end", (const int[2]){ p[0], q[0] }, -1, 0, buf, sizeof(buf));
  is_str(out, "three\nfour\nend\n", "the second passed descriptor is fd 4");
  close(p[0]);
  close(q[0]);
  close(stray);

  /* The child runs on our memory until the exec: a handler of ours must
   * not run there, and what we block is not blocked for the program. */
  {
    const char *const argv[] = { "true", NULL };
    struct spawn sp = SPAWN_INIT("/bin/true", argv, env);
    sigset_t usr2, old;
    int status = 0;

    signal(SIGUSR1, on_usr1);
    sp.before_exec = raise_usr1;
    pid = spawn_start(&sp);
    if(pid > 0 && waitpid(pid, &status, 0) != pid)
      status = 0;
    ok(pid > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1,
       "a signal we handle kills the child before the exec as by default (status %#x)", status);
    ok(!handled, "and our handler did not run");
    signal(SIGUSR1, SIG_DFL);
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, &old);
    /* The program's own mask: a shell blocks every signal for a moment
     * around each fork, so its own would race. */
    out = run("exec grep SigBlk /proc/self/status", none, -1, 0, buf, sizeof(buf));
    is_str(out, "SigBlk:\t0000000000000000\n", "a signal we block is unblocked in the program");
    sigprocmask(SIG_SETMASK, &old, NULL);
  }

  dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  out = run("pwd", none, dir, 0, buf, sizeof(buf));
  is_str(out, "/tmp\n", "the child starts in the directory asked for");
  close(dir);

  out = run("echo $(( $(cut -d' ' -f6 /proc/$$/stat) == $$ ))", none, -1, 1, buf, sizeof(buf));
  is_str(out, "1\n", "with new_session it leads a session of its own");
  out = run("echo $(( $(cut -d' ' -f6 /proc/$$/stat) == $$ ))", none, -1, 0, buf, sizeof(buf));
  is_str(out, "0\n", "without, it stays in ours");

  {
    const char *const argv[] = { "no-such-program", NULL };
    struct spawn sp = SPAWN_INIT("/nonexistent/no-such-program", argv, env);

    errno = 0;
    pid = spawn_start(&sp);
    ok(pid < 0 && errno == ENOENT, "a missing program is -1 with ENOENT (errno %d)", errno);
  }
  {
    const char *const argv[] = { "true", NULL };
    struct spawn sp = SPAWN_INIT("/bin/true", argv, env);

    sp.before_exec = refuse;
    errno = 0;
    pid = spawn_start(&sp);
    ok(pid < 0 && errno == EPERM, "a hook that refuses fails the start with its errno (%d)", errno);
    sp.before_exec = NULL;
    pid = spawn_start(&sp);
    ok(pid > 0 && spawn_wait(pid) == 0, "without it the program runs and exits 0");
#if defined(__SANITIZE_ADDRESS__)
    ok(child_stack_is_ours_again(), "no redzone of the child is left on the stack it ran on (ASan build)");
#endif
  }
  return tap_done();
}
