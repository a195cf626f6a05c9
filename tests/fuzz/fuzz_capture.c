/* A captured or hand-written HTTP/1.1 request, read back by `sandhook
 * replay`: every parameter is NAME=value, the body lies inside the file,
 * a Content-Length that is not the body's says why, and a parameter set
 * afterwards reads back. */
#include "fuzz.h"
#include "front/capture.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct captured c;
  const char *why = NULL;
  size_t i;

  memset(&c, 0, sizeof(c));
  if(capture_parse((const char *)data, size, &c, &why) < 0) {
    FUZZ_ASSERT(why && *why);
    captured_free(&c);
    return 0;
  }
  FUZZ_ASSERT(c.nparams <= CAPTURE_MAX_PARAMS && c.params[c.nparams] == NULL);
  for(i = 0; i < c.nparams; i++)
    FUZZ_ASSERT(strchr(c.params[i], '=') != NULL);
  FUZZ_ASSERT(c.body_len <= size);
  {
    struct errmsg why2 = ERRMSG_INIT;

    if(!captured_length_matches(&c, &why2))
      FUZZ_ASSERT(errmsg_isset(&why2));
  }
  if(captured_set(&c, "HTTP_WEBHOOK_TIMESTAMP", "1767225600") == 0)
    FUZZ_ASSERT(!strcmp(captured_param(&c, "HTTP_WEBHOOK_TIMESTAMP"), "1767225600"));
  captured_free(&c);
  return 0;
}
