/* The logger, given values anyone may have chosen (a path the agent made,
 * a name from an archive, an error text from the control plane): each
 * line parses back as strict logfmt into exactly the fields written, the
 * values whole (up to the logger's per-value cap); in JSON format, the
 * line is one JSON object whose strings are those values, made valid
 * UTF-8. */
#include "fuzz.h"
#include "common/log.h"
#include "common/utf8.h"
#include "../unit/logfmt.h"

#include <cjson/cJSON.h>

#include <fcntl.h>
#include <unistd.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static char path[64];
  static int fd = -1, saved = -1;
  char *s = fuzz_str(data, size), *f[2], line[16384];
  struct field fields[16];
  ssize_t got;
  int n;

  if(fd < 0) {
    snprintf(path, sizeof(path), "/tmp/sandhook-fuzz-log.%d", (int)getpid());
    log_init("fuzz");
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    saved = dup(STDERR_FILENO);
    FUZZ_ASSERT(fd >= 0 && saved >= 0);
  }
  fuzz_fields(s, f, 2);
  FUZZ_ASSERT(ftruncate(fd, 0) == 0);
  /* The logger writes to stderr; libFuzzer's own lines must not land in
   * the file, so stderr is the file only for this one call. */
  FUZZ_ASSERT(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
  log_warn("fuzz_event", "path=%s n=%d reason=%s", f[0], 42, f[1] ? f[1] : "");
  FUZZ_ASSERT(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
  got = pread(fd, line, sizeof(line) - 1, 0);
  FUZZ_ASSERT(got > 0 && line[got - 1] == '\n');
  line[got] = '\0';
  FUZZ_ASSERT(strchr(line, '\n') == line + got - 1);
  n = logfmt_parse(line, fields, 16);
  FUZZ_ASSERT(n > 0);
  FUZZ_ASSERT(!strcmp(logfmt_get(fields, n, "event"), "fuzz_event"));
  FUZZ_ASSERT(!strcmp(logfmt_get(fields, n, "n"), "42"));
  if(strlen(f[0]) < 1000)
    FUZZ_ASSERT(!strcmp(logfmt_get(fields, n, "path"), f[0]));
  if(f[1] && strlen(f[1]) < 1000)
    FUZZ_ASSERT(!strcmp(logfmt_get(fields, n, "reason"), f[1]));

  FUZZ_ASSERT(ftruncate(fd, 0) == 0);
  log_set_json(1);
  FUZZ_ASSERT(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
  log_warn("fuzz_event", "path=%s n=%d reason=%s", f[0], 42, f[1] ? f[1] : "");
  FUZZ_ASSERT(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
  log_set_json(0);
  got = pread(fd, line, sizeof(line) - 1, 0);
  FUZZ_ASSERT(got > 0 && line[got - 1] == '\n');
  line[got] = '\0';
  FUZZ_ASSERT(strchr(line, '\n') == line + got - 1);
  {
    cJSON *o = cJSON_Parse(line);
    const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "path"));
    char *want = utf8_clean(f[0], strlen(f[0]), NULL);

    FUZZ_ASSERT(o && path && want);
    FUZZ_ASSERT(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "event")),
                        "fuzz_event"));
    FUZZ_ASSERT(utf8_valid(line, (size_t)got));
    if(strlen(f[0]) < 1000)
      FUZZ_ASSERT(!strcmp(path, want));
    free(want);
    cJSON_Delete(o);
  }
  free(s);
  return 0;
}
