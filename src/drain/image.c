#include "drain/image.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/spawn.h"
#include "common/statedir.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Other mkfs options make other templates: the old ones are swept. */
#define TEMPLATE_VERSION "v2"          /* v2: no lost+found */
#define STALE_NEW_S 600                 /* a template a crash left half-made */

/* An e2fsprogs program, by its name. */
static const char *
find_e2fs(const char *const paths[2])
{
  size_t i;

  for(i = 0; i < 2; i++)
    if(access(paths[i], X_OK) == 0)
      return paths[i];
  return NULL;
}

static const char *
find_mkfs(void)
{
  static const char *const paths[] = { "/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4" };

  return find_e2fs(paths);
}

int
image_possible(void)
{
  return geteuid() == 0 && access("/dev/loop-control", R_OK | W_OK) == 0 && find_mkfs() != NULL;
}

static void
template_name(char *buf, size_t cap, const struct config *cfg, long mb)
{
  snprintf(buf, cap, TEMPLATE_VERSION "-%ldm-%u-%u.img", mb, (unsigned)cfg->jail_uid,
           (unsigned)cfg->jail_gid);
}

/* Runs an e2fsprogs program to its end: 0, or -1 with errno.  Its
 * complaints go to our log, unless it always talks (debugfs's banner). */
static int
run_e2fs(const char *prog, const char *const argv[], int chatty)
{
  const char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
  struct spawn sp = SPAWN_INIT(prog, argv, envp);
  pid_t pid;

  sp.in = sp.out = SPAWN_NULL;
  if(chatty)
    sp.err = SPAWN_NULL;
  if((pid = spawn_start(&sp)) < 0)
    return -1;
  if(spawn_wait(pid) != 0) {
    errno = EIO;
    return -1;
  }
  return 0;
}

/* Formats path.  Its inode tables and journal are left unwritten (lazy):
 * every image is allocated, never written, where they lie, so they read as
 * zeros, and the jail mounts with noinit_itable.  mkfs's lost+found means
 * nothing to the agent: it goes here, once, where the jail removing it
 * from every image made each session's first unmount a journal commit and
 * a flush (2 ms of CPU and 3 ms of wall time a session on the build VM). */
static int
format(const char *path, const struct config *cfg)
{
  static const char *const debugfs_paths[] = { "/usr/sbin/debugfs", "/sbin/debugfs" };
  const char *mkfs = find_mkfs(), *debugfs = find_e2fs(debugfs_paths);
  char opts[128];

  if(!mkfs) {
    errno = ENOENT;
    return -1;
  }
  snprintf(opts, sizeof(opts), "root_owner=%u:%u,nodiscard,lazy_itable_init=1,lazy_journal_init=1",
           (unsigned)cfg->jail_uid, (unsigned)cfg->jail_gid);
  {
    const char *const argv[] = { mkfs, "-q", "-F", "-m", "0", "-J", "size=4", "-L", "sandhook",
                                 "-E", opts, path, NULL };

    if(run_e2fs(mkfs, argv, 0) < 0)
      return -1;
  }
  if(debugfs) {
    const char *const argv[] = { debugfs, "-w", "-R", "rmdir lost+found", path, NULL };

    /* Without it the jail removes lost+found from each image instead. */
    if(run_e2fs(debugfs, argv, 1) < 0)
      log_warn("image_template_lost_found_kept", "errno=%d error=%s", errno, strerror(errno));
  }
  return 0;
}

/* The templates' directory, open; its path in dir when asked. */
static int
templates_dir(const struct config *cfg, char *dir, size_t cap, int create)
{
  if(statedir_path(dir, cap, cfg->state_dir, STATEDIR_TEMPLATES) < 0 ||
     (create && mkdir_p(dir, 0700) < 0))
    return -1;
  return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Whether fd looks like a template: a root-owned file of the size, with
 * ext4's magic in its superblock.  One that is not (a partial write, a
 * hand edit) would make every image unmountable: it is made again. */
enum { EXT4_SUPER_OFFSET = 1024, EXT4_MAGIC_OFFSET = 56 };   /* s_magic, 0xEF53 little-endian */

static int
template_ok(int fd, long mb)
{
  unsigned char magic[2];
  struct stat st;

  return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
         st.st_size == (off_t)mb << 20 &&
         pread(fd, magic, 2, EXT4_SUPER_OFFSET + EXT4_MAGIC_OFFSET) == 2 &&
         magic[0] == 0x53 && magic[1] == 0xef;
}

/* The template for mb MiB and these ids, read-only; made first when there
 * is none, or none that template_ok takes. */
