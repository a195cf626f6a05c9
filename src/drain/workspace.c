#include "drain/workspace.h"
#include "drain/image.h"
#include "common/cleanup.h"
#include "common/clock.h"
#include "drain/gc.h"
#include "drain/spares.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/statedir.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_WAIT_MS 15000

/* Only what the jail mounts belongs to the jail uid; everything above it
 * stays root's and 0700, invisible from inside.  Unprivileged, our own uid
 * is the one the jail's user namespace maps to the jail uid. */
int
jail_owned_dir(const char *path, const struct config *cfg)
{
  if(mkdir_p(path, 0700) < 0 ||
     (geteuid() == 0 && chown(path, cfg->jail_uid, cfg->jail_gid) < 0) ||
     chmod(path, 0755) < 0)
    return -1;
  return 0;
}

static int
lock_path(int fd)
{
  long long end = now_ms() + LOCK_WAIT_MS;

  while(flock(fd, LOCK_EX | LOCK_NB) < 0) {
    if(errno != EWOULDBLOCK || now_ms() > end)
      return -1;
    sleep_ms(50, NULL);
  }
  return 0;
}

static int prepare(struct workspace *w, const struct config *cfg, const char *session_id);

/* Under gc's shared hold: storage found here is not removed before its
 * lock is ours. */
int
workspace_prepare(struct workspace *w, const struct config *cfg, const char *session_id)
{
  AUTO_FD int hold = gc_hold(cfg, 0);

  return prepare(w, cfg, session_id);
}

static int
prepare(struct workspace *w, const struct config *cfg, const char *session_id)
{
  char dir[PATH_MAX];

  w->lock_fd = -1;
  if(statedir_path(dir, sizeof(dir) - 32, cfg->state_dir, STATEDIR_SESSIONS "/%s", session_id) < 0 ||
     mkdir_p(dir, 0700) < 0)
    return -1;
  /* Without root the jail cannot attach a loop device nor mount ext4 in
   * its user namespace, so the cap needs a privileged responder. */
  if(cfg->workspace_mb > 0 && geteuid() != 0)
    log_warn("workspace_cap_unavailable", "reason=unprivileged fallback=directory");
  else if(cfg->workspace_mb > 0) {
    if(snprintf(w->path, sizeof(w->path), "%s/" STATEDIR_WORKSPACE_IMAGE, dir) >= (int)sizeof(w->path))
      return -1;
    int exists = access(w->path, F_OK) == 0;

    if(exists || image_possible()) {
      long long end = now_ms() + LOCK_WAIT_MS;

      /* A disk too small for the cap is the operator's to fix, never a
       * reason to run the session uncapped. */
      if(!exists && spare_take(cfg, cfg->workspace_mb, w->path) < 0 &&
         image_create(w->path, cfg->workspace_mb, cfg) < 0) {
        log_err("workspace_image_failed", "path=%s size_mb=%ld error=%s hint=%s", w->path,
                cfg->workspace_mb, strerror(errno), "free space in SANDHOOK_STATE_DIR or lower SANDHOOK_WORKSPACE_MB");
        return -1;
      }
      w->lock_fd = open(w->path, O_RDONLY | O_CLOEXEC);
      if(w->lock_fd < 0 || lock_path(w->lock_fd) < 0) {
        workspace_release(w);
        return -1;
      }
      /* Only the session's own image, from its last item, can still be
       * mounted by that item's jail: a spare was looked at before it was
       * reset, and a new image was never attached. */
      if(exists) {
        int busy;

        while((busy = image_attached(w->path)) && now_ms() < end)
          sleep_ms(20, NULL);
        if(busy) {
          log_err("workspace_busy", "path=%s reason=%s", w->path,
                  "a previous jail's mount of the image did not go away");
          workspace_release(w);
          errno = EBUSY;
          return -1;
        }
      }
      return 0;
    }
    log_warn("workspace_cap_unavailable", "reason=%s fallback=directory", "no loop devices or mkfs.ext4");
  }
  if(snprintf(w->path, sizeof(w->path), "%s/" STATEDIR_WORKSPACE_DIR, dir) >= (int)sizeof(w->path) ||
     jail_owned_dir(w->path, cfg) < 0)
    return -1;
  w->lock_fd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if(w->lock_fd < 0 || lock_path(w->lock_fd) < 0) {
    workspace_release(w);
    return -1;
  }
  return 0;
}

void
workspace_release(struct workspace *w)
{
  if(w->lock_fd >= 0)
    close(w->lock_fd);
  w->lock_fd = -1;
}
