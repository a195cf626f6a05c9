#include "common/protocol.h"
#include "common/util.h"

#include <string.h>

static const char *const names[TOOL_COUNT] = {
  [TOOL_BASH] = "bash", [TOOL_READ] = "read", [TOOL_WRITE] = "write",
  [TOOL_EDIT] = "edit", [TOOL_GLOB] = "glob", [TOOL_GREP] = "grep",
};

enum sandbox_tool
sandbox_tool_lookup(const char *name)
{
  size_t i;

  for(i = 0; i < N_ELEMENTS(names); i++)
    if(!strcmp(names[i], name))
      return (enum sandbox_tool)i;
  return TOOL_NONE;
}

const char *
sandbox_tool_name(enum sandbox_tool t)
{
  return t >= 0 && t < TOOL_COUNT ? names[t] : NULL;
}

const char *
jail_op_name(enum jail_op op)
{
  static const char *const ops[JAIL_OP_END] = {
    [JAIL_OP_TOOL] = "tool", [JAIL_OP_SKILL_INSTALL] = "skill_install",
    [JAIL_OP_SKILLS_REMOVE] = "skills_remove", [JAIL_OP_MEM_PREPARE] = "mem_prepare",
    [JAIL_OP_MEM_SCAN] = "mem_scan", [JAIL_OP_MEM_READ] = "mem_read",
    [JAIL_OP_MEM_WRITE] = "mem_write", [JAIL_OP_MEM_REMOVE] = "mem_remove",
  };

  return op > 0 && op < JAIL_OP_END ? ops[op] : "?";
}