static int
template_open(const struct config *cfg, long mb)
{
  char dir[PATH_MAX], name[96], tmp[128], path[PATH_MAX + 160];
  AUTO_FD int dfd = templates_dir(cfg, dir, sizeof(dir), 1);
  int fd, e;

  if(dfd < 0)
    return -1;
  template_name(name, sizeof(name), cfg, mb);
  if((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
    if(template_ok(fd, mb))
      return fd;
    close(fd);
    unlinkat(dfd, name, 0);
    log_warn("image_template_replaced", "size_mb=%ld reason=%s", mb,
             "not a root-owned ext4 image of the size");
  }
  /* Several drainers, or threads of one, may make it at once: each its
   * own, the last rename wins, and every one of them is a good template. */
  snprintf(tmp, sizeof(tmp), "%s.%ld.new", name, (long)gettid());
  snprintf(path, sizeof(path), "%s/%s", dir, tmp);
  if((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
    return -1;
  if(ftruncate(fd, (off_t)mb << 20) < 0 || close(fd) < 0 || format(path, cfg) < 0 ||
     renameat(dfd, tmp, dfd, name) < 0) {
    e = errno;
    unlinkat(dfd, tmp, 0);
    errno = e;
    return -1;
  }
  log_info("image_template_made", "size_mb=%ld", mb);
  return openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

/* What mkfs wrote into the template, copied into out at the same offsets;
 * the rest of both is unwritten and reads as zeros. */
static int
copy_written(int in, int out, off_t size)
{
  off_t at = 0, hole;

  while(at < size) {
    if((at = lseek(in, at, SEEK_DATA)) < 0)
      return errno == ENXIO ? 0 : -1;
    if((hole = lseek(in, at, SEEK_HOLE)) < 0)
      return -1;
    while(at < hole) {
      loff_t from = at, to = at;
      ssize_t n = copy_file_range(in, &from, out, &to, (size_t)(hole - at), 0);

      if(n < 0 && errno == EINTR)
        continue;
      if(n <= 0) {
        if(n == 0)
          errno = EIO;                  /* the template shrank under us */
        return -1;
      }
      at += n;
    }
  }
  return 0;
}

int
image_create(const char *path, long mb, const struct config *cfg)
{
  char tmp[PATH_MAX + 8];
  AUTO_FD int tpl = -1;
  int fd, e;

  if((tpl = template_open(cfg, mb)) < 0)
    return -1;
  snprintf(tmp, sizeof(tmp), "%s.new", path);
  if((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
    return -1;
  /* Synced before the rename, as mkfs syncs what it writes: an image is
   * whole or absent after a crash. */
  if(fallocate(fd, 0, 0, (off_t)mb << 20) < 0 || copy_written(tpl, fd, (off_t)mb << 20) < 0 ||
     fsync(fd) < 0) {
    e = errno;
    close(fd);
    unlink(tmp);
    errno = e;
    return -1;
  }
  if(close(fd) < 0 || rename(tmp, path) < 0) {
    e = errno;
    unlink(tmp);
    errno = e;
    return -1;
  }
  return 0;
}

int
image_attached(const char *image)
{
  char real[PATH_MAX], path[PATH_MAX], back[PATH_MAX + 16];
  struct dirent *de;
  int hit = 0;
  DIR *d;

  if(!realpath(image, real) || !(d = opendir("/sys/block")))
    return 0;
  while(!hit && (de = readdir(d))) {
    FILE *f;
    size_t n;

    if(strncmp(de->d_name, "loop", 4))
      continue;
    snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", de->d_name);
    if(!(f = fopen(path, "re")))
      continue;
    n = fread(back, 1, sizeof(back) - 1, f);
    fclose(f);
    back[n] = '\0';
    back[strcspn(back, "\n")] = '\0';
    hit = !strcmp(back, real);
  }
  closedir(d);
  return hit;
}

int
image_reset(int fd, long mb, const struct config *cfg)
{
  AUTO_FD int tpl = -1;
  struct stat st;

  if(fstat(fd, &st) < 0)
    return -1;
  if(!S_ISREG(st.st_mode) || st.st_size != (off_t)mb << 20) {
    errno = EINVAL;
    return -1;
  }
  if((tpl = template_open(cfg, mb)) < 0)
    return -1;
  /* ZERO_RANGE keeps every block allocated, as unwritten extents: what
   * the session wrote reads as zeros, through the loop device too, and
   * nothing is freed and allocated again (a 2 GiB image's unlink and
   * fallocate cost 8 ms of CPU and 20 ms of wall time on the build VM,
   * this under 1). */
  if(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, st.st_size) < 0 ||
     copy_written(tpl, fd, st.st_size) < 0 || fsync(fd) < 0)
    return -1;
  return 0;
}

void
image_templates_sweep(const struct config *cfg)
{
  char dir[PATH_MAX], ws[96], mem[96];
  AUTO_FD int dfd = templates_dir(cfg, dir, sizeof(dir), 0);
  struct dirent *de;
  struct stat st;
  DIR *d;

  if(dfd < 0 || !(d = opendir_fd(dfd)))
    return;
  template_name(ws, sizeof(ws), cfg, cfg->workspace_mb);
  template_name(mem, sizeof(mem), cfg, cfg->memory_mb);
  while((de = readdir(d))) {
    size_t n = strlen(de->d_name);

    if(de->d_name[0] == '.' || !strcmp(de->d_name, ws) || !strcmp(de->d_name, mem) ||
       fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      continue;
    /* One being made now is left to its maker. */
    if(n > 4 && !strcmp(de->d_name + n - 4, ".new") && time(NULL) - st.st_mtime <= STALE_NEW_S)
      continue;
    unlinkat(dfd, de->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
  }
  closedir(d);
}
