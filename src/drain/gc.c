#include "drain/gc.h"
#include "drain/cgroup.h"
#include "drain/spares.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/statedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int
gc_hold(const struct config *cfg, int exclusive)
{
  char path[PATH_MAX];
  int fd;

  if(statedir_path(path, sizeof(path), cfg->state_dir, STATEDIR_RUN "/sessions.lock") < 0)
    return -1;
  fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if(fd >= 0 && flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

static int
sessions_dir(const struct config *cfg)
{
  char path[PATH_MAX];

  if(statedir_path(path, sizeof(path), cfg->state_dir, STATEDIR_SESSIONS) < 0)
    return -1;
  return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Under the exclusive hold: a jail holds the workspace's lock for as long
 * as it lives, so a free lock means no process of the session is left. */
static enum gc_result
remove_locked(const struct config *cfg, int top, const char *sid, int *recycled)
{
  AUTO_FD int dir = openat(top, sid, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  AUTO_FD int lock = -1;
  int image = 1;

  if(dir < 0)
    return errno == ENOENT ? GC_ABSENT : GC_FAILED;
  lock = openat(dir, STATEDIR_WORKSPACE_IMAGE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if(lock < 0) {
    image = 0;
    lock = openat(dir, STATEDIR_WORKSPACE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if(lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) < 0)
    return GC_IN_USE;
  *recycled = image && spare_recycle(cfg, dir, STATEDIR_WORKSPACE_IMAGE, lock) == 0;
  return remove_tree_at(top, sid) < 0 ? GC_FAILED : GC_REMOVED;
}

static enum gc_result
remove_session(const struct config *cfg, int top, const char *sid, const char *why)
{
  AUTO_FD int hold = gc_hold(cfg, 1);
  int recycled = 0;
  enum gc_result r = remove_locked(cfg, top, sid, &recycled);

  if(r == GC_REMOVED)
    log_info("session_storage_removed", "reason=%s workspace=%s", why, recycled ? "spare" : "removed");
  else if(r == GC_IN_USE)
    log_info("session_storage_kept", "reason=%s",
             "a jail of the session still runs; its drainer removes it when the session ends");
  else if(r == GC_FAILED)
    log_warn("session_storage_remove_failed", "errno=%d error=%s", errno, strerror(errno));
  return r;
}

enum gc_result
gc_session(const struct config *cfg, const char *session_id)
{
  AUTO_FD int top = -1;

  if(!safe_id(session_id)) {
    log_warn("session_storage_remove_failed", "reason=%s", "not a session id");
    return GC_FAILED;
  }
  top = sessions_dir(cfg);
  if(top < 0)
    return errno == ENOENT ? GC_ABSENT : GC_FAILED;
  return remove_session(cfg, top, session_id, "session_ended");
}

void
gc_touch(const struct config *cfg, const char *session_id)
{
  AUTO_FD int top = sessions_dir(cfg);

  if(top >= 0 && safe_id(session_id) &&
     utimensat(top, session_id, NULL, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
    log_warn("session_touch_failed", "errno=%d", errno);
}

int
gc_idle(const struct config *cfg)
{
  time_t cutoff = time(NULL) - (time_t)cfg->workspace_keep_hours * 3600;
  AUTO_FD int top = -1;
  struct dirent *de;
  int removed = 0;
  DIR *d;

  if(cfg->workspace_keep_hours <= 0)
    return 0;
  top = sessions_dir(cfg);
  if(top < 0)
    return errno == ENOENT ? 0 : -1;
  d = opendir_fd(top);
  if(!d)
    return -1;
  while((de = readdir(d))) {
    struct stat st;

    if(de->d_name[0] == '.' || !safe_id(de->d_name) ||
       fstatat(top, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
       st.st_mtime >= cutoff)
      continue;
    log_ids(NULL, de->d_name);     /* outside any item: the lines name it */
    removed += remove_session(cfg, top, de->d_name, "idle") == GC_REMOVED;
  }
  log_ids(NULL, NULL);
  closedir(d);
  return removed;
}

int
gc_cgroups(const struct config *cfg)
{
  int n = cfg->cgroups ? cgroup_sweep(GC_CGROUP_AGE_S) : 0;

  if(n > 0)
    log_info("cgroups_removed", "count=%d min_age_s=%d", n, GC_CGROUP_AGE_S);
  return n;
}

int
gc_main(const struct config *cfg, const char *session_id)
{
  enum gc_result r = GC_ABSENT;
  int idle, groups;

  if(session_id) {
    log_ids(NULL, safe_id(session_id) ? session_id : NULL);
    r = gc_session(cfg, session_id);
    log_ids(NULL, NULL);
  }
  idle = gc_idle(cfg);
  groups = gc_cgroups(cfg);

  if(session_id)
    printf("sandhook gc: session %s: %s\n", session_id,
           r == GC_REMOVED ? "removed" : r == GC_IN_USE ? "kept, a jail of it still runs"
           : r == GC_ABSENT ? "no storage" : "could not be removed (see the log)");
  printf("sandhook gc: %d idle session(s) removed (SANDHOOK_WORKSPACE_KEEP_HOURS=%ld)\n",
         idle < 0 ? 0 : idle, cfg->workspace_keep_hours);
  printf("sandhook gc: %d leftover jail cgroup(s) removed\n", groups);
  return r == GC_FAILED || idle < 0 ? 1 : 0;
}
