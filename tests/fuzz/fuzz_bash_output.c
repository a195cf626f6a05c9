/* What a shell prints, as the agent makes it: NULs, escape sequences,
 * invalid UTF-8, floods, text like the end marker, in reads of any size.
 * The end is found exactly when the marker, a status and a newline have
 * arrived; the result is valid UTF-8 without NUL and within the limit. */
#include "fuzz.h"
#include "jail/tools/bash_output.h"
#include "common/utf8.h"

#define MARKER "__SANDHOOK_00112233445566778899aabb_DONE__"
#define KEEP 4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct bash_output o = { 0 };
  struct tool_result res = { 0, NULL, NULL, -1 };
  size_t off = 0, step;
  int status = 0, done = 0;
  const cJSON *text;

  if(size < 1)
    return 0;
  step = (size_t)data[0] * 7 + 1;
  data++, size--;
  while(off < size && !done) {
    size_t n = size - off < step ? size - off : step;

    FUZZ_ASSERT(bash_output_add(&o, (const char *)data + off, n, KEEP) == 0);
    off += n;
    FUZZ_ASSERT(o.len <= 2 * KEEP);
    done = bash_output_end(&o, MARKER, &status);
  }
  if(!done) {
    /* Not found: then no marker followed by a newline is in the newest
     * KEEP bytes either. */
    const char *m = memmem(data + (size > KEEP ? size - KEEP : 0), size > KEEP ? KEEP : size, MARKER,
                           strlen(MARKER));

    FUZZ_ASSERT(!m || !memchr(m, '\n', (size_t)((const char *)data + size - m)));
  }
  else
    FUZZ_ASSERT(!memmem(o.data, o.len, MARKER, strlen(MARKER)));
  bash_output_result(&o, status, &res);
  FUZZ_ASSERT(o.data == NULL);
  text = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(res.content, 0), "text");
  FUZZ_ASSERT(cJSON_IsString(text));
  FUZZ_ASSERT(utf8_valid(text->valuestring, strlen(text->valuestring)));
  FUZZ_ASSERT(strlen(text->valuestring) <= 3 * BASH_OUTPUT_LIMIT + 64);
  FUZZ_ASSERT(res.is_error == (status != 0));
  cJSON_Delete(res.content);
  return 0;
}
