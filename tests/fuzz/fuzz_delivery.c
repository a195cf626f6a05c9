/* The delivery's JSON envelope, parsed after verification: the control
 * plane, or whoever holds the key, chooses every byte.  The first line is
 * the webhook-id header. */
#include "fuzz.h"
#include "front/webhook.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = fuzz_str(data, size), *f[2];
  struct wh_event ev;
  const char *why = NULL;

  fuzz_fields(s, f, 2);
  if(f[1]) {
    size_t blen = size - (size_t)(f[1] - s);

    if(webhook_parse(f[1], blen, f[0], &ev, &why) == 0) {
      FUZZ_ASSERT(!strcmp(ev.id, f[0]));
      FUZZ_ASSERT(strlen(ev.data_type) < sizeof(ev.data_type));
      FUZZ_ASSERT(strlen(ev.data_id) < sizeof(ev.data_id));
    }
    else
      FUZZ_ASSERT(why && *why);
  }
  free(s);
  return 0;
}
