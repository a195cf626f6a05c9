#include "jail/tools/tools.h"
#include "common/clock.h"
#include "common/utf8.h"
#include "common/protocol.h"
#include "common/json.h"

#include <errno.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Indexed by the protocol's tool number: the drainer routes by the same list. */
static void (*const table[TOOL_COUNT])(struct tool_ctx *, const cJSON *, struct tool_result *) = {
  [TOOL_BASH] = tool_bash, [TOOL_READ] = tool_read, [TOOL_WRITE] = tool_write,
  [TOOL_EDIT] = tool_edit, [TOOL_GLOB] = tool_glob, [TOOL_GREP] = tool_grep,
};

static void
kill_group(struct tool_ctx *ctx)
{
  if(ctx->bash.pid > 0)
    kill(-ctx->bash.pid, SIGKILL);
}

int
tool_ctx_init(struct tool_ctx *ctx, const char *workdir, long default_timeout_ms)
{
  memset(ctx, 0, sizeof(*ctx));
  ctx->workdir = workdir;
  ctx->default_timeout_ms = default_timeout_ms;
  ctx->bash.pid = -1;
  ctx->bash.in_fd = ctx->bash.out_fd = ctx->bash.pid_fd = -1;
  ctx->kill_tree = kill_group;
  ctx->workdir_fd = open(workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if(ctx->workdir_fd < 0)
    return -1;
  return tool_ctx_add_root(ctx, workdir, ctx->workdir_fd, 0);
}

int
tool_ctx_add_root(struct tool_ctx *ctx, const char *path, int fd, int ro)
{
  if(ctx->nroots == TOOL_MAX_ROOTS) {
    errno = ENOSPC;
    return -1;
  }
  ctx->roots[ctx->nroots].path = path;
  ctx->roots[ctx->nroots].fd = fd;
  ctx->roots[ctx->nroots++].ro = ro;
  return 0;
}

int
tool_run(struct tool_ctx *ctx, const char *name, const cJSON *input,
         struct tool_result *res)
{
  enum sandbox_tool t = sandbox_tool_lookup(name);

  res->is_error = 0;
  res->content = NULL;
  res->reason = NULL;
  res->exit_code = -1;
  if(t == TOOL_NONE)
    return -1;
  table[t](ctx, cJSON_IsObject(input) ? input : NULL, res);
  if(!res->content)
    tool_text(res, 1, "%s: internal error", name);
  return 0;
}

void
tool_text_raw(struct tool_result *res, int is_error, const char *text, size_t len)
{
  cJSON *arr = cJSON_CreateArray();
  cJSON *blk = cJSON_CreateObject();
  /* Whatever a tool produced (a binary, Latin-1, a NUL), what goes out is
   * text the control plane can parse. */
  char *copy = utf8_clean(text, len, NULL);

  res->is_error = is_error;
  if(!arr || !blk || !copy ||
     !cJSON_AddStringToObject(blk, "type", "text") ||
     !cJSON_AddStringToObject(blk, "text", len ? copy : "(no output)")) {
    cJSON_Delete(arr);
    cJSON_Delete(blk);
    free(copy);
    res->content = NULL;
    return;
  }
  free(copy);
  cJSON_AddItemToArray(arr, blk);
  cJSON_Delete(res->content);
  res->content = arr;
}

void
tool_text(struct tool_result *res, int is_error, const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;
  int n;

  va_start(ap, fmt);
  n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if(n < 0) {
    res->content = NULL;
    return;
  }
  tool_text_raw(res, is_error, s, (size_t)n);
  free(s);
}

void
tool_ctx_free(struct tool_ctx *ctx)
{
  int i;

  tool_bash_end(ctx);
  for(i = 0; i < ctx->nroots; i++)
    if(ctx->roots[i].fd >= 0)
      close(ctx->roots[i].fd);
  ctx->nroots = 0;
}

enum walk_end
tool_walk(int root_fd, walk_fn fn, void *ctx)
{
  struct walk_limits lim = { WALK_MAX_ENTRIES, WALK_MAX_DEPTH, now_ms() + WALK_TIMEOUT_MS, 1 };

  return walk_tree(root_fd, &lim, fn, ctx);
}
