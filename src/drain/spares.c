#include "drain/spares.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/random.h"
#include "common/statedir.h"
#include "drain/image.h"
#include "drain/workspace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define STALE_NEW_S 600                 /* a half-made image left by a crash */

/* "<mb>m-<uid>-<gid>-": the names of spares these settings can use. */
static void
spare_prefix(char *buf, size_t cap, const struct config *cfg, long mb)
{
  snprintf(buf, cap, "%ldm-%u-%u-", mb, (unsigned)cfg->jail_uid, (unsigned)cfg->jail_gid);
}

/* How many spares these settings want: none without images. */
static int
spares_wanted(const struct config *cfg)
{
  return cfg->workspace_mb > 0 && image_possible() ? cfg->workspace_spares : 0;
}

/* A new spare's name, "<prefix><16 hex>.img", in name[96]: 0, or -1. */
static int
spare_name(char *name, const char *prefix)
{
  char rnd[17];

  return random_hex(rnd, 8) < 0 || snprintf(name, 96, "%s%s.img", prefix, rnd) >= 96 ? -1 : 0;
}

static int
is_image(const char *name)
{
  size_t n = strlen(name);

  return n > 4 && !strcmp(name + n - 4, ".img");
}

static int
spares_dir(const struct config *cfg, char *path, size_t cap)
{
  return statedir_path(path, cap, cfg->state_dir, STATEDIR_SPARES);
}

int
spare_take(const struct config *cfg, long mb, const char *dest)
{
  char dir[PATH_MAX], prefix[64];
  struct dirent *de;
  DIR *d;
  int rc = -1, e = ENOENT;

  spare_prefix(prefix, sizeof(prefix), cfg, mb);
  if(spares_dir(cfg, dir, sizeof(dir)) < 0 || !(d = opendir(dir)))
    return -1;
  while((de = readdir(d))) {
    if(strncmp(de->d_name, prefix, strlen(prefix)) || !is_image(de->d_name))
      continue;
    if(renameat(dirfd(d), de->d_name, AT_FDCWD, dest) == 0) {
      log_debug("workspace_spare_taken", "size_mb=%ld", mb);
      rc = 0;
      break;
    }
    if(errno != ENOENT) {               /* ENOENT: another drainer took it */
      e = errno;
      break;
    }
  }
  closedir(d);
  if(rc < 0)
    errno = e;
  return rc;
}

/* Counts the spares these settings can use, keeping at most keep of them,
 * and removes the rest: images of another size or owner, and half-made
 * ones a crash left. */
static int
sort_spares(int dfd, const char *prefix, int keep)
{
  DIR *d = opendir_fd(dfd);
  struct dirent *de;
  struct stat st;
  int usable = 0;

  if(!d)
    return -1;
  while((de = readdir(d))) {
    if(de->d_name[0] == '.' || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
       !S_ISREG(st.st_mode))
      continue;
    if(is_image(de->d_name) && !strncmp(de->d_name, prefix, strlen(prefix)) && usable < keep)
      usable++;
    else if(is_image(de->d_name) || time(NULL) - st.st_mtime > STALE_NEW_S)
      unlinkat(dfd, de->d_name, 0);
  }
  closedir(d);
  return usable;
}

int
spare_recycle(const struct config *cfg, int dir, const char *name, int lock)
{
  char sdir[PATH_MAX], prefix[64], spare[96], tmp[104], path[64];
  AUTO_FD int sfd = -1;
  AUTO_FD int fd = -1;
  int want = spares_wanted(cfg);
  /* In a burst, the next sessions take them; the refill at the drainer's
   * exit takes the count back to what is wanted. */
  int keep = want > cfg->max_sessions ? want : cfg->max_sessions;

  spare_prefix(prefix, sizeof(prefix), cfg, cfg->workspace_mb);
  snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dir, name);
  if(want <= 0 || spares_dir(cfg, sdir, sizeof(sdir)) < 0 ||
     (mkdir(sdir, 0700) < 0 && errno != EEXIST) || (sfd = open(sdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
     sort_spares(sfd, prefix, keep) >= keep || spare_name(spare, prefix) < 0)
    return -1;
  /* Zeroed under a mount still going away, it would be written again:
   * without the loop devices to look at, it is not kept. */
  if(access("/sys/block", R_OK | X_OK) < 0 || image_attached(path))
    return -1;
  snprintf(tmp, sizeof(tmp), "%s.new", spare);
  /* Out of the session's folder first: a crash from here on leaves a
   * .new the next refill removes, never the session's bytes under a
   * spare's name. */
  if(renameat(dir, name, sfd, tmp) < 0)
    return -1;
  if((fd = openat(sfd, tmp, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
     image_reset(fd, cfg->workspace_mb, cfg) < 0) {
    log_debug("workspace_spare_reset_failed", "error=%s", strerror(errno));
    unlinkat(sfd, tmp, 0);
    return -1;
  }
  /* Its session's lock means nothing to the session that takes it. */
  flock(lock, LOCK_UN);
  if(renameat(sfd, tmp, sfd, spare) < 0) {
    unlinkat(sfd, tmp, 0);
    return -1;
  }
  return 0;
}

static int
room_for(const char *dir, long mb)
{
  struct statvfs v;

  return statvfs(dir, &v) == 0 &&
         (unsigned long long)v.f_bavail * v.f_frsize >= 2ULL * ((unsigned long long)mb << 20);
}

void
spares_refill(const struct config *cfg)
{
  char dir[PATH_MAX], prefix[64], name[96], path[PATH_MAX];
  AUTO_FD int dfd = -1;
  int have, want = spares_wanted(cfg);

  /* With none wanted the folder is still emptied: spares switched off
   * give their space back.  The state directory itself is never made
   * again here: one removed or moved while we ran gets no image back. */
  if(spares_dir(cfg, dir, sizeof(dir)) < 0)
    return;
  if(want > 0 && mkdir(dir, 0700) < 0 && errno != EEXIST) {
    if(errno == ENOENT)
      log_warn("workspace_spare_skipped", "size_mb=%ld reason=%s", cfg->workspace_mb,
               "the state directory is gone (removed or moved while this drainer ran)");
    return;
  }
  if((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    return;
  /* One refill at a time: drainers ending together would each make the
   * spare that is missing, and the next refill remove all but one.  Each
   * waits its turn rather than skip it, so the last drainer of a burst
   * also trims what the burst's ended sessions left (spare_recycle). */
  if(flock(dfd, LOCK_EX) < 0)
    return;
  image_templates_sweep(cfg);
  spare_prefix(prefix, sizeof(prefix), cfg, cfg->workspace_mb);
  for(have = sort_spares(dfd, prefix, want); have >= 0 && have < want; have++) {
    if(!room_for(dir, cfg->workspace_mb)) {
      log_info("workspace_spare_skipped", "size_mb=%ld reason=%s", cfg->workspace_mb,
               "the state filesystem has less than twice the image free");
      return;
    }
    if(spare_name(name, prefix) < 0 ||
       snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
       image_create(path, cfg->workspace_mb, cfg) < 0) {
      log_warn("workspace_spare_failed", "size_mb=%ld error=%s hint=%s", cfg->workspace_mb,
               strerror(errno), "sessions then format their workspace when they start");
      return;
    }
    log_info("workspace_spare_made", "size_mb=%ld", cfg->workspace_mb);
  }
}
