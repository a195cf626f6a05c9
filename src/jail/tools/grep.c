#define PCRE2_CODE_UNIT_WIDTH 8
#include "jail/tools/tools.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "common/json.h"

#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GREP_MAX_LINE 2000

struct grep_state {
  pcre2_code *re;
  pcre2_match_data *md;
  struct strbuf out;
  const char *prefix;     /* absolute directory the rel paths hang off */
  int truncated, hits;
};

/* Adds one hit line, or marks the output truncated when it would pass the
 * cap; returns non-zero to stop the search. */
static int
emit(struct grep_state *g, const char *path, long lineno, const char *line, size_t len)
{
  /* Measured, not formatted into a fixed buffer: a display path can be as
   * long as the tree is deep. */
  size_t n = (g->hits ? 1 : 0) + strlen(path) + (size_t)snprintf(NULL, 0, ":%ld:", lineno);

  if(g->out.len + n + len > GREP_OUTPUT_LIMIT) {
    g->truncated = 1;
    return 1;
  }
  sb_printf(&g->out, "%s%s:%ld:", g->hits ? "\n" : "", path, lineno);
  sb_append(&g->out, line, len);
  g->hits++;
  return g->out.failed;
}

static int
grep_fd(struct grep_state *g, int fd, const char *display)
{
  FILE *f = fdopen(fd, "re");
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  long lineno = 0;
  int stop = 0;

  if(!f) {
    close(fd);
    return 0;
  }
  while(!stop && (len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    /* A NUL marks a binary file: stop reading it, as the official walk
     * does, but keep what matched before. */
    if(memchr(line, '\0', (size_t)len))
      break;
    if(len && line[len - 1] == '\n')
      len--;
    if(len && line[len - 1] == '\r')
      len--;
    if(len > GREP_MAX_LINE)
      continue;
    if(pcre2_match(g->re, (PCRE2_SPTR)line, (size_t)len, 0, 0, g->md, NULL) >= 0)
      stop = emit(g, display, lineno, line, (size_t)len);
  }
  free(line);
  fclose(f);
  return stop;
}

static int
on_file(int dfd, const char *name, const char *rel, const struct stat *st, void *p)
{
  struct grep_state *g = p;
  char display[8192];
  int fd;

  (void)st;
  fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if(fd < 0)
    return 0;
  snprintf(display, sizeof(display), "%s/%s", g->prefix, rel);
  return grep_fd(g, fd, display);
}

void
tool_grep(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res)
{
  const char *pattern = json_str(in, "pattern");
  const char *path = json_str(in, "path");
  struct grep_state g;
  struct place pl;
  char prefix[8192], msg[256];
  int rc, fd, errcode, cut = 0;
  PCRE2_SIZE erroff;
  struct stat st;

  memset(&g, 0, sizeof(g));
  if(!pattern || !*pattern) {
    tool_text(res, 1, "grep: pattern is required");
    return;
  }
  rc = path_confine(ctx, path && *path ? path : ".", &pl);
  if(rc != PATH_OK) {
    path_error(res, "grep", path, rc, &pl);
    return;
  }
  g.re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                       PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode, &erroff, NULL);
  if(!g.re) {
    pcre2_get_error_message(errcode, (PCRE2_UCHAR *)msg, sizeof(msg));
    tool_text(res, 1, "grep: invalid regex: %s at offset %zu", msg, (size_t)erroff);
    return;
  }
  g.md = pcre2_match_data_create_from_pattern(g.re, NULL);
  fd = path_open(&pl, pl.rel, O_RDONLY | O_NONBLOCK, 0);
  if(!g.md || fd < 0 || fstat(fd, &st) < 0) {
    path_error(res, "grep", path ? path : ".", -1, &pl);
    if(fd >= 0)
      close(fd);
    goto out;
  }
  snprintf(prefix, sizeof(prefix), "%s%s%s", pl.root->path,
           strcmp(pl.rel, ".") ? "/" : "", strcmp(pl.rel, ".") ? pl.rel : "");
  g.prefix = prefix;
  if(S_ISREG(st.st_mode))
    grep_fd(&g, fd, prefix);
  else {
    cut = tool_walk(fd, on_file, &g) == WALK_CUT && !g.truncated;
    close(fd);
  }
  if(g.out.failed)
    tool_text(res, 1, "grep: out of memory");
  else if(g.hits == 0 && !g.truncated)
    tool_text(res, 0, "no matches");
  else {
    if(g.truncated)
      sb_printf(&g.out, "\n[output truncated at %d bytes]", GREP_OUTPUT_LIMIT);
    else if(cut)
      sb_append(&g.out, WALK_CUT_NOTE, strlen(WALK_CUT_NOTE));
    tool_text_raw(res, 0, g.out.data, g.out.len);
  }
out:
  sb_release(&g.out);
  pcre2_match_data_free(g.md);
  pcre2_code_free(g.re);
}
