#include "jail/tools/tools.h"
#include "common/json.h"
#include "common/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/fsutil.h"
#include "common/util.h"

#define IMAGE_MAX_BYTES (5u * 1024 * 1024 / 4 * 3)    /* 5 MiB once base64 */
#define PDF_MAX_BYTES (20u * 1024 * 1024 / 4 * 3)     /* 20 MiB once base64 */

static const char *
media_type(const char *p, int *is_pdf)
{
  static const struct { const char *ext, *type; } types[] = {
    { ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".jpeg", "image/jpeg" },
    { ".gif", "image/gif" }, { ".webp", "image/webp" }, { ".pdf", "application/pdf" },
  };
  const char *dot = strrchr(p, '.');
  size_t i;

  *is_pdf = 0;
  if(!dot || strchr(dot, '/'))
    return NULL;
  for(i = 0; i < N_ELEMENTS(types); i++)
    if(!strcasecmp(dot, types[i].ext)) {
      *is_pdf = i == 5;
      return types[i].type;
    }
  return NULL;
}

static void
binary_block(struct tool_result *res, const char *file_path, int fd, off_t size,
             const char *type, int is_pdf)
{
  size_t cap = is_pdf ? PDF_MAX_BYTES : IMAGE_MAX_BYTES;
  cJSON *arr, *blk, *src;
  char *data = NULL, *enc;
  size_t len;

  if((size_t)size > cap) {
    tool_text(res, 1, "read: %s is %lld bytes, exceeds %zu-byte limit for %s",
              file_path, (long long)size, cap, is_pdf ? "PDF documents" : "images");
    return;
  }
  if(read_fd(fd, cap + 1, &data, &len) < 0) {
    path_error(res, "read", file_path, -1, NULL);
    return;
  }
  enc = malloc(b64_encoded_size(len));
  arr = cJSON_CreateArray();
  blk = cJSON_CreateObject();
  src = cJSON_CreateObject();
  if(!enc || !arr || !blk || !src) {
    free(enc);
    free(data);
    cJSON_Delete(arr);
    cJSON_Delete(blk);
    cJSON_Delete(src);
    return;
  }
  b64_encode((unsigned char *)data, len, enc);
  free(data);
  cJSON_AddStringToObject(src, "type", "base64");
  cJSON_AddStringToObject(src, "media_type", type);
  cJSON_AddStringToObject(src, "data", enc);
  free(enc);
  cJSON_AddStringToObject(blk, "type", is_pdf ? "document" : "image");
  cJSON_AddItemToObject(blk, "source", src);
  cJSON_AddItemToArray(arr, blk);
  res->is_error = 0;
  res->content = arr;
}

/* Lines are split on '\n'; start is 1-based, end <= 0 means to the end. */
static void
slice_lines(struct tool_result *res, const char *data, size_t len, long start,
            long end)
{
  long line = 1;
  size_t i = 0, from = len, to = len;

  if(start < 1)
    start = 1;
  if(end > 0 && end < start) {
    tool_text_raw(res, 0, "", 0);
    return;
  }
  for(i = 0; i <= len; i++) {
    if(line == start && from == len && (i == 0 || data[i - 1] == '\n'))
      from = i;
    if(i == len)
      break;
    if(data[i] == '\n') {
      if(end > 0 && line == end) {
        to = i;
        break;
      }
      line++;
    }
  }
  if(from > to)
    from = to;
  tool_text_raw(res, 0, data + from, to - from);
}

void
tool_read(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res)
{
  const char *p = json_str(in, "file_path");
  const cJSON *vr = in ? cJSON_GetObjectItemCaseSensitive(in, "view_range") : NULL;
  struct place pl;
  const char *type;
  long start = 0, end = 0;
  int have_range = 0, is_pdf, fd, rc;
  struct stat st;
  char *data = NULL;
  size_t len;

  if(!p || !*p) {
    tool_text(res, 1, "read: file_path is required");
    return;
  }
  if(vr && !cJSON_IsNull(vr)) {
    if(!cJSON_IsArray(vr) || (cJSON_GetArraySize(vr) != 2 && cJSON_GetArraySize(vr) != 0) ||
       (cJSON_GetArraySize(vr) == 2 &&
        (!cJSON_IsNumber(cJSON_GetArrayItem(vr, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(vr, 1))))) {
      tool_text(res, 1, "read: view_range must be [start_line, end_line]");
      return;
    }
    if(cJSON_GetArraySize(vr) == 2) {
      have_range = 1;
      start = json_long(cJSON_GetArrayItem(vr, 0), -(1L << 40), 1L << 40, 0);
      end = json_long(cJSON_GetArrayItem(vr, 1), -(1L << 40), 1L << 40, 0);
    }
  }
  rc = path_confine(ctx, p, &pl);
  if(rc != PATH_OK) {
    path_error(res, "read", p, rc, &pl);
    return;
  }
  fd = path_open(&pl, pl.rel, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
  if(fd < 0) {
    path_error(res, "read", p, -1, &pl);
    return;
  }
  if(fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    tool_text(res, 1, "read: %s is not a regular file", p);
    return;
  }
  type = media_type(pl.rel, &is_pdf);
  if(type) {
    if(have_range)
      tool_text(res, 1, "read: view_range is not supported for %s files",
                is_pdf ? "PDF" : "image");
    else
      binary_block(res, p, fd, st.st_size, type, is_pdf);
    close(fd);
    return;
  }
  if(st.st_size > MAX_FILE_BYTES && !have_range) {
    close(fd);
    tool_text(res, 1,
              "read: %s is %lld bytes, exceeds %d-byte limit. Use the view_range "
              "parameter to read specific line ranges, e.g. view_range: [1, 500].",
              p, (long long)st.st_size, MAX_FILE_BYTES);
    return;
  }
  /* A ranged read of a large file still loads at most 64 MiB. */
  rc = read_fd(fd, have_range ? (64u << 20) : MAX_FILE_BYTES + 1, &data, &len);
  close(fd);
  if(rc < 0) {
    path_error(res, "read", p, -1, &pl);
    return;
  }
  if(!utf8_valid(data, len)) {
    tool_text(res, 1, "read: %s: file is not valid UTF-8 text", p);
    free(data);
    return;
  }
  if(have_range) {
    slice_lines(res, data, len, start, end);
    if(res->content) {
      const char *t = cJSON_GetObjectItem(cJSON_GetArrayItem(res->content, 0), "text")->valuestring;

      if(strlen(t) > MAX_FILE_BYTES)
        tool_text(res, 1, "read: view_range [%ld, %ld] of %s exceeds %d-byte limit. "
                  "Narrow the view_range to read a smaller portion.", start, end, p,
                  MAX_FILE_BYTES);
    }
  }
  else
    tool_text_raw(res, 0, data, len);
  free(data);
}
