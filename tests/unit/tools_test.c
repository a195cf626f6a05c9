/* The six tools outside the jail, in a temporary workdir: outputs, errors,
 * limits and the path policy (symlinks included). */
#include <errno.h>
#include <fnmatch.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "jail/tools/tools.h"
#include "tap.h"

static struct tool_ctx ctx;
static char wd[128];

static char *
run(const char *tool, const char *json, int *is_error)
{
  struct tool_result res = { 0, NULL, NULL, -1 };
  cJSON *in = cJSON_Parse(json);
  cJSON *blk;
  char *out;

  if(tool_run(&ctx, tool, in, &res) < 0) {
    cJSON_Delete(in);
    return strdup("(unknown tool)");
  }
  cJSON_Delete(in);
  *is_error = res.is_error;
  blk = cJSON_GetArrayItem(res.content, 0);
  if(cJSON_IsString(cJSON_GetObjectItem(blk, "text")))
    out = strdup(cJSON_GetObjectItem(blk, "text")->valuestring);
  else
    out = cJSON_PrintUnformatted(blk);
  cJSON_Delete(res.content);
  return out;
}

#define EXPECT(tool, json, want_err, want, ...) do {                     \
    int e_ = -1;                                                          \
    char *o_ = run(tool, json, &e_);                                      \
    is_str(o_, want, __VA_ARGS__);                                        \
    is_int(e_, want_err, "  ...and is_error");                            \
    free(o_);                                                             \
  } while(0)

/* pidfd_open is missing on kernels before 5.3 and under valgrind; the bash
 * tool then sees its shell's end only by the output pipe's EOF. */
static int
have_pidfd(void)
{
  int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

  if(fd < 0)
    return 0;
  close(fd);
  return 1;
}

/* openat2 is missing on kernels before 5.6 and under valgrind; the tools
 * then fall back to a stricter walk. */
static int
have_openat2(void)
{
  return !(syscall(SYS_openat2, -1, "", NULL, 0) < 0 && errno == ENOSYS);
}

static void
put_file(const char *name, const char *data, size_t len)
{
  char path[512];
  int fd;

  snprintf(path, sizeof(path), "%s/%s", wd, name);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ok(fd >= 0 && write(fd, data, len) == (ssize_t)len, "%s written", name);
  if(fd >= 0)
    close(fd);
}

static void
path_policy(void)
{
  struct place pl;
  struct tool_ctx c = { 0 };

  c.workdir = "/workspace";
  tool_ctx_add_root(&c, "/workspace", -1, 0);
  tool_ctx_add_root(&c, "/mnt/memory", -1, 0);
  tool_ctx_add_root(&c, "/mnt/memory/policies", -1, 1);
  ok(path_confine(&c, "a/b.txt", &pl) == PATH_OK && !strcmp(pl.rel, "a/b.txt"), "relative");
  ok(path_confine(&c, "/workspace/a/../b", &pl) == PATH_OK && !strcmp(pl.rel, "b"), "absolute with ..");
  ok(path_confine(&c, "/workspace", &pl) == PATH_OK && !strcmp(pl.rel, "."), "workdir itself");
  ok(path_confine(&c, "./x/./y//z", &pl) == PATH_OK && !strcmp(pl.rel, "x/y/z"), "dots and slashes");
  ok(path_confine(&c, "../x", &pl) == PATH_OUTSIDE, "../x is outside");
  ok(path_confine(&c, "a/../../x", &pl) == PATH_OUTSIDE, "a/../../x is outside");
  ok(path_confine(&c, "/etc/passwd", &pl) == PATH_OUTSIDE, "/etc/passwd is outside");
  ok(path_confine(&c, "/workspacefoo/x", &pl) == PATH_OUTSIDE, "a sibling prefix is outside");
  ok(path_confine(&c, "/", &pl) == PATH_OUTSIDE, "/ is outside");
  ok(path_confine(&c, "/mnt/memory/notes/a.md", &pl) == PATH_OK && !strcmp(pl.rel, "notes/a.md") &&
     pl.root == &c.roots[1], "a memory store path is under /mnt/memory");
  ok(path_confine(&c, "/mnt/memory/policies/r.md", &pl) == PATH_OK && !strcmp(pl.rel, "r.md") &&
     pl.root->ro, "the deepest root wins: a read-only store");
  ok(path_confine(&c, "/mnt/memory/../etc/passwd", &pl) == PATH_OUTSIDE, "and .. out of it is outside");
  ok(path_confine(&c, "/mnt/mem", &pl) == PATH_OUTSIDE, "a prefix of a root is outside");
}

