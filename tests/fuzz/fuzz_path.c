/* Path confinement, the file tools' first gate: any path the agent gives,
 * of any length.  A path it lets through lies, once normalised by a
 * reference written here, under the root it names, as root/rel with no
 * empty, "." or ".." component; one it calls outside is under no root. */
#include "fuzz.h"
#include "jail/tools/tools.h"

#include <errno.h>

static const char *const roots[] = { "/workspace", "/mnt/memory/notes", "/mnt/memory/notes/deep",
                                     "/mnt/memory/team" };

/* The reference: "/" joined normalised segments, NULL when ".." climbs
 * above "/". */
static char *
normalise(const char *workdir, const char *p)
{
  char *in, *out, *save = NULL, *s;
  size_t o = 0;

  if(asprintf(&in, "%s%s%s", p[0] == '/' ? "" : workdir, p[0] == '/' ? "" : "/", p) < 0)
    abort();
  out = malloc(strlen(in) + 2);
  FUZZ_ASSERT(out);
  out[0] = '\0';
  for(s = strtok_r(in, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
    if(!strcmp(s, "."))
      continue;
    if(!strcmp(s, "..")) {
      char *slash = strrchr(out, '/');

      if(!slash) {
        free(in);
        free(out);
        return NULL;
      }
      *slash = '\0';
      o = (size_t)(slash - out);
      continue;
    }
    o += (size_t)sprintf(out + o, "/%s", s);
  }
  if(!o)
    strcpy(out, "/");
  free(in);
  return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct tool_ctx ctx;
  struct place pl;
  char *p = fuzz_str(data, size), *want;
  size_t i;
  int rc;

  memset(&ctx, 0, sizeof(ctx));
  ctx.workdir = roots[0];
  for(i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
    ctx.roots[i].path = roots[i];
    ctx.roots[i].fd = -1;
  }
  ctx.nroots = (int)i;
  rc = path_confine(&ctx, p, &pl);
  want = normalise(ctx.workdir, p);
  if(rc == PATH_OK) {
    char *got;

    FUZZ_ASSERT(want && pl.root);
    FUZZ_ASSERT(strlen(pl.rel) < sizeof(pl.rel) && pl.rel[0] && pl.rel[0] != '/');
    if(asprintf(&got, "%s%s%s", pl.root->path, strcmp(pl.rel, ".") ? "/" : "",
                strcmp(pl.rel, ".") ? pl.rel : "") < 0)
      abort();
    FUZZ_ASSERT(!strcmp(got, want));
    FUZZ_ASSERT(!strstr(got, "//") && !strstr(got, "/./") && !strstr(got, "/../"));
    for(i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
      FUZZ_ASSERT(!fuzz_under(want, roots[i]) || strlen(roots[i]) <= strlen(pl.root->path));
    free(got);
  }
  else if(rc == PATH_OUTSIDE) {
    for(i = 0; want && i < sizeof(roots) / sizeof(roots[0]); i++)
      FUZZ_ASSERT(!fuzz_under(want, roots[i]));
  }
  else
    FUZZ_ASSERT(rc == PATH_ERRNO && errno == ENAMETOOLONG);
  free(want);
  free(p);
  return 0;
}
