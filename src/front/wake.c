#include "front/wake.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/spawn.h"
#include "common/statedir.h"
#include "common/unconst.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The CGI/1.1 meta-variables and the request's headers (HTTP_*) describe
 * one request from the internet; the drainer has no use for them, and a
 * header must not become its setting (HTTP_PROXY, "httpoxy"). */
static int
request_variable(const char *kv)
{
  static const char *const cgi[] = {
    "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "PATH_INFO",
    "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_IDENT",
    "REMOTE_USER", "REQUEST_METHOD", "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT",
    "SERVER_PROTOCOL", "SERVER_SOFTWARE",
  };
  size_t i, n = strcspn(kv, "=");

  if(!strncmp(kv, "HTTP_", 5))
    return 1;
  for(i = 0; i < N_ELEMENTS(cgi); i++)
    if(strlen(cgi[i]) == n && !strncmp(kv, cgi[i], n))
      return 1;
  return 0;
}

/* The drainer's process, in the detached grandchild: fd 3 the release
 * pipe, fd 4 the exec report (close-on-exec), stderr the log.  Returns
 * only on failure, with errno. */
static void
exec_drainer(const struct config *cfg, const char *prog, int release, int report)
{
  const char *argv[] = { PROGRAM_DRAIN, "--after-response", NULL, NULL, NULL };
  char **envp;
  size_t n = 0, i;
  int null;

  if(cfg->file) {
    argv[2] = "--config";
    argv[3] = cfg->file;
  }
  setsid();
  /* Out of the way first, so that placing one cannot close the other. */
  release = fcntl(release, F_DUPFD_CLOEXEC, 10);
  report = fcntl(report, F_DUPFD_CLOEXEC, 10);
  if(release < 0 || report < 0 || dup2(release, 3) < 0 || dup2(report, 4) < 0 ||
     fcntl(4, F_SETFD, FD_CLOEXEC) < 0)
    return;
  /* Above all the FastCGI listening socket and the gateway's stdout and
   * stderr: a CGI gateway waits until every copy of them is closed. */
  syscall(SYS_close_range, 5, ~0U, 0);
  null = open("/dev/null", O_RDWR);
  if(null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || log_to_file(cfg->log_file) < 0)
    return;
  if(null > 4)
    close(null);
  while(environ[n])
    n++;
  envp = calloc(n + 1, sizeof(*envp));
  if(!envp)
    return;
  for(n = 0, i = 0; environ[i]; i++)
    if(!request_variable(environ[i]))
      envp[n++] = environ[i];
  execve(prog, exec_args(argv), envp);
}

int
wake_drainer(const struct config *cfg)
{
  char path[PATH_MAX], prog[PATH_MAX];
  int release[2], report[2], status;
  pid_t pid;

  if(statedir_path(path, sizeof(path), cfg->state_dir, STATEDIR_RUN) < 0 ||
     mkdir_p(path, 0700) < 0 || statedir_wake(cfg->state_dir, 1) < 0 ||
     spawn_program_path(PROGRAM_DRAIN, prog, sizeof(prog)) < 0)
    return -1;
  if(pipe2(release, O_CLOEXEC) < 0)
    return -1;
  if(pipe2(report, O_CLOEXEC) < 0) {
    close(release[0]);
    close(release[1]);
    return -1;
  }
  pid = fork();
  if(pid == 0) {
    pid_t grandchild = fork();
    ssize_t n;
    int e = 0;

    if(grandchild == 0) {
      exec_drainer(cfg, prog, release[0], report[1]);
      e = errno;
      (void)!write(4, &e, sizeof(e));
      _exit(127);
    }
    /* The intermediate child exits as soon as the drainer runs (or failed
     * to), so the drainer is nobody's child and the front never reaps it;
     * its exit status is the drainer's errno, 0 when it runs. */
    close(report[1]);
    if(grandchild < 0)
      _exit(EAGAIN);
    while((n = read(report[0], &e, sizeof(e))) < 0 && errno == EINTR)
      ;
    _exit(n == 0 ? 0 : n == sizeof(e) && e > 0 && e < 256 ? e : EIO);
  }
  close(report[1]);
  close(release[0]);
  if(pid < 0) {
    close(report[0]);
    close(release[1]);
    return -1;
  }
  while(waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  close(report[0]);
  if(!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    close(release[1]);
    errno = WIFEXITED(status) ? WEXITSTATUS(status) : EAGAIN;
    return -1;
  }
  return release[1];
}
