#include "jail/tools/bash_output.h"
#include "common/json.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/util.h"
#include "common/strbuf.h"
#include "common/spawn.h"
#include "common/random.h"

#define SENTINEL_PREFIX "__SANDHOOK_"

static const char *const shell_env[] = {
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  "PS1=", "PS2=", "TERM=dumb", "LANG=C.UTF-8", "HOME=/workspace", NULL
};

void
tool_bash_end(struct tool_ctx *ctx)
{
  struct bash_shell *b = &ctx->bash;

  if(b->pid > 0) {
    ctx->kill_tree(ctx);
    while(waitpid(b->pid, NULL, 0) < 0 && errno == EINTR)
      ;
  }
  if(b->in_fd >= 0)
    close(b->in_fd);
  if(b->out_fd >= 0)
    close(b->out_fd);
  if(b->pid_fd >= 0)
    close(b->pid_fd);
  b->pid = -1;
  b->in_fd = b->out_fd = b->pid_fd = -1;
  b->ahead = 0;
}

static int
shell_before_exec(void *ctx)
{
  struct tool_ctx *t = ctx;

  return t->before_exec(t);
}

static int
shell_start(struct tool_ctx *ctx)
{
  struct bash_shell *b = &ctx->bash;
  int in[2], out[2];
  pid_t pid;

  if(pipe2(in, O_CLOEXEC) < 0)
    return -1;
  if(pipe2(out, O_CLOEXEC) < 0) {
    close(in[0]);
    close(in[1]);
    return -1;
  }
  {
    static const char *const argv[] = { "bash", "--noprofile", "--norc", NULL };
    const char *envp[N_ELEMENTS(shell_env) + TOOL_EXTRA_ENV_MAX];
    size_t n = 0, i;
    struct spawn sp = SPAWN_INIT("/bin/bash", argv, envp);

    for(i = 0; shell_env[i]; i++)
      envp[n++] = shell_env[i];
    for(i = 0; ctx->extra_env && ctx->extra_env[i] && i < TOOL_EXTRA_ENV_MAX - 1; i++)
      envp[n++] = ctx->extra_env[i];
    envp[n] = NULL;

    /* Its own session: no controlling terminal to inject into, and one
     * process group to kill outside the jail. */
    sp.in = in[0];
    sp.out = sp.err = out[1];
    sp.new_session = 1;
    sp.dir_fd = ctx->workdir_fd;
    if(ctx->before_exec) {
      sp.before_exec = shell_before_exec;
      sp.ctx = ctx;
    }
    pid = spawn_start(&sp);
  }
  if(pid < 0) {
    close(in[0]); close(in[1]); close(out[0]); close(out[1]);
    return -1;
  }
  close(in[0]);
  close(out[1]);
  b->pid = pid;
  b->in_fd = in[1];
  b->out_fd = out[0];
  fcntl(b->out_fd, F_SETFL, O_NONBLOCK);
  /* The shell's end is seen by its pid, not only by the pipe's EOF: a
   * background job keeps the pipe open after `exit`, and the call would
   * wait out its timeout.  A kernel before 5.3 has no pidfd: -1, which
   * poll skips, and only the EOF tells. */
  b->pid_fd = (int)syscall(SYS_pidfd_open, pid, 0);
  return 0;
}

enum run_rc { RUN_DONE, RUN_TIMEOUT, RUN_DIED, RUN_ERROR };

static enum run_rc
run_command(struct tool_ctx *ctx, const char *cmd, long timeout_ms,
            struct bash_output *o, int *exit_code)
{
  struct bash_shell *b = &ctx->bash;
  char sentinel[64], split[80], *script;
  char rnd[25];
  long long deadline = now_ms() + timeout_ms;

