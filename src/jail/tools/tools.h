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

#include "jail/walk.h"

#define BASH_OUTPUT_LIMIT (100 * 1024)
#define MAX_FILE_BYTES (256 * 1024)
#define GREP_OUTPUT_LIMIT (100 * 1024)
#define GLOB_RESULT_LIMIT 200
/* glob's and grep's walk (jail/walk.h) ends at whichever comes first,
 * whatever the tree or the pattern, and their answer then says so. */
#define WALK_MAX_ENTRIES 50000
#define WALK_MAX_DEPTH 40
#define WALK_TIMEOUT_MS 60000
#define WALK_CUT_NOTE "\n[the search was cut short: more than 50000 entries, 40 levels deep, " \
                      "or 60000 ms]"

struct bash_shell {
  pid_t pid;
  int in_fd, out_fd;
  int pid_fd;                   /* readable once the shell has exited */
  int ahead;                    /* started by tool_bash_ahead, no command sent yet */
};

#define TOOL_MAX_ROOTS 12

/* A directory the file tools may reach: the workdir first, then others
 * (the memory stores), read-only ones refusing writes. */
struct tool_root {
  const char *path;             /* absolute, no trailing slash */
  int fd;
  int ro;
};

struct tool_ctx {
  const char *workdir;          /* absolute, no trailing slash */
  int workdir_fd;
  struct tool_root roots[TOOL_MAX_ROOTS];
  int nroots;
  long default_timeout_ms;
  struct bash_shell bash;
  /* Kills every process of the tool's tree; set by the jail (kill(-1) as
   * PID 1 of its namespace), a process-group kill elsewhere. */
  void (*kill_tree)(struct tool_ctx *ctx);
  /* Runs in the shell's child just before execve, with only fds 0-2 open:
   * the jail applies its last limits and restrictions here; non-zero
   * (errno set) fails the shell's start. */
  int (*before_exec)(struct tool_ctx *ctx);
  /* More of the shell's environment (the egress proxy's variables), or
   * NULL; at most TOOL_EXTRA_ENV_MAX - 1 entries. */
  const char *const *extra_env;
  void *owner;
};
#define TOOL_EXTRA_ENV_MAX 16

struct tool_result {
  int is_error;
  cJSON *content;
  /* For the log, never sent to Anthropic: why a call failed ("timeout",
   * "terminated", "exit_code"; NULL: the text says) and bash's status. */
  const char *reason;
  int exit_code;              /* -1: none */
};

int tool_ctx_init(struct tool_ctx *ctx, const char *workdir, long default_timeout_ms);
/* Lets the file tools reach path too (it must stay open, as fd). */
int tool_ctx_add_root(struct tool_ctx *ctx, const char *path, int fd, int ro);
void tool_ctx_free(struct tool_ctx *ctx);

/* Runs a tool by name; returns -1 for a name the toolset does not have. */
int tool_run(struct tool_ctx *ctx, const char *name, const cJSON *input,
             struct tool_result *res);

void tool_bash(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res);
/* Starts the session's shell before its first call, so that call does not
 * wait for bash to start; a failure is left for that call to meet.  A shell
 * started ahead that dies before any command reached it is started again
 * unseen: it held nothing. */
void tool_bash_ahead(struct tool_ctx *ctx);
/* Ends the shell and every process of its tree, and closes what held it. */
void tool_bash_end(struct tool_ctx *ctx);
void tool_read(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res);
void tool_write(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res);
void tool_edit(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res);
void tool_glob(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res);
void tool_grep(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res);

/* Result helpers: one text block; empty text becomes "(no output)". */
void tool_text(struct tool_result *res, int is_error, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void tool_text_raw(struct tool_result *res, int is_error, const char *text, size_t len);

/* walk_tree with the WALK_* limits, .git and node_modules skipped. */
enum walk_end tool_walk(int root_fd, walk_fn fn, void *ctx);


/* Path policy (path.c). */
enum path_rc { PATH_OK = 0, PATH_OUTSIDE = -2, PATH_ERRNO = -1 };

/* Where a path led: the root it is under (the deepest one) and the rest. */
struct place {
  const struct tool_root *root;
  int others;                   /* roots besides the workdir exist */
  char rel[4096];               /* "." for the root itself */
};

/* Normalises p (relative paths against the workdir) and finds its root.
 * PATH_OUTSIDE when it is under none. */
int path_confine(const struct tool_ctx *ctx, const char *p, struct place *pl);
/* openat2(root fd, rel, RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS). */
int path_open(const struct place *pl, const char *rel, int flags, mode_t mode);
/* Opens the parent directory of pl->rel, creating missing directories when
 * create is set; *base points at the last component. */
int path_open_parent(const struct place *pl, int create, const char **base);
/* "<tool>: <p>: <reason>" from errno, or the outside-the-workdir text
 * (naming the other roots when pl says there are some). */
void path_error(struct tool_result *res, const char *tool, const char *p, int rc,
                const struct place *pl);
/* The official text for a write into a read-only root; 1 when it was one. */
int path_read_only(struct tool_result *res, const char *tool, const char *p,
                   const struct place *pl);

/* Atomically replaces pl->rel with data (write.c); -1 with errno. */
int tool_replace_file(const struct place *pl, int create_dirs, const char *data, size_t len);

/* Doublestar match of a relative path against one brace-free pattern
 * (glob.c): "**" spans any number of segments. */
int glob_match(const char *pattern, const char *path);


#endif
