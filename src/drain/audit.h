/* audit: SANDHOOK_AUDIT_FILE, an audit trail whose edits show.
 *
 * One JSON line per event worth an auditor's time: each tool call (its
 * input's and output's SHA-256, is_error, duration), each egress
 * connection, each skill installed and each memory file synced.  Every
 * line starts {"seq":N,"prev":"<hex>", ...}: seq counts from 1, prev is the
 * SHA-256 of the previous line's bytes (64 zeros for the first).  Every
 * process appends the same way: O_APPEND, under flock, reading the last
 * line to chain to, one write per line, so concurrent drainers keep one
 * chain.  audit_verify walks it and names the first line that was changed,
 * removed, inserted or moved.  The chain proves the lines before the last;
 * the last line's hash (audit_head, in each work_finished line and printed
 * by verify) is what to keep elsewhere to prove the tail too.  Each line
 * names the work item and session the calling thread logs for (log_ids). */
#ifndef SANDHOOK_AUDIT_H
#define SANDHOOK_AUDIT_H

#include <cjson/cJSON.h>

#include "common/config.h"
#include "drain/digest.h"

/* Opens SANDHOOK_AUDIT_FILE once for this process (nothing when unset);
 * 0, or -1 with errno. */
int audit_open(const struct config *cfg);

/* Appends event (seq and prev go first; the caller keeps event).  A write
 * that fails is logged; the work goes on. */
void audit_append(cJSON *event);

/* Adds "<name>_sha256" for text to event. */
void audit_add_hash(cJSON *event, const char *name, const char *text);


/* One tool call: the hashes of its input and of the result's content. */
void audit_tool_call(const char *tool_use_id, const char *tool, const cJSON *input,
                     const cJSON *result, long long duration_ms);

/* An event of type with string fields given as name, value pairs ending
 * in NULL. */
void audit_event(const char *type, ...) __attribute__((sentinel));

/* The hash of the last line this process appended (any of its threads),
 * or "", copied into out. */
void audit_head(char out[SHA256_HEX_LEN]);

/* The chain in text: 0 with the number of lines and the last one's hash
 * (head, "" for an empty trail), or -1 with the first broken line's
 * number and why (fixed text). */
int audit_verify(const char *text, size_t len, long long *lines, const char **why,
                 char head[SHA256_HEX_LEN]);

/* `sandhook audit verify FILE`: one line on stdout; 0 when the chain
 * holds, 1 naming the first broken line, 2 when the file cannot be read. */
int audit_verify_main(const char *path);

#endif
