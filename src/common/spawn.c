#include "common/spawn.h"
#include "common/unconst.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* ASan would check the child's stack, a buffer of the parent's frame.  The
 * instrumented code the child still calls (the callers' before_exec, libc's
 * interceptors) poisons redzones there in the shadow memory we share, and
 * exec leaves them: the parent clears them once the child is gone, or a
 * later frame of its own on those bytes reads as an overflow. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define SPAWN_NO_ASAN __attribute__((no_sanitize_address))
#define spawn_stack_reclaimed(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define SPAWN_NO_ASAN
#define spawn_stack_reclaimed(p, n) ((void)(p), (void)(n))
#endif

/* ThreadSanitizer takes any clone for a fork and resets its own state in
 * the child; in memory shared with us that state is ours, and the threads
 * of the drainer would lose what orders them.  Under it the child gets a
 * copy, as under valgrind. */
#if defined(__SANITIZE_THREAD__)
#define SPAWN_SHARED 0
#else
#define SPAWN_SHARED (CLONE_VM | CLONE_VFORK)
#endif

int
spawn_program_path(const char *name, char *buf, size_t cap)
{
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  char *slash;

  if(n > 0) {
    self[n] = '\0';
    slash = strrchr(self, '/');
    if(slash && snprintf(buf, cap, "%.*s/%s", (int)(slash - self), self, name) < (int)cap &&
       access(buf, X_OK) == 0)
      return 0;
  }
  if(snprintf(buf, cap, "%s/%s", PKGLIBEXECDIR, name) < (int)cap)
    return 0;
  errno = ENAMETOOLONG;
  return -1;
}

/* In the child: returns only on failure, errno saying why. */
static void
child(const struct spawn *sp, pid_t parent, int report)
{
  const int want[6] = { sp->in, sp->out, sp->err, sp->pass_fd[0], sp->pass_fd[1], sp->pass_fd[2] };
  int moved[6], n = 6, i, null = -1;
  sigset_t none;

  while(n > 3 && want[n - 1] < 0)
    n--;

  /* Born in a PID namespace of its own, the child sees no parent
   * (getppid() is 0): whether we died before the signal was armed is for
   * its channel to say. */
  if(sp->die_with_parent &&
     (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
      (!(sp->namespaces & CLONE_NEWPID) && getppid() != parent))) {
    errno = ECHILD;             /* the parent is gone already */
    return;
  }
  if(sp->new_session)
    setsid();
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  /* Each wanted descriptor first out of the way (above 10), so placing one
   * cannot close another; dup2 then clears close-on-exec on the target. */
  for(i = 0; i < n; i++) {
    int src = want[i];

    if(src == SPAWN_KEEP) {
      moved[i] = -1;
      continue;
    }
    if(src == SPAWN_NULL) {
      if(null < 0 && (null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
        return;
      src = null;
    }
    if((moved[i] = fcntl(src, F_DUPFD_CLOEXEC, 10)) < 0)
      return;
  }
  for(i = 0; i < n; i++)
    if(moved[i] >= 0 && dup2(moved[i], i) < 0)
      return;
  if(sp->dir_fd >= 0 && fchdir(sp->dir_fd) < 0)
    return;
  /* Everything else goes at the exec, the report pipe with it. */
  if(syscall(SYS_close_range, n, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    if(syscall(SYS_close_range, n, report - 1, 0) < 0 ||
       syscall(SYS_close_range, report + 1, ~0U, 0) < 0)
      return;
  }
  if(sp->before_exec && sp->before_exec(sp->ctx) != 0)
    return;
  execve(sp->path, exec_args(sp->argv), exec_args(sp->envp));
}

struct child_args {
  const struct spawn *sp;
  pid_t parent;
  int report;
};

/* The child shares our memory until it execs, so it starts with every
 * signal blocked and puts each handler of ours back to the default before
 * unblocking: a handler of the parent's running here would act on the
 * parent's data.  An ignored signal stays ignored, as across exec. */
static int SPAWN_NO_ASAN
child_main(void *arg)
{
  const struct child_args *a = arg;
  struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
  int sig, r, e;

  for(sig = 1; sig < _NSIG; sig++)
    if(sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)
      sigaction(sig, &dfl, NULL);
  r = fcntl(a->report, F_DUPFD_CLOEXEC, 10);
  if(r >= 0) {
    child(a->sp, a->parent, r);
    e = errno;
    (void)!write(r, &e, sizeof(e));
  }
  _exit(127);
}

/* clone(CLONE_VM | CLONE_VFORK), as posix_spawn does: no copy of the page
 * tables, which a fork of a large drainer pays for every jail and shell.
 * The report pipe still says how the exec went, since a child under
 * valgrind (which turns this into a fork) shares no memory with us. */
pid_t
spawn_start(const struct spawn *sp)
{
  /* The child's stack: it only runs until the exec. */
  char stack[64 * 1024] __attribute__((aligned(16)));
  struct child_args a = { .sp = sp, .parent = getpid() };
  int report[2], e = 0;
  sigset_t all, old;
  ssize_t n;
  pid_t pid;

  if(pipe2(report, O_CLOEXEC) < 0)
    return -1;
  a.report = report[1];
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid = clone(child_main, stack + sizeof(stack), SPAWN_SHARED | SIGCHLD | sp->namespaces, &a);
  if(pid < 0)
    e = errno;
  spawn_stack_reclaimed(stack, sizeof(stack));
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(report[1]);
  if(pid < 0) {
    close(report[0]);
    errno = e;
    return -1;
  }
  while((n = read(report[0], &e, sizeof(e))) < 0 && errno == EINTR)
    ;
  close(report[0]);
  if(n == 0)
    return pid;
  spawn_wait(pid);
  errno = n == (ssize_t)sizeof(e) && e > 0 ? e : EIO;
  return -1;
}

int
spawn_wait(pid_t pid)
{
  int status;

  while(waitpid(pid, &status, 0) < 0)
    if(errno != EINTR)
      return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
