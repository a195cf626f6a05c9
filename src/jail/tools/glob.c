#include "jail/tools/tools.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "common/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PATTERNS 64

struct patterns {
  char *p[MAX_PATTERNS];
  int n;
};

/* Expands the first {a,b} group and recurses; bounded by MAX_PATTERNS. */
static int
expand_braces(const char *pat, struct patterns *out)
{
  const char *open = strchr(pat, '{'), *close_b, *q, *start;
  int depth = 0;

  if(!open) {
    if(out->n >= MAX_PATTERNS)
      return -1;
    out->p[out->n] = strdup(pat);
    return out->p[out->n++] ? 0 : -1;
  }
  for(close_b = open; *close_b; close_b++) {
    if(*close_b == '{')
      depth++;
    else if(*close_b == '}' && --depth == 0)
      break;
  }
  if(!*close_b) {
    if(out->n >= MAX_PATTERNS)
      return -1;
    out->p[out->n] = strdup(pat);
    return out->p[out->n++] ? 0 : -1;
  }
  depth = 0;
  for(start = q = open + 1; q <= close_b; q++) {
    if(*q == '{')
      depth++;
    else if(*q == '}' && depth)
      depth--;
    else if((*q == ',' && depth == 0) || q == close_b) {
      char *alt;

      if(asprintf(&alt, "%.*s%.*s%s", (int)(open - pat), pat, (int)(q - start),
                  start, close_b + 1) < 0)
        return -1;
      if(expand_braces(alt, out) < 0) {
        free(alt);
        return -1;
      }
      free(alt);
      start = q + 1;
    }
  }
  return 0;
}

/* One bracket expression at p ('[' already passed) against c; *end gets
 * what follows the ']', or NULL when there is none (then '[' is literal). */
static int
in_class(const char *p, unsigned char c, const char **end)
{
  int neg = *p == '!' || *p == '^', hit = 0, first = 1;

  if(neg)
    p++;
  for(; *p && (first || *p != ']'); first = 0) {
    unsigned char lo = (unsigned char)(*p == '\\' && p[1] ? *++p : *p), hi = lo;

    p++;
    if(*p == '-' && p[1] && p[1] != ']') {
      hi = (unsigned char)(p[1] == '\\' && p[2] ? p[2] : p[1]);
      p += p[1] == '\\' && p[2] ? 3 : 2;
    }
    hit |= c >= lo && c <= hi;
  }
  *end = *p == ']' ? p + 1 : NULL;
  return hit != neg;
}

/* One path segment against one pattern segment, as fnmatch(FNM_PERIOD)
 * would, but in O(|p| x |s|): on a mismatch only the last '*' is retried,
 * so no pattern, however many stars it has, can backtrack exponentially. */
static int
seg_match(const char *p, const char *s)
{
  const char *star_p = NULL, *star_s = NULL;

  if(*s == '.' && *p != '.' && !(*p == '\\' && p[1] == '.'))
    return 0;
  while(*s) {
    const char *next = NULL;

    if(*p == '*') {
      while(*p == '*')
        p++;
      star_p = p;
      star_s = s;
      continue;
    }
    if(*p == '?')
      next = p + 1;
    else if(*p == '[') {
      const char *end;

      if(in_class(p + 1, (unsigned char)*s, &end) && end)
        next = end;
      else if(!end && *s == '[')
        next = p + 1;
    }
    else if(*p == '\\' && p[1]) {
      if(p[1] == *s)
        next = p + 2;
    }
    else if(*p && *p == *s)
      next = p + 1;
    if(next) {
      p = next;
      s++;
    }
    else if(star_p) {
      p = star_p;
      s = ++star_s;
    }
    else
      return 0;
  }
  while(*p == '*')
    p++;
  return !*p;
}

/* '**' segments by dynamic programming over (pattern segment, path
 * segment): each pair is decided once, so the cost is np x ns matches. */
static int
match_segs(char **pat, int np, char **seg, int ns)
{
  unsigned char *dp = calloc((size_t)(np + 1) * (size_t)(ns + 1), 1);
  int i, j, r;

  if(!dp)
    return 0;
#define DP(i, j) dp[(size_t)(i) * (size_t)(ns + 1) + (size_t)(j)]
  DP(np, ns) = 1;
  for(i = np - 1; i >= 0; i--)
    for(j = ns; j >= 0; j--) {
      if(!strcmp(pat[i], "**"))
        DP(i, j) = DP(i + 1, j) || (j < ns && DP(i, j + 1));
      else
        DP(i, j) = j < ns && DP(i + 1, j + 1) && seg_match(pat[i], seg[j]);
    }
  r = DP(0, 0);
#undef DP
  free(dp);
  return r;
}

