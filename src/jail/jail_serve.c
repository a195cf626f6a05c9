#include "jail/jail_serve.h"
#include "common/errmsg.h"
#include "common/frame.h"
#include "common/json.h"
#include "common/protocol.h"
#include "jail/jail_setup.h"
#include "jail/egress_relay.h"
#include "jail/memstore_files.h"
#include "jail/skills_unpack.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct jail_limits *shell_limits;

/* As PID 1 of the namespace, kill(-1) reaches every other process in it,
 * whatever session or group it moved to. */
static void
kill_namespace(struct tool_ctx *ctx)
{
  (void)ctx;
  kill(-1, SIGKILL);
  while(waitpid(-1, NULL, 0) > 0 || errno == EINTR)
    ;
}

/* In the shell's child: the address-space limit goes on last, here, since
 * it would also bind the server. */
static int
shell_before_exec(struct tool_ctx *ctx)
{
  (void)ctx;
  signal(SIGXFSZ, SIG_DFL);
  return limits_apply(shell_limits, 1) < 0 ? -1 : 0;
}

void
jail_serve_prepare(struct tool_ctx *tctx, const struct jail_limits *lim)
{
  shell_limits = lim;
  tctx->kill_tree = kill_namespace;
  tctx->before_exec = shell_before_exec;
}

static void
reap_orphans(void)
{
  while(waitpid(-1, NULL, WNOHANG) > 0)
    ;
}

static cJSON *
error_reply(const char *why)
{
  cJSON *out = cJSON_CreateObject();

  if(out && (!cJSON_AddBoolToObject(out, "is_error", 1) ||
             !cJSON_AddStringToObject(out, "error", why))) {
    cJSON_Delete(out);
    return NULL;
  }
  return out;
}

static cJSON *
op_tool(struct tool_ctx *tctx, const cJSON *req, int fd)
{
  struct tool_result res = { 0, NULL, NULL, -1 };
  const cJSON *tool = cJSON_GetObjectItemCaseSensitive(req, "tool");
  const cJSON *tmo = cJSON_GetObjectItemCaseSensitive(req, "timeout_ms");
  cJSON *out;

  (void)fd;
  if(cJSON_IsNumber(tmo) && tmo->valuedouble >= 1)
    tctx->default_timeout_ms = json_long(tmo, 1, 86400000L, 120000);
  /* A timeout before killed every process of the namespace, the relay too. */
  reap_orphans();
  egress_relay_ensure();
  if(!cJSON_IsString(tool) ||
     tool_run(tctx, tool->valuestring, cJSON_GetObjectItemCaseSensitive(req, "input"), &res) < 0)
    tool_text(&res, 1, "unknown tool");
  reap_orphans();
  out = cJSON_CreateObject();
  if(!out || !res.content) {
    cJSON_Delete(out);
    cJSON_Delete(res.content);
    return NULL;
  }
  cJSON_AddBoolToObject(out, "is_error", res.is_error);
  cJSON_AddItemToObject(out, "content", res.content);
  if(res.reason)
    cJSON_AddStringToObject(out, "reason", res.reason);
  if(res.exit_code >= 0)
    cJSON_AddNumberToObject(out, "exit_code", res.exit_code);
  return out;
}

/* Skills are unpacked from the archive the drainer passes along, into the
 * workspace, as the jail uid. */
static cJSON *
op_skill_install(struct tool_ctx *tctx, const cJSON *req, int fd)
{
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
  struct unpack_limits lim = {
    json_long(cJSON_GetObjectItemCaseSensitive(req, "max_bytes"), 0, 1L << 40, 0),
    json_long(cJSON_GetObjectItemCaseSensitive(req, "max_entries"), 0, 1L << 24, 0),
  };
  cJSON *out, *refused;
  struct errmsg err = ERRMSG_INIT;
  long files;

  (void)tctx;
  if(!cJSON_IsString(name) || fd < 0)
    return error_reply("skill_install needs a name and the archive");
  out = cJSON_CreateObject();
  if(!out)
    return NULL;
  refused = cJSON_AddArrayToObject(out, "refused");
  files = refused ? unpack_skill(fd, JAIL_WORKDIR "/skills", name->valuestring, &lim,
                                 refused, &err) : -1;
  cJSON_AddBoolToObject(out, "is_error", files < 0);
  cJSON_AddNumberToObject(out, "files", (double)files);
  if(files < 0)
    cJSON_AddStringToObject(out, "error", errmsg_isset(&err) ? err.text : "out of memory");
  return out;
}

static cJSON *
op_skills_remove(struct tool_ctx *tctx, const cJSON *req, int fd)
{
  const cJSON *n;
  cJSON *out = cJSON_CreateObject();

  (void)tctx;
  (void)fd;
  cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(req, "names"))
    if(cJSON_IsString(n))
      unpack_remove(JAIL_WORKDIR "/skills", n->valuestring);
  rmdir(JAIL_WORKDIR "/skills");    /* only if nothing else is left in it */
  if(out)
    cJSON_AddBoolToObject(out, "is_error", 0);
  return out;
}

/* One handler per operation: a tool call needs the tools' context, a
 * skill install the descriptor that came with the frame, a memory-store
 * operation only the request. */
static const struct {
  cJSON *(*run)(struct tool_ctx *tctx, const cJSON *req, int fd);
  cJSON *(*mem)(const cJSON *req);
} ops[JAIL_OP_END] = {
  [JAIL_OP_TOOL] = { op_tool, NULL },
  [JAIL_OP_SKILL_INSTALL] = { op_skill_install, NULL },
  [JAIL_OP_SKILLS_REMOVE] = { op_skills_remove, NULL },
  [JAIL_OP_MEM_PREPARE] = { NULL, memstore_files_prepare },
  [JAIL_OP_MEM_SCAN] = { NULL, memstore_files_scan },
  [JAIL_OP_MEM_READ] = { NULL, memstore_files_read },
  [JAIL_OP_MEM_WRITE] = { NULL, memstore_files_write },
  [JAIL_OP_MEM_REMOVE] = { NULL, memstore_files_remove },
};

static cJSON *
dispatch(struct tool_ctx *tctx, const cJSON *req, int fd)
{
  double op = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(req, "op"));

  /* NaN (no number) fails both comparisons. */
  if(!(op >= 1 && op < JAIL_OP_END) || op != (int)op)
    return error_reply("unknown operation");
  if(ops[(int)op].run)
    return ops[(int)op].run(tctx, req, fd);
  return ops[(int)op].mem(req);
}

void
jail_serve(int fd, struct tool_ctx *tctx)
{
  /* While the drainer opens the session's event stream: the first bash
   * call then finds its shell up. */
  tool_bash_ahead(tctx);
  for(;;) {
    cJSON *req, *out;
    char *frame, *text;
    size_t len;
    int passed;

    frame = recv_frame_fd(fd, &len, &passed);
    if(!frame)
      return;
    req = cJSON_ParseWithLength(frame, len);
    free(frame);
    out = req ? dispatch(tctx, req, passed) : error_reply("not JSON");
    if(passed >= 0)
      close(passed);
    cJSON_Delete(req);
    text = out ? cJSON_PrintUnformatted(out) : NULL;
    cJSON_Delete(out);
    if(!text || send_frame(fd, text, strlen(text)) < 0) {
      free(text);
      return;
    }
    free(text);
  }
}
