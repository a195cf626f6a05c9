/* sandhook audit verify reads a file anyone with access may have edited.
 * Whatever it holds: no crash; a verdict names a line within the file;
 * and a trail of these bytes with one more line chained to it by the
 * rules verifies exactly when the bytes did. */
#include "fuzz.h"
#include "drain/audit.h"

#include <stdio.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char head[SHA256_HEX_LEN], line[256];
  const char *why;
  long long lines, n2;
  int rc = audit_verify((const char *)data, size, &lines, &why, head);
  size_t i, newlines = 0;

  for(i = 0; i < size; i++)
    newlines += data[i] == '\n';
  FUZZ_ASSERT(lines >= 0 && (size_t)lines <= newlines + 1);
  FUZZ_ASSERT(rc == 0 ? why == NULL && (size_t)lines == newlines : why != NULL && lines >= 1);
  if(rc == 0) {
    char *more = malloc(size + sizeof(line));
    int n = snprintf(line, sizeof(line), "{\"seq\":%lld,\"prev\":\"%s\",\"type\":\"x\"}\n", lines + 1,
                     lines ? head : "0000000000000000000000000000000000000000000000000000000000000000");

    memcpy(more, data, size);
    memcpy(more + size, line, (size_t)n);
    FUZZ_ASSERT(audit_verify(more, size + (size_t)n, &n2, &why, head) == 0 && n2 == lines + 1);
    free(more);
  }
  return 0;
}
