/* queue: the environment's work queue (poll, ack, stop) and the per-item
 * secret.  Poll carries reclaim_older_than_ms, non-blocking as the
 * webhook-triggered pattern drains, or long (block_ms) as sandhook run does; poll and ack use the environment key,
 * stop uses the item's bearer (sessions token, else environment key). */
#ifndef SANDHOOK_QUEUE_H
#define SANDHOOK_QUEUE_H

#include "drain/api.h"

struct work_item {
  char id[128];
  char data_type[64];
  char data_id[256];
  char *sessions_token;       /* secret; NULL when the item carried none */
};

enum poll_result { POLL_ERROR = -1, POLL_EMPTY = 0, POLL_ITEM = 1, POLL_FATAL = -2 };

/* block_ms 0: a non-blocking poll; else the server holds an empty poll
 * open that long (1-999). */
enum poll_result queue_poll(struct api *a, struct work_item *item, long block_ms);
int queue_ack(struct api *a, const struct work_item *item);
/* Force-stop; 409 counts as already stopped.  0 on success. */
int queue_stop(struct api *a, const struct work_item *item);
void work_item_clear(struct work_item *item);

/* The bearer for calls about this item. */
const char *work_bearer(const struct api *a, const struct work_item *item);

/* Decodes the base64url JSON secret; returns a malloc'd sessions token, or
 * NULL when there is none or it does not decode. */
char *secret_sessions_token(const char *secret);

/* Parses a work object; 0 on success, *secret then a copy the caller
 * frees (NULL when the item carries none). */
int work_parse(const char *json, size_t len, struct work_item *item, char **secret);

#endif
