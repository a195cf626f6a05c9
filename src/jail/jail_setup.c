#include "jail/jail_setup.h"
#include "jail/jail_serve.h"
#include "jail/egress_relay.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/frame.h"
#include "common/fsutil.h"
#include "common/jail_limits.h"
#include "common/log.h"
#include "jail/syscall_filter.h"
#include "jail/tools/tools.h"
#include "jail/memstore_files.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/loop.h>
#include <linux/capability.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>


static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
  char msg[512];
  int e = errno;                /* before vsnprintf, which may set it */
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  /* A step that failed without a system call (a path too long, not PID
   * 1) has no errno: "error=Success" would mislead whoever reads it. */
  if(e)
    log_err("jail_setup_failed", "step=%s errno=%d error=%s", msg, e, strerror(e));
  else
    log_err("jail_setup_failed", "step=%s", msg);
  _exit(1);
}

/* A failure that is no system call's: no stale errno in its line. */
#define die_plain(...) (errno = 0, die(__VA_ARGS__))

/* dir + "/" + leaf into buf (PATH_MAX); a path that does not fit ends the
 * setup rather than being silently cut. */
static void
join(char *buf, const char *dir, const char *leaf)
{
  int n = snprintf(buf, PATH_MAX, "%s/%s", dir, leaf);

  if(n < 0 || n >= PATH_MAX)
    die_plain("path too long: %s", leaf);
}

static void
make_node(const char *path, int dir)
{
  if(dir) {
    if(mkdir(path, 0755) < 0 && errno != EEXIST)
      die("mkdir %s", path);
  }
  else {
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

    if(fd < 0)
      die("create %s", path);
    close(fd);
  }
}

/* The source mount's own restrictions stay: a jail without privileges may
 * not lift them (the kernel locks them), and one with privileges should not. */
static unsigned long
kept_flags(const char *path)
{
  static const struct { unsigned long st, ms; } map[] = {
    { ST_RDONLY, MS_RDONLY }, { ST_NOSUID, MS_NOSUID }, { ST_NODEV, MS_NODEV },
    { ST_NOEXEC, MS_NOEXEC }, { ST_NOATIME, MS_NOATIME }, { ST_NODIRATIME, MS_NODIRATIME },
    { ST_RELATIME, MS_RELATIME },
  };
  struct statvfs sv;
  unsigned long flags = 0;
  size_t i;

  if(statvfs(path, &sv) < 0)
    die("statvfs %s", path);
  for(i = 0; i < N_ELEMENTS(map); i++)
    if(sv.f_flag & map[i].st)
      flags |= map[i].ms;
  return flags;
}

/* The same flags on every mount below dst, from /proc/self/mountinfo, for
 * a kernel without mount_setattr (before 5.12). */
static void
remount_below(const char *dst, unsigned long flags)
{
  FILE *f = fopen("/proc/self/mountinfo", "re");
  size_t n = strlen(dst);
  char *line = NULL;
  size_t cap = 0;

  if(!f)
    die("open /proc/self/mountinfo");
  while(getline(&line, &cap, f) > 0) {
    char mp[PATH_MAX];

    /* "id parent major:minor root mountpoint ..."; octal escapes in the
     * mount point are left as they are: such a path is not ours. */
    if(sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && !strncmp(mp, dst, n) &&
       (mp[n] == '/' || mp[n] == '\0') &&
       mount(NULL, mp, NULL, MS_BIND | MS_REMOUNT | flags | kept_flags(mp), NULL) < 0)
      die("remount %s", mp);
  }
  free(line);
  fclose(f);
}

