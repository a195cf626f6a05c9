/* metrics: the host's counters, in the Prometheus text format.
 *
 * STATE/run/metrics is one fixed table of 64-bit counters, mapped shared by
 * every sandhook process on the host and bumped with atomic adds: a CGI
 * responder that lives for one request, the drainers and a long-lived
 * FastCGI responder count into the same series, with no daemon and no lock,
 * and a process killed mid-way loses at most its own add.  The table starts
 * with a magic and its layout's size; one of another layout (an upgrade)
 * is replaced and counts from zero, as Prometheus counters may.
 * metrics_render adds the gauges of the moment (slots, drainers running)
 * from runstate.  Until metrics_open succeeds the counting calls do
 * nothing: metrics never stop a delivery or a call. */
#ifndef SANDHOOK_METRICS_H
#define SANDHOOK_METRICS_H

#include "common/strbuf.h"

enum work_outcome {
  WORK_DONE, WORK_LEASE_LOST, WORK_TERMINATED, WORK_NOT_A_SESSION, WORK_ACK_FAILED,
  WORK_LEASE_FAILED, WORK_OUTCOMES
};

const char *metrics_outcome_name(enum work_outcome o);

/* 0, or -1 with errno (counting then does nothing). */
int metrics_open(const char *state_dir);

void metrics_delivery(int http_status);
void metrics_work_item(enum work_outcome outcome);
/* tool: a sandbox tool's name; error: NULL for a success, else the reason
 * the jail gave (exit_code, timeout, terminated, ...). */
void metrics_tool_call(const char *tool, const char *error, long long duration_ms);
/* A control-plane call that failed: status 0 for no HTTP answer. */
void metrics_api_error(const char *method, const char *path, long status);
void metrics_lease_lost(void);

/* The whole exposition; max_sessions for the slots gauge. */
void metrics_render(struct strbuf *sb, const char *state_dir, int max_sessions);

/* Writes the exposition to path atomically, for node_exporter's textfile
 * collector.  0, or -1 with errno. */
int metrics_write_file(const char *path, const char *state_dir, int max_sessions);

#endif
