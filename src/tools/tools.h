/* tools: the six sandbox-routed tools of agent_toolset_20260401.
 *
 * They run inside the jail process, confined to ctx->workdir: every path is
 * normalised, refused if it leaves the workdir, then opened with openat2
 * RESOLVE_BENEATH so a symlink (even one swapped in between check and use)
 * cannot lead out.  Outputs follow the official worker's texts.  Each tool
 * fills a result: is_error and a content array of blocks. */
#ifndef SANDHOOK_TOOLS_H
#define SANDHOOK_TOOLS_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <sys/types.h>

#define BASH_OUTPUT_LIMIT (100 * 1024)
#define MAX_FILE_BYTES (256 * 1024)
#define GREP_OUTPUT_LIMIT (100 * 1024)
#define GLOB_RESULT_LIMIT 200
#define WALK_MAX_ENTRIES 50000
#define WALK_MAX_DEPTH 40

struct bash_shell {
  pid_t pid;
  int in_fd, out_fd;
};

struct tool_ctx {
  const char *workdir;          /* absolute, no trailing slash */
  int workdir_fd;
  long default_timeout_ms;
  struct bash_shell bash;
  /* Kills every process of the tool's tree; set by the jail (kill(-1) as
   * PID 1 of its namespace), a process-group kill elsewhere. */
  void (*kill_tree)(struct tool_ctx *ctx);
  /* Runs in the shell's child just before execve, with only fds 0-2 open:
   * the jail applies its last limits and restrictions here. */
  void (*before_exec)(struct tool_ctx *ctx);
  void *owner;
};

struct tool_result {
  int is_error;
  cJSON *content;
};

int tool_ctx_init(struct tool_ctx *ctx, const char *workdir, long default_timeout_ms);
void tool_ctx_free(struct tool_ctx *ctx);

/* Runs a tool by name; returns -1 for a name the toolset does not have. */
int tool_run(struct tool_ctx *ctx, const char *name, const cJSON *input,
             struct tool_result *res);
int tool_known(const char *name);

void tool_bash(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res);
void tool_read(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res);
void tool_write(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res);
void tool_edit(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res);
void tool_glob(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res);
void tool_grep(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res);

/* Result helpers: one text block; empty text becomes "(no output)". */
void tool_text(struct tool_result *res, int is_error, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void tool_text_raw(struct tool_result *res, int is_error, const char *text, size_t len);

/* Input helpers: NULL/default when absent or of another type. */
const char *in_str(const cJSON *in, const char *name);
int in_bool(const cJSON *in, const char *name);

/* Path policy (path.c). */
enum path_rc { PATH_OK = 0, PATH_OUTSIDE = -2, PATH_ERRNO = -1 };

/* Normalises p against the workdir into rel (relative to the workdir, "."
 * for the workdir itself).  PATH_OUTSIDE when it leaves the workdir. */
int path_confine(const struct tool_ctx *ctx, const char *p, char *rel, size_t cap);
/* openat2(workdir_fd, rel, RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS). */
int path_open(const struct tool_ctx *ctx, const char *rel, int flags, mode_t mode);
/* Opens the parent directory of rel, creating missing directories when
 * create is set; *base points at the last component. */
int path_open_parent(const struct tool_ctx *ctx, const char *rel, int create,
                     const char **base);
/* "<tool>: <p>: <reason>" from errno, or the outside-the-workdir text. */
void path_error(struct tool_result *res, const char *tool, const char *p, int rc);

/* Atomically replaces rel with data (write.c); -1 with errno. */
int tool_replace_file(const struct tool_ctx *ctx, const char *rel, int create_dirs,
                      const char *data, size_t len);

/* Doublestar match of a relative path against one brace-free pattern
 * (glob.c): "**" spans any number of segments. */
int glob_match(const char *pattern, const char *path);

/* Whether a UTF-8 byte string is valid. */
int utf8_valid(const char *s, size_t len);

#endif
