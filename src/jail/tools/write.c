#include "jail/tools/tools.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/random.h"
#include "common/json.h"

/* Writes through a temporary file and rename, so a reader never sees half a
 * file and a symlink at the target is replaced rather than followed. */
int
tool_replace_file(const struct place *pl, int create_dirs, const char *data, size_t len)
{
  const char *base;
  char tmp[96];
  char rnd[17];
  struct stat st;
  mode_t mode = 0644;
  int dfd, fd, e;

  dfd = path_open_parent(pl, create_dirs, &base);
  if(dfd < 0)
    return -1;
  if(!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
    close(dfd);
    errno = EISDIR;
    return -1;
  }
  if(fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if(S_ISDIR(st.st_mode)) {
      close(dfd);
      errno = EISDIR;
      return -1;
    }
    if(S_ISREG(st.st_mode))
      mode = st.st_mode & 07777 & ~(mode_t)06000;
  }
  if(random_hex(rnd, 8) < 0)
    goto fail;
  snprintf(tmp, sizeof(tmp), ".tmp-sandhook-%s", rnd);
  fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if(fd < 0)
    goto fail;
  if(fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
    e = errno;
    close(fd);
    unlinkat(dfd, tmp, 0);
    errno = e;
    goto fail;
  }
  if(close(fd) < 0 || renameat(dfd, tmp, dfd, base) < 0) {
    e = errno;
    unlinkat(dfd, tmp, 0);
    errno = e;
    goto fail;
  }
  close(dfd);
  return 0;
fail:
  e = errno;
  close(dfd);
  errno = e;
  return -1;
}

void
tool_write(struct tool_ctx *ctx, const cJSON *in, struct tool_result *res)
{
  const char *p = json_str(in, "file_path");
  const char *content = json_str(in, "content");
  struct place pl;
  int rc;

  if(!p || !*p) {
    tool_text(res, 1, "write: file_path is required");
    return;
  }
  if(!content)
    content = "";
  rc = path_confine(ctx, p, &pl);
  if(rc == PATH_OK && path_read_only(res, "write", p, &pl))
    return;
  if(rc == PATH_OK && !strcmp(pl.rel, ".")) {
    errno = EISDIR;
    rc = PATH_ERRNO;
  }
  if(rc != PATH_OK || tool_replace_file(&pl, 1, content, strlen(content)) < 0) {
    path_error(res, "write", p, rc, &pl);
    return;
  }
  tool_text(res, 0, "wrote %zu bytes to %s", strlen(content), p);
}
