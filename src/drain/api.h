/* api: the one HTTP client (libcurl) for the control plane.
 *
 * api_call sends one JSON request with the worker's headers and a Bearer
 * credential, and retries what the spec calls transient (408, 409, 429, 5xx,
 * network errors) with capped, jittered backoff that honours Retry-After,
 * until max_retries or the deadline; any other status is returned at once.
 * Each thread owns its own struct api.  *cancel, when set, cuts waits and
 * transfers short.  Tokens never leave this module except on the wire. */
#ifndef SANDHOOK_API_H
#define SANDHOOK_API_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stddef.h>
#include <time.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/errmsg.h"

#define API_VERSION "2026-10-21"
#define API_BETA_WORK "managed-agents-2026-04-01"

struct api {
  void *curl;
  void *multi;            /* runs each transfer, so api_wake can end its wait */
  const struct config *cfg;
  char worker_id[160];
  const volatile sig_atomic_t *cancel;
};

struct api_resp {
  long status;            /* 0: no HTTP response (network error) */
  char *body;
  size_t len;
  char error[256];        /* curl's text for a network error */
  long retry_after_ms;    /* the wait the last response asked for, 0: none */
};

struct api_req {
  const char *method;
  const char *path;       /* with its query string */
  const char *token;
  const char *body;       /* JSON, or NULL for no body */
  const char *beta;       /* anthropic-beta value, or NULL */
  const char *accept;     /* default application/json */
  int send_worker_id;
  long timeout_ms;        /* per attempt; 0: 30 s */
  int max_retries;        /* transient retries after the first attempt */
  long long deadline_ms;  /* monotonic; 0: none */
};

typedef size_t (*api_sink)(const char *data, size_t len, void *ctx);

int api_init(struct api *a, const struct config *cfg, const volatile sig_atomic_t *cancel);
void api_cleanup(struct api *a);
/* From another thread: the transfer running on a stops waiting at once and
 * asks its stop and cancel flags, instead of at its next once-a-second
 * check.  Safe to call at any time while a is initialised. */
void api_wake(struct api *a);

/* 0 with resp->status set to the final HTTP status, or -1 when no response
 * came (resp->error says why).  resp must be freed with api_resp_free. */
int api_call(struct api *a, const struct api_req *rq, struct api_resp *resp);

/* api_call for a JSON answer: the parsed body of a 200 (NULL for any other
 * status or a body that does not parse), the final status in *status (0: no
 * response), curl's text for a network error in err when err is not NULL. */
cJSON *api_json(struct api *a, const struct api_req *rq, long *status, struct errmsg *err);

/* A streaming GET: every byte goes to sink; returns like api_call, without
 * retries.  The transfer ends when the server closes, *cancel is set or
 * stop(ctx) returns non-zero. */
int api_stream(struct api *a, const struct api_req *rq, api_sink sink,
               int (*stop)(void *ctx), void *ctx, struct api_resp *resp);

/* A GET whose 200 body is written to fd (from its start, at most max
 * bytes), with api_call's retries; a cut-off or oversized body is -1 with
 * resp->error saying why.  Any other status's body is in resp. */
int api_download(struct api *a, const struct api_req *rq, int fd, size_t max,
                 struct api_resp *resp);
void api_resp_free(struct api_resp *resp);
int api_transient(long status);
/* What one response header line says.  data and len are the line as
 * libcurl hands it (CRLF included, not NUL-terminated), bytes from whoever
 * answered.  *value gets a status line's code (100-599, else 0), or the
 * wait a Retry-After (delta-seconds or an HTTP-date, against now_s) or a
 * retry-after-ms asks, in ms within 0..API_RETRY_AFTER_MAX_MS (0: none,
 * unreadable, or past), as the official SDK reads them. */
enum api_header { API_HEADER_OTHER, API_HEADER_STATUS, API_HEADER_RETRY_AFTER,
                  API_HEADER_RETRY_AFTER_MS, API_HEADER_END };
#define API_RETRY_AFTER_MAX_MS 3600000L
enum api_header api_header(const char *data, size_t len, time_t now_s, long *value);
/* The wait before retry attempt (0-based): exponential with jitter, or the
 * server's when longer, never over a minute. */
long api_backoff_ms(int attempt, long retry_after_ms);

/* One log line (event) for a call that failed: the control plane's host,
 * the status or the network error, the API's own error message, and a hint
 * naming the setting to check (the key for a 401, the environment id for a
 * 404 on it, the base URL when nothing answered).  Never a token. */
void api_log_failure(const struct api *a, const struct api_req *rq, const struct api_resp *r,
                     const char *event);

/* Percent-encodes s for a query string or path segment; free() the result. */
char *api_escape(struct api *a, const char *s);


#endif
