/* protocol: what the drainer and the jail agree on without either calling
 * the other: the sandbox-routed tools of agent_toolset_20260401 (the
 * drainer routes a call by name; the jail runs it by number), the numbered
 * operations the drainer sends the jail (frame.h), and where the memory
 * stores are mounted inside the jail. */
#ifndef SANDHOOK_PROTOCOL_H
#define SANDHOOK_PROTOCOL_H

enum sandbox_tool {
  TOOL_BASH, TOOL_READ, TOOL_WRITE, TOOL_EDIT, TOOL_GLOB, TOOL_GREP,
  TOOL_COUNT,
  TOOL_NONE = -1
};

/* The tool's number, or TOOL_NONE for a tool that is not sandbox-routed. */
enum sandbox_tool sandbox_tool_lookup(const char *name);
const char *sandbox_tool_name(enum sandbox_tool t);

/* Each request frame is {"op": N, ...}, numbered as OpenBSD's imsg types
 * are; the jail maps each to its handler through one table, and answers
 * each with one frame.  Only JAIL_OP_TOOL comes from the agent; the others
 * are the drainer's own work, on paths it never resolves itself. */
enum jail_op {
  JAIL_OP_TOOL = 1,         /* {"tool","input","timeout_ms"}: {"is_error","content"} */
  JAIL_OP_SKILL_INSTALL,    /* {"name","max_bytes","max_entries"}, the archive's fd */
  JAIL_OP_SKILLS_REMOVE,    /* {"names"} */
  JAIL_OP_MEM_PREPARE,      /* the memory-store ops: see jail/memstore_files.h */
  JAIL_OP_MEM_SCAN,
  JAIL_OP_MEM_READ,
  JAIL_OP_MEM_WRITE,
  JAIL_OP_MEM_REMOVE,
  JAIL_OP_END
};

/* For log lines: "tool", "mem_scan", ...; "?" for a number out of range. */
const char *jail_op_name(enum jail_op op);

#define MEMORY_ROOT "/mnt/memory"
#define MEMORY_MARKER ".anthropic-memory-store"

#endif