/* Within one segment the matcher answers as fnmatch(FNM_PERIOD) does. */
static void
globbing_like_fnmatch(void)
{
  static const char *const pats[] = {
    "*", "?", "*.c", "a*b*c", "[abc]x", "[!abc]x", "[^a-c]x", "[a-c]*", "[]]x", "[!]]x",
    "[a-]x", "\\*x", "a\\?", "[", "a[b", "*[", ".*", "*.", "?*?", "***a", "x[.]y",
    "[.]x", "\\.x", "*a*a*a*b", "[z-a]", "[\\]]x",
  };
  static const char *const names[] = {
    "", "a", "x", "ax", "bx", "dx", "]x", "-x", "*x", "a?", "ab", "[", "a[b", ".x", ".hidden",
    "abc", "aXbYc", "file.c", "file.", "x.y", "aaab", "aaaa", "zx", "\\x",
  };
  size_t i, j;
  int same = 1;

  for(i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
    for(j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
      int want = fnmatch(pats[i], names[j], FNM_PERIOD) == 0;

      if(!*names[j] || glob_match(pats[i], names[j]) == want)
        continue;
      printf("#   '%s' against '%s': fnmatch says %d\n", pats[i], names[j], want);
      same = 0;
    }
  ok(same, "one segment: the same answers as fnmatch(FNM_PERIOD), %zu x %zu cases",
     sizeof(pats) / sizeof(pats[0]), sizeof(names) / sizeof(names[0]));
}

/* Patterns that make a backtracking matcher exponential finish here: the
 * test ends at all only if the matcher is polynomial. */
static void
globbing_bombs(void)
{
  char pat[256] = "", path[512] = "", seg[300];
  int i;

  for(i = 0; i < 12; i++)
    strcat(pat, "**/");
  strcat(pat, "x");
  for(i = 0; i < 24; i++)
    strcat(path, "a/");
  strcat(path, "b");
  ok(!glob_match(pat, path), "twelve ** against a path 25 deep: no match, decided");
  memset(seg, 'a', 250);
  seg[250] = '\0';
  ok(!glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", seg), "thirteen * in one segment against 250 a's");
  ok(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*", seg), "  ...and one that matches");
}

static void
globbing(void)
{
  ok(glob_match("**/*.go", "a/b/c.go"), "**/*.go matches a/b/c.go");
  ok(glob_match("**/*.go", "c.go"), "**/*.go matches c.go");
  ok(!glob_match("*.go", "a/c.go"), "*.go does not cross /");
  ok(glob_match("src/**", "src/a/b"), "src/** matches below src");
  ok(glob_match("a/**/b/*.c", "a/b/x.c"), "** may match nothing");
  ok(!glob_match("*.txt", ".hidden.txt"), "* does not match a leading dot");
  ok(glob_match(".*.txt", ".hidden.txt"), "an explicit dot matches");
  globbing_like_fnmatch();
  globbing_bombs();
}

static void
file_tools(void)
{
  char big[300 * 1024], path[512];

  EXPECT("write", "{\"file_path\":\"d/e/f.txt\",\"content\":\"one\\ntwo\\nthree\\n\"}", 0,
         "wrote 14 bytes to d/e/f.txt", "write creates parents");
  EXPECT("read", "{\"file_path\":\"d/e/f.txt\"}", 0, "one\ntwo\nthree\n", "read whole file");
  EXPECT("read", "{\"file_path\":\"d/e/f.txt\",\"view_range\":[2,3]}", 0, "two\nthree",
         "read view_range [2,3]");
  EXPECT("read", "{\"file_path\":\"d/e/f.txt\",\"view_range\":[2,-1]}", 0, "two\nthree\n",
         "read view_range to the end");
  /* Numbers far outside any integer type: clamped, never cast as they are
   * (UBSan in CI would report the undefined conversion). */
  {
    int e_ = -1;
    char *o_ = run("read", "{\"file_path\":\"d/e/f.txt\",\"view_range\":[1e300,2]}", &e_);

    ok(o_ != NULL, "read view_range [1e300, 2] is answered: %s", o_ ? o_ : "(null)");
    free(o_);
    o_ = run("read", "{\"file_path\":\"d/e/f.txt\",\"view_range\":[-1e300,1e300]}", &e_);
    ok(o_ != NULL, "read view_range [-1e300, 1e300] is answered: %s", o_ ? o_ : "(null)");
    free(o_);
  }
  EXPECT("bash", "{\"command\":\"echo big\",\"timeout_ms\":1e300}", 0, "big",
         "bash timeout_ms 1e300 is a bounded timeout");
  EXPECT("read", "{\"file_path\":\"d/e/f.txt\",\"view_range\":[1]}", 1,
         "read: view_range must be [start_line, end_line]", "bad view_range");
  EXPECT("read", "{\"file_path\":\"nope.txt\"}", 1, "read: nope.txt: no such file or directory",
         "missing file");
  EXPECT("read", "{\"file_path\":\"d\"}", 1, "read: d is not a regular file", "directory");
  EXPECT("read", "{}", 1, "read: file_path is required", "read without path");
  EXPECT("write", "{\"file_path\":\"empty\",\"content\":\"\"}", 0, "wrote 0 bytes to empty",
         "write empty");
  EXPECT("read", "{\"file_path\":\"empty\"}", 0, "(no output)", "empty file reads as (no output)");
  EXPECT("read", "{\"file_path\":\"../outside\"}", 1,
         "path \"../outside\" is outside the session's working directory", "escape by ..");

  put_file("bin.dat", "\xff\xfe\x00", 3);
  EXPECT("read", "{\"file_path\":\"bin.dat\"}", 1, "read: bin.dat: file is not valid UTF-8 text",
         "non-UTF-8 is an error");
  memset(big, 'a', sizeof(big));
  put_file("big.txt", big, sizeof(big));
  EXPECT("read", "{\"file_path\":\"big.txt\"}", 1,
         "read: big.txt is 307200 bytes, exceeds 262144-byte limit. Use the view_range parameter "
         "to read specific line ranges, e.g. view_range: [1, 500].", "over the read cap");
  put_file("pic.png", "\x89PNG", 4);
  EXPECT("read", "{\"file_path\":\"pic.png\"}", 0,
         "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw==\"}}",
         "an image comes back as a base64 image block");

  put_file("doc.PDF", "%PDF-1", 6);
  EXPECT("read", "{\"file_path\":\"doc.PDF\"}", 0,
         "{\"type\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\",\"data\":\"JVBERi0x\"}}",
         "a PDF comes back as a base64 document block");
  EXPECT("read", "{\"file_path\":\"doc.PDF\",\"view_range\":[1,2]}", 1,
         "read: view_range is not supported for PDF files", "no view_range for PDFs");
  EXPECT("edit", "{\"file_path\":\"d/e/f.txt\",\"old_string\":\"two\",\"new_string\":\"2\"}", 0,
         "edited d/e/f.txt (1 replacement(s))", "edit unique");
  EXPECT("edit", "{\"file_path\":\"d/e/f.txt\",\"old_string\":\"zzz\",\"new_string\":\"2\"}", 1,
         "edit: old_string not found in d/e/f.txt", "edit not found");
  EXPECT("write", "{\"file_path\":\"r.txt\",\"content\":\"x x x\"}", 0, "wrote 5 bytes to r.txt", "write r");
  EXPECT("edit", "{\"file_path\":\"r.txt\",\"old_string\":\"x\",\"new_string\":\"y\"}", 1,
         "edit: old_string appears 3 times in r.txt (must be unique)", "edit not unique");
  EXPECT("edit", "{\"file_path\":\"r.txt\",\"old_string\":\"x\",\"new_string\":\"yy\",\"replace_all\":true}", 0,
         "edited r.txt (3 replacement(s))", "edit replace_all");
  EXPECT("read", "{\"file_path\":\"r.txt\"}", 0, "yy yy yy", "replace_all result");
  EXPECT("edit", "{\"file_path\":\"r.txt\",\"old_string\":\"\",\"new_string\":\"y\"}", 1,
         "edit: old_string is required", "edit empty old_string");

  /* Symlinks: a link to a host file, and a linked directory, both refused. */
  snprintf(path, sizeof(path), "%s/passwd-link", wd);
  ok(symlink("/etc/passwd", path) == 0, "planted a symlink to /etc/passwd");
  EXPECT("read", "{\"file_path\":\"passwd-link\"}", 1,
         "path \"passwd-link\" is outside the session's working directory", "symlink out refused");
  snprintf(path, sizeof(path), "%s/etc-link", wd);
  ok(symlink("/etc", path) == 0, "planted a symlink to /etc");
  EXPECT("write", "{\"file_path\":\"etc-link/sandhook-test\",\"content\":\"x\"}", 1,
         "path \"etc-link/sandhook-test\" is outside the session's working directory",
         "write through a linked directory refused");
  ok(access("/etc/sandhook-test", F_OK) != 0, "nothing was written to /etc");
  snprintf(path, sizeof(path), "%s/inner-link", wd);
  ok(symlink("d/e/f.txt", path) == 0, "planted an inner symlink");
  if(have_openat2())
    EXPECT("read", "{\"file_path\":\"inner-link\",\"view_range\":[1,1]}", 0, "one",
           "a symlink inside the workdir is followed");
  else
    EXPECT("read", "{\"file_path\":\"inner-link\",\"view_range\":[1,1]}", 1,
           "path \"inner-link\" is outside the session's working directory",
           "without openat2 every symlink is refused");
}

static void
glob_grep(void)
{
  char want[1024];
  int e;
  char *o;

  snprintf(want, sizeof(want), "%s/d/e/f.txt", wd);
  EXPECT("glob", "{\"pattern\":\"**/f.txt\"}", 0, want, "glob absolute paths");
  EXPECT("glob", "{\"pattern\":\"*.nothing\"}", 0, "no matches", "glob no matches");
  EXPECT("glob", "{\"pattern\":\"/etc/*\"}", 1,
         "glob: absolute pattern not permitted; pass a relative pattern (and optionally path)",
         "glob absolute refused");
  EXPECT("glob", "{\"pattern\":\"../*\"}", 1, "glob: \"..\" is not permitted in the pattern",
         "glob .. refused");
  o = run("glob", "{\"pattern\":\"{r,empty}*\"}", &e);
  ok(strstr(o, "/r.txt") && strstr(o, "/empty") && !e, "glob braces");
  free(o);
  snprintf(want, sizeof(want), "%s/d/e/f.txt:3:three", wd);
  EXPECT("grep", "{\"pattern\":\"^thr\",\"path\":\"d\"}", 0, want, "grep path:line:text");
  EXPECT("grep", "{\"pattern\":\"no-such-text-anywhere\"}", 0, "no matches", "grep no matches");
  EXPECT("grep", "{\"pattern\":\"(\"}", 1,
         "grep: invalid regex: missing closing parenthesis at offset 1", "grep bad regex");
  EXPECT("grep", "{\"pattern\":\"x\",\"path\":\"/etc\"}", 1,
         "path \"/etc\" is outside the session's working directory", "grep outside refused");
  o = run("grep", "{\"pattern\":\"a\"}", &e);
  ok(strstr(o, "[output truncated at 102400 bytes]") == NULL, "one long line is skipped, not matched");
  free(o);
}

static void
bash(void)
{
  char cmd[512];
  int e;
  char *o;

  EXPECT("bash", "{\"command\":\"echo hello\"}", 0, "hello", "bash echo");
  EXPECT("bash", "{\"command\":\"cd d && export SANDHOOK_X=42\"}", 0, "(no output)", "bash cd/export");
  snprintf(cmd, sizeof(cmd), "%s/d:42", wd);
  EXPECT("bash", "{\"command\":\"echo $PWD:$SANDHOOK_X\"}", 0, cmd, "shell state persists");
  EXPECT("bash", "{\"command\":\"echo out; echo err >&2; false\"}", 1, "out\nerr",
         "non-zero exit: output, stderr merged, is_error");
  EXPECT("bash", "{\"command\":\"(exit 7)\"}", 1, "exit 7", "non-zero exit without output");
  EXPECT("bash", "{\"command\":\"printf '\\\\033[31mred\\\\033[0m'\"}", 0, "red", "ANSI stripped");
  EXPECT("bash", "{\"command\":\"sleep 5\",\"timeout_ms\":300}", 1,
         "bash: bash command timed out after 300ms", "timeout in milliseconds");
  EXPECT("bash", "{\"command\":\"echo $SANDHOOK_X\"}", 0, "(no output)", "fresh shell after a timeout");
  EXPECT("bash", "{\"command\":\"exit 3\"}", 1, "bash: bash session terminated", "exit ends the shell");
  EXPECT("bash", "{\"command\":\"echo back\"}", 0, "back", "next call gets a fresh shell");
  /* A background job holds the output pipe open past `exit`: the call
   * ends with the shell, well before its 30 s timeout, and the job goes
   * with it (waited for as a state, at most 5 s: SIGKILL lands when the
   * job next runs). */
  if(have_pidfd())
    EXPECT("bash", "{\"command\":\"sleep 60 & echo $! > bg.pid; exit 4\",\"timeout_ms\":30000}", 1,
           "bash: bash session terminated", "exit with a background job ends the call with the shell");
  else
    EXPECT("bash", "{\"command\":\"sleep 60 & echo $! > bg.pid; exit 4\",\"timeout_ms\":300}", 1,
           "bash: bash command timed out after 300ms",
           "without pidfd_open, exit with a background job ends the call at its timeout");
  EXPECT("bash", "{\"command\":\"p=$(cat bg.pid); for i in $(seq 100); do "
         "s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null); "
         "case $s in ''|Z) echo gone; break;; esac; sleep 0.05; done; rm -f bg.pid\"}", 0, "gone",
         "  ...and its background job is killed");
  EXPECT("bash", "{\"restart\":true}", 0, "bash session restarted", "restart");
  EXPECT("bash", "{}", 1, "bash: command is required", "missing command");
  EXPECT("bash", "{\"command\":\"env | grep -c ANTHROPIC_ || true\"}", 0, "0", "no ANTHROPIC_ variables");
  o = run("bash", "{\"command\":\"head -c 300000 /dev/zero | tr '\\\\0' x; echo; echo END\"}", &e);
  ok(!strncmp(o, "[output truncated]\n", 19), "long output: truncation marker first");
  ok(strlen(o) <= 19 + 100 * 1024 && strlen(o) > 100 * 1024 - 10, "long output: the 100 KiB tail (%zu)",
     strlen(o));
  ok(strlen(o) >= 3 && !strcmp(o + strlen(o) - 3, "END"), "long output: keeps the tail");
  free(o);
}

/* The shell started before the first call is the one that call uses; one
 * that died before any call reached it is started again unseen. */
static void
bash_ahead(void)
{
  char want[32];
  pid_t pid;

  EXPECT("bash", "{\"restart\":true}", 0, "bash session restarted", "ahead: no shell to begin with");
  tool_bash_ahead(&ctx);
  pid = ctx.bash.pid;
  ok(pid > 0, "ahead: a shell is started before any call");
  snprintf(want, sizeof(want), "%ld", (long)pid);
  EXPECT("bash", "{\"command\":\"echo $$\"}", 0, want, "ahead: the first call runs in it");
  EXPECT("bash", "{\"restart\":true}", 0, "bash session restarted", "ahead: restarted");
  tool_bash_ahead(&ctx);
  pid = ctx.bash.pid;
  ok(pid > 0 && kill(pid, SIGKILL) == 0 && waitpid(pid, NULL, 0) == pid,
     "ahead: the shell started ahead is killed before any call");
  EXPECT("bash", "{\"command\":\"echo fresh\"}", 0, "fresh",
         "ahead: the first call gets a fresh shell, not a terminated session");
  ok(ctx.bash.pid > 0 && ctx.bash.pid != pid, "ahead: ...a new process");
}

int
main(void)
{
  char tmpl[] = "/tmp/sandhook-tools-XXXXXX";

  setenv("ANTHROPIC_ENVIRONMENT_KEY", "must-not-leak", 1);
  if(!mkdtemp(tmpl))
    return 99;
  snprintf(wd, sizeof(wd), "%s", tmpl);
  if(tool_ctx_init(&ctx, wd, 10000) < 0)
    return 99;
  path_policy();
  globbing();
  file_tools();
  glob_grep();
  bash();
  bash_ahead();
  tool_ctx_free(&ctx);
  remove_tree(wd);
  return tap_done();
}
