/* What the control plane answers a poll with: the work object and the
 * base64url JSON secret riding in it, and the agent.tool_use events whose
 * permission field decides what runs.  Ids come out bounded and
 * NUL-terminated, a token only from a secret that decodes, and the gate
 * runs a call only on an absent field or "allow". */
#include "fuzz.h"
#include "drain/queue.h"
#include "drain/session.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct work_item item;
  char *secret = NULL, *token;
  cJSON *doc;

  memset(&item, 0, sizeof(item));
  if(work_parse((const char *)data, size, &item, &secret) == 0) {
    FUZZ_ASSERT(strlen(item.id) < sizeof(item.id) && strlen(item.data_id) < sizeof(item.data_id));
    FUZZ_ASSERT(strlen(item.data_type) < sizeof(item.data_type));
  }
  if(secret) {
    token = secret_sessions_token(secret);
    free(token);
    free(secret);
  }
  work_item_clear(&item);
  {
    char *s = fuzz_str(data, size);

    free(secret_sessions_token(s));
    free(s);
  }
  doc = cJSON_ParseWithLength((const char *)data, size);
  if(doc) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(doc, "evaluated_permission");
    enum gate g = permission_gate(doc);

    if(g == GATE_RUN)
      FUZZ_ASSERT(!p || (cJSON_IsString(p) && !strcmp(p->valuestring, "allow")));
    cJSON_Delete(doc);
  }
  return 0;
}
