#include "jail/tools/tools.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/json.h"

static size_t
count_occurrences(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
  size_t count = 0;
  const char *p = hay, *end = hay + hlen;

  while((size_t)(end - p) >= nlen && (p = memmem(p, (size_t)(end - p), needle, nlen))) {
    count++;
    p += nlen;
  }
  return count;
}

static char *
replace(const char *data, size_t len, const char *old, size_t olen,
        const char *new_s, size_t nlen, int all, size_t count, size_t *outlen)
{
  size_t n = all ? count : 1;
  size_t total = len - n * olen + n * nlen, o = 0;
  const char *p = data, *end = data + len, *hit;
  char *out = malloc(total + 1);

  if(!out)
    return NULL;
  while(n-- && (hit = memmem(p, (size_t)(end - p), old, olen))) {
    memcpy(out + o, p, (size_t)(hit - p));
    o += (size_t)(hit - p);
    memcpy(out + o, new_s, nlen);
    o += nlen;
    p = hit + olen;
  }
  memcpy(out + o, p, (size_t)(end - p));
  o += (size_t)(end - p);
  out[o] = '\0';
  *outlen = o;
  return out;
}

void
tool_edit(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res)
{
  const char *p = json_str(in, "file_path");
  const char *old = json_str(in, "old_string");
  const char *new_s = json_str(in, "new_string");
  int all = json_true(in, "replace_all");
  struct place pl;
  char *data = NULL, *updated;
  size_t len, count, ulen;
  struct stat st;
  int fd, rc;

  if(!p || !*p) {
    tool_text(res, 1, "edit: file_path is required");
    return;
  }
  if(!old || !*old) {
    tool_text(res, 1, "edit: old_string is required");
    return;
  }
  if(!new_s)
    new_s = "";
  rc = path_confine(ctx, p, &pl);
  if(rc != PATH_OK) {
    path_error(res, "edit", p, rc, &pl);
    return;
  }
  if(path_read_only(res, "edit", p, &pl))
    return;
  fd = path_open(&pl, pl.rel, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
  if(fd < 0) {
    path_error(res, "edit", p, -1, &pl);
    return;
  }
  if(fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    tool_text(res, 1, "edit: %s is not a regular file", p);
    return;
  }
  if(st.st_size > MAX_FILE_BYTES) {
    close(fd);
    tool_text(res, 1, "edit: %s is %lld bytes, exceeds %d-byte limit. The edit tool "
              "loads the whole file and cannot modify a file this large.",
              p, (long long)st.st_size, MAX_FILE_BYTES);
    return;
  }
  rc = read_fd(fd, MAX_FILE_BYTES + 1, &data, &len);
  close(fd);
  if(rc < 0) {
    path_error(res, "edit", p, -1, &pl);
    return;
  }
  count = count_occurrences(data, len, old, strlen(old));
  if(count == 0)
    tool_text(res, 1, "edit: old_string not found in %s", p);
  else if(count > 1 && !all)
    tool_text(res, 1, "edit: old_string appears %zu times in %s (must be unique)", count, p);
  else if(!(updated = replace(data, len, old, strlen(old), new_s, strlen(new_s), all,
                              count, &ulen)))
    tool_text(res, 1, "edit: out of memory");
  else {
    if(tool_replace_file(&pl, 0, updated, ulen) < 0)
      path_error(res, "edit: write", p, -1, &pl);
    else
      tool_text(res, 0, "edited %s (%zu replacement(s))", p, all ? count : (size_t)1);
    free(updated);
  }
  free(data);
}
