/* The glob tool's matcher on a pattern and a path the agent both chose
 * (first line the pattern, the rest the path): it ends in time whatever
 * they are (libFuzzer's -timeout catches a hang), and within one segment
 * it answers as fnmatch(FNM_PERIOD) does. */
#include "fuzz.h"
#include "jail/tools/tools.h"

#include <fnmatch.h>

/* Where both matchers are meant to agree: one segment, no POSIX classes
 * or collating symbols (which the tool does not offer), no NUL, no lone backslash at the end
 * (a literal backslash to the tool and to bash, an error to fnmatch), no
 * '[' left open (literal to the tool; glibc's fnmatch answers no match
 * after a '*'). */
static int
left_open(const char *pat)
{
  const char *p;

  for(p = strchr(pat, '['); p; p = strchr(p + 1, '[')) {
    const char *q = p + 1;

    if(*q == '!' || *q == '^')
      q++;
    if(*q)
      q++;                          /* a ']' first is a member */
    if(!strchr(q, ']'))
      return 1;
  }
  return 0;
}

static int
comparable(const char *pat, const char *name)
{
  size_t n = strlen(pat), k = 0;

  if(left_open(pat))
    return 0;
  while(k < n && pat[n - 1 - k] == '\\')
    k++;
  return *name && k % 2 == 0 && !strchr(pat, '/') && !strchr(name, '/') && !strchr(pat, ':') &&
         !strchr(pat, '=') && !strstr(pat, "[.") && !strchr(pat, '{') && !strstr(pat, "**");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = fuzz_str(data, size), *f[2];
  int got;

  fuzz_fields(s, f, 2);
  if(f[1]) {
    got = glob_match(f[0], f[1]);
    FUZZ_ASSERT(got == 0 || got == 1);
    if(comparable(f[0], f[1]))
      FUZZ_ASSERT(got == (fnmatch(f[0], f[1], FNM_PERIOD) == 0));
  }
  free(s);
  return 0;
}
