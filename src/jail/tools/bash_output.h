/* bash_output: what the shell printed, from raw bytes to the tool result.
 *
 * The bytes are the agent's to choose: NULs, escape sequences, invalid
 * UTF-8, floods, text that looks like the end marker.  The buffer keeps
 * the newest `keep` bytes, finds the per-call end marker by length (never
 * as a C string), and the result is stripped of ANSI sequences, cut to
 * BASH_OUTPUT_LIMIT from the end and cleaned to UTF-8 by tool_text_raw. */
#ifndef SANDHOOK_BASH_OUTPUT_H
#define SANDHOOK_BASH_OUTPUT_H

#include "jail/tools/tools.h"
#include <stddef.h>

struct bash_output {
  char *data;
  size_t len, cap;
  int truncated;                /* older bytes were dropped */
};

/* Appends n bytes, dropping all but the newest keep when it grows past
 * twice that; -1 when out of memory. */
int bash_output_add(struct bash_output *o, const char *d, size_t n, size_t keep);
/* 1 when marker, an exit status and a newline have arrived: the output is
 * cut before the marker and *status set (clamped to an int); else 0. */
int bash_output_end(struct bash_output *o, const char *marker, int *status);
/* Fills res from the output and the exit status (official texts), and
 * frees the buffer. */
void bash_output_result(struct bash_output *o, int status, struct tool_result *res);

#endif