  if(random_hex(rnd, 12) < 0)
    return RUN_ERROR;
  snprintf(sentinel, sizeof(sentinel), SENTINEL_PREFIX "%s_DONE__", rnd);
  /* The sentinel is split with '' in the script so an echo of the script
   * itself (set -v) cannot end the command early. */
  snprintf(split, sizeof(split), "%.8s''%s", sentinel, sentinel + 8);
  if(asprintf(&script, "{ %s\n} </dev/null 2>&1; printf '\\n%s%%d\\n' $?\n", cmd, split) < 0)
    return RUN_ERROR;
  if(write_all(b->in_fd, script, strlen(script)) < 0) {
    free(script);
    return RUN_DIED;
  }
  free(script);
  for(;;) {
    struct pollfd pfd[2] = { { b->out_fd, POLLIN, 0 }, { b->pid_fd, POLLIN, 0 } };
    long long left = deadline - now_ms();
    char buf[65536];
    ssize_t got;

    if(left <= 0)
      return RUN_TIMEOUT;
    if(poll(pfd, 2, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR)
      return RUN_ERROR;
    got = read(b->out_fd, buf, sizeof(buf));
    if(got == 0)
      return RUN_DIED;
    if(got < 0) {
      /* A shell that is gone ends the call once the pipe holds nothing
       * more to read. */
      if(errno == EINTR || (errno == EAGAIN && !pfd[1].revents))
        continue;
      return RUN_DIED;
    }
    /* Room for the newest BASH_OUTPUT_LIMIT bytes and the marker after them. */
    if(bash_output_add(o, buf, (size_t)got, BASH_OUTPUT_LIMIT + sizeof(sentinel) + 16) < 0)
      return RUN_ERROR;
    if(bash_output_end(o, sentinel, exit_code))
      return RUN_DONE;
  }
}

void
tool_bash_ahead(struct tool_ctx *ctx)
{
  if(ctx->bash.pid <= 0 && shell_start(ctx) == 0)
    ctx->bash.ahead = 1;
}

/* Whether the shell started ahead has exited (reaped here or already). */
static int
shell_gone(const struct bash_shell *b)
{
  pid_t r = waitpid(b->pid, NULL, WNOHANG);

  return r == b->pid || (r < 0 && errno == ECHILD);
}

void
tool_bash(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res)
{
  const char *cmd = json_str(in, "command");
  const cJSON *tv = in ? cJSON_GetObjectItemCaseSensitive(in, "timeout_ms") : NULL;
  long timeout_ms = ctx->default_timeout_ms;
  struct bash_output o = { 0 };
  enum run_rc rc;
  int code = -1;

  if(cJSON_IsNumber(tv) && tv->valuedouble >= 1)
    timeout_ms = json_long(tv, 1, 86400000L, timeout_ms);
  if(json_true(in, "restart"))
    tool_bash_end(ctx);
  if(!cmd || !*cmd) {
    if(json_true(in, "restart"))
      tool_text(res, 0, "bash session restarted");
    else
      tool_text(res, 1, "bash: command is required");
    return;
  }
  if(ctx->bash.ahead) {
    ctx->bash.ahead = 0;
    if(ctx->bash.pid > 0 && shell_gone(&ctx->bash))
      tool_bash_end(ctx);
  }
  if(ctx->bash.pid <= 0 && shell_start(ctx) < 0) {
    tool_text(res, 1, "bash: cannot start /bin/bash: %s", strerror(errno));
    return;
  }
  rc = run_command(ctx, cmd, timeout_ms, &o, &code);
  if(rc != RUN_DONE) {
    /* The shell's state is unknown now: end it and every process it left,
     * and start afresh on the next call. */
    tool_bash_end(ctx);
    if(rc == RUN_TIMEOUT)
      tool_text(res, 1, "bash: bash command timed out after %ldms", timeout_ms);
    else if(rc == RUN_DIED)
      tool_text(res, 1, "bash: bash session terminated");
    else
      tool_text(res, 1, "bash: %s", strerror(errno));
    res->reason = rc == RUN_TIMEOUT ? "timeout" : rc == RUN_DIED ? "terminated" : "error";
    free(o.data);
    return;
  }
  bash_output_result(&o, code, res);
  res->exit_code = code;
  if(code != 0)
    res->reason = "exit_code";
}
