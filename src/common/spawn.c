#include "common/spawn.h"
#include "common/unconst.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* In the child, after fork: returns only on failure, errno saying why. */
static void
child(const struct spawn *sp, pid_t parent, int report)
{
  const int want[4] = { sp->in, sp->out, sp->err, sp->pass_fd };
  int moved[4], n = sp->pass_fd >= 0 ? 4 : 3, i, null = -1;
  sigset_t none;

  if(sp->die_with_parent &&
     (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)) {
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

pid_t
spawn_start(const struct spawn *sp)
{
  pid_t parent = getpid(), pid;
  int report[2], e = 0;
  ssize_t n;

  if(pipe2(report, O_CLOEXEC) < 0)
    return -1;
  pid = fork();
  if(pid == 0) {
    int r = fcntl(report[1], F_DUPFD_CLOEXEC, 10);

    if(r >= 0) {
      child(sp, parent, r);
      e = errno;
      (void)!write(r, &e, sizeof(e));
    }
    _exit(127);
  }
  e = errno;
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