static int
split(char *s, char **segs, int max)
{
  int n = 0;
  char *save = NULL, *t;

  for(t = strtok_r(s, "/", &save); t && n < max; t = strtok_r(NULL, "/", &save))
    segs[n++] = t;
  return t ? -1 : n;
}

int
glob_match(const char *pattern, const char *path)
{
  char pb[4096], sb[4096], *ps[256], *ss[256];
  int np, ns;

  if(strlen(pattern) >= sizeof(pb) || strlen(path) >= sizeof(sb))
    return 0;
  strcpy(pb, pattern);
  strcpy(sb, path);
  np = split(pb, ps, 256);
  ns = split(sb, ss, 256);
  return np >= 0 && ns >= 0 && match_segs(ps, np, ss, ns);
}

struct hit {
  char *path;
  long long mtime_ns;
};

struct glob_state {
  struct patterns *pats;
  struct hit *hits;
  size_t n, cap;
};

static int
on_file(int dfd, const char *name, const char *rel, const struct stat *st, void *p)
{
  struct glob_state *g = p;
  int i;

  (void)dfd;
  (void)name;
  for(i = 0; i < g->pats->n; i++)
    if(glob_match(g->pats->p[i], rel))
      break;
  if(i == g->pats->n)
    return 0;
  if(grow_array(&g->hits, &g->cap, g->n, sizeof(*g->hits)) < 0)
    return -1;
  g->hits[g->n].path = strdup(rel);
  if(!g->hits[g->n].path)
    return -1;
  g->hits[g->n].mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
  g->n++;
  return 0;
}

static int
newest_first(const void *a, const void *b)
{
  const struct hit *x = a, *y = b;

  if(x->mtime_ns != y->mtime_ns)
    return x->mtime_ns < y->mtime_ns ? 1 : -1;
  return strcmp(x->path, y->path);
}

static int
pattern_ascends(const char *pat)
{
  const char *p = pat;

  /* ".." as any segment, also inside a brace alternative. */
  while((p = strstr(p, ".."))) {
    int before = p == pat || strchr("/{,", p[-1]);
    int after = !p[2] || strchr("/},", p[2]);

    if(before && after)
      return 1;
    p += 2;
  }
  return 0;
}

void
tool_glob(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res)
{
  const char *pattern = json_str(in, "pattern");
  const char *path = json_str(in, "path");
  struct patterns pats = { { 0 }, 0 };
  struct glob_state g = { &pats, NULL, 0, 0 };
  struct place pl;
  struct strbuf out = STRBUF_INIT;
  size_t i;
  int rc, root;

  if(!pattern || !*pattern) {
    tool_text(res, 1, "glob: pattern is required");
    return;
  }
  if(pattern[0] == '/') {
    tool_text(res, 1, "glob: absolute pattern not permitted; pass a relative pattern (and optionally path)");
    return;
  }
  if(pattern_ascends(pattern)) {
    tool_text(res, 1, "glob: \"..\" is not permitted in the pattern");
    return;
  }
  rc = path_confine(ctx, path && *path ? path : ".", &pl);
  if(rc != PATH_OK) {
    path_error(res, "glob", path, rc, &pl);
    return;
  }
  root = path_open(&pl, pl.rel, O_RDONLY | O_DIRECTORY, 0);
  if(root < 0) {
    path_error(res, "glob", path ? path : ".", -1, &pl);
    return;
  }
  if(expand_braces(pattern, &pats) < 0) {
    tool_text(res, 1, "glob: pattern has too many brace alternatives");
    goto out;
  }
  rc = tool_walk(root, on_file, &g);
  if(rc < 0) {
    path_error(res, "glob", path ? path : ".", -1, &pl);
    goto out;
  }
  if(g.n == 0 && rc != WALK_CUT) {
    tool_text(res, 0, "no matches");
    goto out;
  }
  if(g.n)
    qsort(g.hits, g.n, sizeof(*g.hits), newest_first);
  for(i = 0; i < g.n && i < GLOB_RESULT_LIMIT; i++)
    sb_printf(&out, "%s%s/%s%s%s", i ? "\n" : "", pl.root->path,
              strcmp(pl.rel, ".") ? pl.rel : "", strcmp(pl.rel, ".") ? "/" : "", g.hits[i].path);
  if(rc == WALK_CUT)
    sb_append(&out, WALK_CUT_NOTE, strlen(WALK_CUT_NOTE));
  if(out.failed)
    tool_text(res, 1, "glob: out of memory");
  else
    tool_text_raw(res, 0, out.data, out.len);
out:
  sb_release(&out);
  for(i = 0; i < g.n; i++)
    free(g.hits[i].path);
  free(g.hits);
  for(rc = 0; rc < pats.n; rc++)
    free(pats.p[rc]);
  close(root);
}