static void
bind_mount(const char *src, const char *dst, unsigned long flags)
{
  struct mount_attr attr;
  struct stat st;

  if(stat(src, &st) < 0)
    die("stat %s", src);
  make_node(dst, S_ISDIR(st.st_mode));
  if(mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
    die("bind %s", src);
  /* Every mount the recursive bind brought along gets the flags, not only
   * the top one: a writable or setuid submount of /usr would otherwise
   * reach the jail as it is on the host. */
  memset(&attr, 0, sizeof(attr));
  attr.attr_set = (flags & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) |
                  (flags & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
                  (flags & MS_NODEV ? MOUNT_ATTR_NODEV : 0) |
                  (flags & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0);
  if(mount_setattr(AT_FDCWD, dst, AT_RECURSIVE, &attr, sizeof(attr)) == 0)
    return;
  if(errno != ENOSYS)
    die("set the flags of %s and its submounts", dst);
  remount_below(dst, flags);
}

static void
write_text(const char *path, const char *text)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  if(fd < 0 || write_all(fd, text, strlen(text)) < 0)
    die("write %s", path);
  close(fd);
}

/* Host top-level entries: merged-/usr symlinks are copied as symlinks,
 * real directories bound read-only. */
static void
mirror_host(const char *root, const char *name)
{
  char src[64], dst[PATH_MAX], target[PATH_MAX];
  struct stat st;
  ssize_t n;

  snprintf(src, sizeof(src), "/%s", name);
  join(dst, root, name);
  if(lstat(src, &st) < 0)
    return;
  if(S_ISLNK(st.st_mode)) {
    n = readlink(src, target, sizeof(target) - 1);
    if(n < 0)
      die("readlink %s", src);
    target[n] = '\0';
    if(symlink(target, dst) < 0)
      die("symlink %s", dst);
  }
  else if(S_ISDIR(st.st_mode))
    bind_mount(src, dst, MS_RDONLY | MS_NOSUID | MS_NODEV);
}

/* The capped workspace or memory folder: an ext4 image on a loop device
 * that detaches by itself once the namespace, and with it the mount, is
 * gone. */
static void
mount_image(const char *image, const char *dst)
{
  struct loop_config lc;
  char dev[32], lf[PATH_MAX];
  int ctl, img, loop = -1, n, tries;

  ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  img = open(image, O_RDWR | O_CLOEXEC);
  if(ctl < 0 || img < 0)
    die("open %s", ctl < 0 ? "/dev/loop-control" : image);
  /* The image and its flags in one call (Linux 5.8; the jail needs 5.12
   * for mount_setattr anyway): LOOP_SET_FD then LOOP_SET_STATUS64 freezes
   * the device's queue, which waits out an RCU grace period, 20 ms of
   * every session's start. */
  memset(&lc, 0, sizeof(lc));
  lc.fd = (__u32)img;
  lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;
  snprintf((char *)lc.info.lo_file_name, sizeof(lc.info.lo_file_name), "sandhook");
  for(tries = 0; loop < 0; tries++) {
    n = ioctl(ctl, LOOP_CTL_GET_FREE);
    if(n < 0 || tries == 16)
      die("no free loop device");
    snprintf(dev, sizeof(dev), "/dev/loop%d", n);
    /* Without udev the node may not exist yet. */
    if(mknod(dev, S_IFBLK | 0600, makedev(7, (unsigned)n)) < 0 && errno != EEXIST)
      die("mknod %s", dev);
    loop = open(dev, O_RDWR | O_CLOEXEC);
    if(loop < 0)
      die("open %s", dev);
    if(ioctl(loop, LOOP_CONFIGURE, &lc) < 0) {
      if(errno != EBUSY)
        die("LOOP_CONFIGURE");
      close(loop);
      loop = -1;      /* someone else took it: ask again */
    }
  }
  make_node(dst, 1);
  /* The image was allocated, never written, so its inode tables read as
   * zeros already: the kernel's lazy zeroing of them (4 MiB of writes for
   * 256 MiB) would be work for nothing. */
  if(mount(dev, dst, "ext4", MS_NOSUID | MS_NODEV, "errors=remount-ro,noinit_itable") < 0)
    die("mount the image %s", image);
  close(loop);
  close(img);
  close(ctl);
  /* mkfs's lost+found means nothing to the agent; templates since v2 have
   * none, images made before them still may. */
  join(lf, dst, "lost+found");
  rmdir(lf);
}

/* Opens (creating) rel's directories below top one at a time, never
 * through a link, each handed to the jail ids: the folder is the agent's,
 * and this runs with privileges, so a link it planted must lead nowhere. */
static int
own_dirs(int top, const char *rel, unsigned uid, unsigned gid)
{
  char sub[PATH_MAX], *comp[64];
  int fd = fcntl(top, F_DUPFD_CLOEXEC, 0), n, i;

  snprintf(sub, sizeof(sub), "%s", rel);
  n = path_split(sub, comp, N_ELEMENTS(comp), 0);
  if(n < 0)
    die_plain("bad read-only store path %s", rel);
  for(i = 0; i < n && fd >= 0; i++) {
    int next;

    if(mkdirat(fd, comp[i], 0700) < 0 && errno != EEXIST)
      die("mkdir %s", rel);
    next = openat(fd, comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if(next < 0 || fchown(next, uid, gid) < 0)
      die("%s is not a directory of ours (a link?)", rel);
    close(fd);
    fd = next;
  }
  return fd;
}

/* /mnt/memory: the session's memory folder from the host.  A read-only
 * store is bound read-only onto itself, for every tool; the helper keeps a
 * descriptor opened before that, its own way in to pull remote changes. */
static void
mount_memory(const char *root, const char *memdir, const char *ro_list, unsigned uid,
             unsigned gid)
{
  char mnt[PATH_MAX], list[PATH_MAX], path[PATH_MAX], *rel, *save = NULL;
  struct stat st;
  int top;

  join(mnt, root, "mnt");
  make_node(mnt, 1);
  join(mnt, root, "mnt/memory");
  if(stat(memdir, &st) < 0)
    die("stat %s", memdir);
  if(S_ISREG(st.st_mode))
    mount_image(memdir, mnt);       /* capped at SANDHOOK_MEMORY_MB */
  else
    bind_mount(memdir, mnt, MS_NOSUID | MS_NODEV);
  top = open(mnt, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(top < 0)
    die("open %s", mnt);
  snprintf(list, sizeof(list), "%s", ro_list);
  for(rel = strtok_r(list, ",", &save); rel; rel = strtok_r(NULL, ",", &save)) {
    char self[64];
    int fd;

    fd = own_dirs(top, rel, uid, gid);
    if(fd < 0 || memstore_files_keep(rel, fd) < 0)
      die("open %s", rel);
    /* The bind lands on the directory own_dirs opened; the remount needs a
     * path to the new mount's top, which leads there too: own_dirs met no
     * link, and no process of the agent lives while a jail is built. */
    snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
    join(path, mnt, rel);
    if(mount(self, self, NULL, MS_BIND, NULL) < 0 ||
       mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
             kept_flags(path), NULL) < 0)
      die("read-only bind of %s", rel);
  }
  close(top);
}

/* The file tools reach /mnt/memory too, and refuse writes in the
 * read-only stores with the official text before the kernel would. */
static void
memory_roots(struct tool_ctx *tctx, const char *ro_list)
{
  static char paths[TOOL_MAX_ROOTS][PATH_MAX];
  char list[PATH_MAX], *rel, *save = NULL;
  int n = 0, fd = open(MEMORY_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if(fd < 0 || tool_ctx_add_root(tctx, MEMORY_ROOT, fd, 0) < 0)
    die("open %s", MEMORY_ROOT);
  snprintf(list, sizeof(list), "%s", ro_list);
  for(rel = strtok_r(list, ",", &save); rel && n < TOOL_MAX_ROOTS; rel = strtok_r(NULL, ",", &save)) {
    snprintf(paths[n], sizeof(paths[n]), MEMORY_ROOT "/%s", rel);
    fd = open(paths[n], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if(fd < 0 || tool_ctx_add_root(tctx, paths[n], fd, 1) < 0)
      die("open %s", paths[n]);
    n++;
  }
}

static void
build_root(const char *root, const char *workspace, unsigned uid, unsigned gid,
           int host_net, const struct jail_limits *lim)
{
  char tmpopts[64];
  struct stat st;

  static const char *const top[] = { "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32" };
  static const char *const devs[] = { "null", "zero", "full", "random", "urandom", "tty" };
  static const char *const etc_ro[] = { "ld.so.cache", "alternatives", "ssl", "localtime" };
  char p[PATH_MAX], q[PATH_MAX], text[1024];
  size_t i;

  if(mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755") < 0)
    die("tmpfs root");
  for(i = 0; i < N_ELEMENTS(top); i++)
    mirror_host(root, top[i]);

  join(p, root, "etc");
  make_node(p, 1);
  snprintf(text, sizeof(text),
           "root:x:0:0:root:/root:/bin/bash\n"
           "sandbox:x:%u:%u:sandhook jail:/workspace:/bin/bash\n", uid, gid);
  join(q, p, "passwd");
  write_text(q, text);
  snprintf(text, sizeof(text), "root:x:0:\nsandbox:x:%u:\n", gid);
  join(q, p, "group");
  write_text(q, text);
  join(q, p, "nsswitch.conf");
  write_text(q, "passwd: files\ngroup: files\nhosts: files dns\n");
  join(q, p, "hostname");
  write_text(q, "sandhook\n");
  join(q, p, "hosts");
  if(!host_net)
    write_text(q, "127.0.0.1 localhost sandhook\n::1 localhost\n");
  for(i = 0; i < N_ELEMENTS(etc_ro); i++) {
    char src[64];

    snprintf(src, sizeof(src), "/etc/%s", etc_ro[i]);
    join(q, p, etc_ro[i]);
    if(lstat(src, &st) < 0)
      continue;
    if(S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlink(src, target, sizeof(target) - 1);

      if(n > 0) {
        target[n] = '\0';
        if(symlink(target, q) < 0)
          die("symlink %s", q);
      }
    }
    else
      bind_mount(src, q, MS_RDONLY | MS_NOSUID | MS_NODEV);
  }
  if(host_net) {
    join(q, p, "resolv.conf");
    if(access("/etc/resolv.conf", R_OK) == 0)
      bind_mount("/etc/resolv.conf", q, MS_RDONLY | MS_NOSUID | MS_NODEV);
    join(q, p, "hosts");
    bind_mount("/etc/hosts", q, MS_RDONLY | MS_NOSUID | MS_NODEV);
  }

  join(p, root, "dev");
  make_node(p, 1);
  if(mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") < 0)
    die("tmpfs /dev");
  for(i = 0; i < N_ELEMENTS(devs); i++) {
    char src[32];

    snprintf(src, sizeof(src), "/dev/%s", devs[i]);
    join(q, p, devs[i]);
    bind_mount(src, q, MS_NOSUID | MS_NOEXEC);
  }
  join(q, p, "fd");
  if(symlink("/proc/self/fd", q) < 0)
    die("symlink /dev/fd");
  for(i = 0; i < 3; i++) {
    static const char *const names[] = { "stdin", "stdout", "stderr" };
    char target[32];

    snprintf(target, sizeof(target), "/proc/self/fd/%zu", i);
    join(q, p, names[i]);
    if(symlink(target, q) < 0)
      die("symlink %s", q);
  }

  join(p, root, "tmp");
  make_node(p, 1);
  snprintf(tmpopts, sizeof(tmpopts), "size=%ldm,mode=1777", lim->tmp_mb);
  if(mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, tmpopts) < 0)
    die("tmpfs /tmp");
  join(p, root, &JAIL_WORKDIR[1]);
  if(stat(workspace, &st) < 0)
    die("stat %s", workspace);
  if(S_ISREG(st.st_mode))
    mount_image(workspace, p);
  else
    bind_mount(workspace, p, MS_NOSUID | MS_NODEV);
  /* Mounted before the pivot: a user namespace may mount a proc only while
   * a fully visible one is in its mount namespace. */
  join(p, root, "proc");
  make_node(p, 1);
  if(mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    die("mount /proc");
  join(q, p, "sys");
  if(mount(q, q, NULL, MS_BIND | MS_REC, NULL) < 0 ||
     mount(NULL, q, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    die("read-only /proc/sys");
}

/* The egress proxy's socket at EGRESS_SOCKET: the only way out of a jail
 * whose network is the allowlist. */
static void
bind_egress_socket(const char *root, const char *sock)
{
  char p[PATH_MAX], q[PATH_MAX];

  join(p, root, "run");
  make_node(p, 1);
  join(q, p, "sandhook");
  make_node(q, 1);
  join(p, root, &EGRESS_SOCKET[1]);
  make_node(p, 0);
  bind_mount(sock, p, MS_NOSUID | MS_NODEV | MS_NOEXEC);
}

static void
loopback_up(void)
{
  struct ifreq ifr;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if(s < 0)
    die("socket");
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  if(ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
    die("SIOCGIFFLAGS lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if(ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
    die("SIOCSIFFLAGS lo");
  close(s);
}

static void
enter_root(const char *root)
{
  if(chdir(root) < 0)
    die("chdir root");
  /* pivot_root(".", ".") stacks the old root under the new one; detaching
   * it leaves no path back to the host's tree. */
  if(syscall(SYS_pivot_root, ".", ".") < 0)
    die("pivot_root");
  if(umount2(".", MNT_DETACH) < 0)
    die("detach old root");
  if(chdir("/") < 0)
    die("chdir /");
  if(mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=16m,mode=0755") < 0)
    die("read-only root");
}

/* The handshake's byte to the drainer (jail_start.h): 'U' when we made a
 * user namespace for it to map, and its answer; 'N' when there is none to
 * map. */
static void
tell_drainer(char c)
{
  if(write(JAIL_FD, &c, 1) != 1 || (c == 'U' && read(JAIL_FD, &c, 1) != 1))
    die("user namespace handshake");
}

/* Enters a user namespace where only the jail ids exist, so no process in
 * the jail can ever be uid 0 or hold a capability that means anything
 * outside; the drainer, root outside, maps them.  Where the kernel refuses
 * one (disabled, limits), the jail goes on with the rest of its layers and
 * says so. */
static void
enter_user_ns(void)
{
  if(unshare(CLONE_NEWUSER) == 0)
    tell_drainer('U');
  else {
    log_warn("user_namespace_unavailable", "errno=%d", errno);
    tell_drainer('N');
  }
}

static void
drop_privileges(unsigned uid, unsigned gid, int rootless, int new_net)
{
  uid_t r, e, s;

  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];
  int cap;

  /* Started without privileges (mod_fcgid runs us as Apache's user), we
   * were born in a user namespace the drainer mapped already; our
   * supplementary groups stay (unmapped, shown as nogroup) since only root
   * may drop them. */
  if(rootless)
    tell_drainer('N');
  else {
    /* Supplementary groups go while we are real root: inside the user
     * namespace setgroups is denied. */
    if(setgroups(0, NULL) < 0)
      die("setgroups");
    enter_user_ns();
    /* Made here, the network namespace belongs to the jail's user
     * namespace: the kernel sends it none of the host's uevents. */
    if(new_net) {
      if(unshare(CLONE_NEWNET) < 0)
        die("unshare the network namespace");
      loopback_up();
    }
  }
  /* Empty the bounding and ambient sets (a new user namespace starts with
   * full ones), so no exec can ever bring a capability back. */
  for(cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
    if(prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
      die("drop capability %d from the bounding set", cap);
  if(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    die("clear ambient capabilities");
  if(setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
    die("drop to %u:%u", uid, gid);
  if(getresuid(&r, &e, &s) < 0 || r != uid || e != uid || s != uid)
    die_plain("uid still privileged");
  /* In a user namespace where root was never mapped the uid change does
   * not clear the namespace's capabilities: clear them by hand. */
  memset(data, 0, sizeof(data));
  if(syscall(SYS_capset, &hdr, data) < 0)
    die("capset");
  if(syscall(SYS_capget, &hdr, data) < 0 || data[0].effective || data[0].permitted ||
     data[1].effective || data[1].permitted)
    die_plain("capabilities survived the uid change");
  /* The server holds the channel; a jailed process of the same uid must not
   * be able to ptrace it or read its /proc entries. */
  if(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    die("prctl");
}

/* We die with the drainer, and everything in the namespace with us.  The
 * death signal is armed again after the uid change, which clears it; the
 * channel, whose other end only the drainer holds, tells whether it died
 * before that (getppid() says 0 across the PID namespace). */
static void
outlive_no_parent(void)
{
  struct pollfd pfd = { JAIL_FD, POLLRDHUP, 0 };

  if(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || poll(&pfd, 1, 0) != 0)
    _exit(1);
}

static struct jail_limits jail_lim;

/* What the drainer sends as the first frame: host paths and ids never go
 * on the command line, which every process in the jail could read from
 * /proc/1/cmdline. */
struct setup {
  char root[PATH_MAX], workspace[PATH_MAX], memdir[PATH_MAX], ro_stores[PATH_MAX];
  char egress_socket[PATH_MAX];
  unsigned uid, gid;
  int host_net;
};

static void
copy_field(char *dst, const cJSON *req, const char *name, int required)
{
  const char *v = json_str(req, name);

  if((!v && required) || (v && strlen(v) >= PATH_MAX))
    die_plain("setup: %s missing or too long", name);
  snprintf(dst, PATH_MAX, "%s", v ? v : "");
}

static void
read_setup(struct setup *su)
{
  size_t len;
  char *frame = recv_frame(JAIL_FD, &len);
  cJSON *req = frame ? cJSON_ParseWithLength(frame, len) : NULL;
  const char *lim;

  free(frame);
  if(!req)
    die("setup: no setup frame");
  copy_field(su->root, req, "root", 1);
  copy_field(su->workspace, req, "workspace", 1);
  copy_field(su->memdir, req, "memdir", 0);
  copy_field(su->ro_stores, req, "ro_stores", 0);
  copy_field(su->egress_socket, req, "egress_socket", 0);
  su->uid = (unsigned)json_long(cJSON_GetObjectItemCaseSensitive(req, "uid"), 0, 0x7fffffffL, 0);
  su->gid = (unsigned)json_long(cJSON_GetObjectItemCaseSensitive(req, "gid"), 0, 0x7fffffffL, 0);
  su->host_net = json_true(req, "host_network");
  /* The drainer's way of logging, and the ids it logs with: a line of the
   * jail's says which work item it is about, wherever it lands. */
  log_set_json(json_true(req, "log_json"));
  log_set_level((enum log_level)json_long(cJSON_GetObjectItemCaseSensitive(req, "log_level"),
                                          LOG_DEBUG, LOG_OFF, LOG_INFO));
  if(json_true(req, "log_syslog"))
    log_use_syslog(STDERR_FILENO);
  log_ids(json_str(req, "work_id"), json_str(req, "session_id"));
  lim = json_str(req, "limits");
  if(!lim || limits_parse(lim, &jail_lim) < 0)
    die_plain("setup: bad limits");
  cJSON_Delete(req);
}

/* Our pid as the drainer's namespace sees it, for our log lines (getpid()
 * says 1): read while /proc is still the host's, before build_root mounts
 * the jail's. */
static void
log_outer_pid(void)
{
  char buf[24], *end;
  ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
  long pid;

  if(n <= 0)
    return;
  buf[n] = '\0';
  errno = 0;
  pid = strtol(buf, &end, 10);
  if(!errno && *end == '\0' && pid > 1 && pid <= INT_MAX)
    log_set_pid((pid_t)pid);
}

int
jail_main(int argc, char **argv)
{
  static struct setup su;
  struct tool_ctx tctx;
  unsigned uid, gid;
  int host_net, rootless = geteuid() != 0;
  long long started_ms = now_ms();

  log_init("jail");
  (void)argv;
  if(argc != 0)
    die_plain("usage: sandhook-jail, started by sandhook with its setup on fd %d", JAIL_FD);
  /* kill(-1) ends a tool's process tree only as PID 1 of a namespace of
   * our own (jail_start.h); anywhere else it would reach the host's. */
  log_outer_pid();
  if(getpid() != 1)
    die_plain("not PID 1 of its own namespace: sandhook-jail is started by sandhook");
  /* Nothing but the channel crosses into the jail, and the channel must
   * not reach anything this process executes. */
  syscall(SYS_close_range, JAIL_FD + 1, ~0U, 0);
  if(fcntl(JAIL_FD, F_SETFD, FD_CLOEXEC) < 0)
    die("channel fd");
  /* Nothing is started before the setup is read: the drainer moves us into
   * the jail's cgroups before it sends it (drain/jail_client.c). */
  read_setup(&su);
  uid = su.uid;
  gid = su.gid;
  host_net = su.host_net;
  if(uid == 0 || gid == 0)
    die("the jail uid and gid must not be 0");
  /* With root, the network namespace waits for the jail's own user
   * namespace (drop_privileges); without, it came with ours. */
  if(unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
    die("unshare");
  if(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    die("make / private");
  build_root(su.root, su.workspace, uid, gid, host_net, &jail_lim);
  if(*su.egress_socket)
    bind_egress_socket(su.root, su.egress_socket);
  if(*su.memdir)
    mount_memory(su.root, su.memdir, su.ro_stores, uid, gid);
  enter_root(su.root);
  if(sethostname("sandhook", 8) < 0)
    die("sethostname");
  if(!host_net && rootless)
    loopback_up();
  drop_privileges(uid, gid, rootless, !host_net && !rootless);
  outlive_no_parent();
  if(tool_ctx_init(&tctx, JAIL_WORKDIR, 120000) < 0)
    die("open %s", JAIL_WORKDIR);
  if(*su.memdir)
    memory_roots(&tctx, su.ro_stores);
  jail_serve_prepare(&tctx, &jail_lim);
  /* A write over RLIMIT_FSIZE fails with EFBIG instead of killing us. */
  signal(SIGXFSZ, SIG_IGN);
  if(limits_apply(&jail_lim, 0) < 0)
    die("rlimits");
  /* Last: everything from here on, the shell included, runs filtered. */
  if(seccomp_install() < 0)
    die("seccomp");
  if(*su.egress_socket) {
    egress_relay_enable();
    tctx.extra_env = egress_relay_env();
    if(egress_relay_ensure() < 0)
      die("egress relay");
  }
  log_debug("jail_ready", "setup_ms=%lld network=%s memory_stores=%s", now_ms() - started_ms,
            host_net ? "host" : *su.egress_socket ? "egress_relay" : "none",
            *su.memdir ? "mounted" : "none");
  jail_serve(JAIL_FD, &tctx);
  tool_ctx_free(&tctx);
  return 0;
}
