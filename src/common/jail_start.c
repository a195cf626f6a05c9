#include "common/jail_start.h"
#include "common/clock.h"
#include "common/fsutil.h"

#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The jail uid and gid, and nothing else, onto outer ones; pid is our
 * child, unreaped, so the number cannot name another process. */
static int
map_ids(pid_t pid, unsigned uid, unsigned gid, unsigned outer_uid, unsigned outer_gid)
{
  char dir[32], map[64];

  snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
  if(write_str_to(dir, "setgroups", "deny") < 0)
    return -1;
  snprintf(map, sizeof(map), "%u %u 1\n", uid, outer_uid);
  if(write_str_to(dir, "uid_map", map) < 0)
    return -1;
  snprintf(map, sizeof(map), "%u %u 1\n", gid, outer_gid);
  return write_str_to(dir, "gid_map", map);
}

struct hook {
  int (*fn)(void *);
  void *ctx;
};

/* In the child, born in its user namespace with every capability there
 * (and a full bounding set: the kernel gives a new namespace its own, so a
 * unit's CapabilityBoundingSet= does not stop the inheritable copy).
 * Our uid is not mapped yet, so the exec would drop them: they go on as
 * ambient ones, which the helper clears with the rest once its root is
 * built.  Then the caller's own hook. */
static int
keep_caps(void *arg)
{
  const struct hook *h = arg;
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  int cap;

  if(syscall(SYS_capget, &hdr, d) < 0)
    return -1;
  d[0].inheritable = d[0].permitted;
  d[1].inheritable = d[1].permitted;
  if(syscall(SYS_capset, &hdr, d) < 0)
    return -1;
  for(cap = 0; prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) == 0; cap++)
    ;
  if(errno != EINVAL)           /* EINVAL: past the last capability */
    return -1;
  return h->fn ? h->fn(h->ctx) : 0;
}

pid_t
jail_start(struct spawn *sp, unsigned uid, unsigned gid, int host_net)
{
  int rootless = geteuid() != 0, e;
  struct hook caller = { sp->before_exec, sp->ctx };
  pid_t pid;

  sp->namespaces = CLONE_NEWPID | (rootless ? CLONE_NEWUSER | (host_net ? 0 : CLONE_NEWNET) : 0);
  if(rootless) {
    sp->before_exec = keep_caps;
    sp->ctx = &caller;
  }
  pid = spawn_start(sp);
  sp->before_exec = caller.fn;
  sp->ctx = caller.ctx;
  if(pid < 0)
    return -1;
  /* The helper reads its setup frame before anything else, and the frame
   * goes only after this: it never runs unmapped. */
  if(rootless && map_ids(pid, uid, gid, (unsigned)geteuid(), (unsigned)getegid()) < 0) {
    e = errno;
    kill(pid, SIGKILL);
    spawn_wait(pid);
    errno = e;
    return -1;
  }
  return pid;
}

int
jail_settle(pid_t pid, int fd, unsigned uid, unsigned gid, long ms,
            int (*abort)(void *), void *ctx)
{
  long long end = now_ms() + ms, left;
  struct pollfd p = { fd, POLLIN, 0 };
  ssize_t n;
  char c;

  for(;;) {
    if((left = end - now_ms()) < 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    /* The drainer's slots block SIGTERM: a helper that hangs before its
     * byte would hold a stopping drainer for all of ms, but for abort. */
    if(abort && abort(ctx)) {
      errno = ECANCELED;
      return -1;
    }
    if(abort && left > 100)
      left = 100;
    n = poll(&p, 1, left >= INT_MAX ? INT_MAX : (int)left + 1);
    if(n > 0)
      break;
    if(n < 0 && errno != EINTR)
      return -1;
  }
  while((n = read(fd, &c, 1)) < 0 && errno == EINTR)
    ;
  if(n != 1) {
    errno = n == 0 ? ESRCH : errno;
    return -1;
  }
  if(c == 'N')
    return 0;
  if(c != 'U') {
    errno = EPROTO;
    return -1;
  }
  if(map_ids(pid, uid, gid, uid, gid) < 0)
    return -1;
  return write_all(fd, &c, 1);
}
