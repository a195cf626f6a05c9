/* The permission gate: fail closed on everything but absent and "allow". */
#include <cjson/cJSON.h>

#include "drain/session.h"
#include "tap.h"

static enum gate
gate(const char *json)
{
  cJSON *ev = cJSON_Parse(json);
  enum gate g = permission_gate(ev);

  cJSON_Delete(ev);
  return g;
}

int
main(void)
{
  is_int(gate("{\"type\":\"agent.tool_use\"}"), GATE_RUN, "absent: run");
  is_int(gate("{\"evaluated_permission\":\"allow\"}"), GATE_RUN, "allow: run");
  is_int(gate("{\"evaluated_permission\":\"deny\"}"), GATE_DENY, "deny: never run");
  is_int(gate("{\"evaluated_permission\":\"ask\"}"), GATE_HOLD, "ask: hold");
  is_int(gate("{\"evaluated_permission\":null}"), GATE_HOLD, "explicit null: hold");
  is_int(gate("{\"evaluated_permission\":\"maybe\"}"), GATE_HOLD, "unknown value: hold");
  is_int(gate("{\"evaluated_permission\":true}"), GATE_HOLD, "not a string: hold");
  is_int(gate("{\"evaluated_permission\":\"ALLOW\"}"), GATE_HOLD, "case matters: hold");
  return tap_done();
}
