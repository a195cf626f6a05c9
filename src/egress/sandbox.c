#include "egress/sandbox.h"
#include "common/unconst.h"
#include "common/util.h"

#include <errno.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netdb.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "egress/egress-filter-bpf.h"

int
sandbox_enter(unsigned uid, unsigned gid)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
  struct sock_fprog prog = { (unsigned short)N_ELEMENTS(egress_filter), unconst(egress_filter) };

  if(getaddrinfo("localhost", NULL, &hints, &res) == 0)
    freeaddrinfo(res);
  /* Started without root (mod_fcgid), it is unprivileged already. */
  if(geteuid() == 0) {
    if(setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
      return -1;
    if(getuid() != uid || geteuid() != uid) {
      errno = EPERM;
      return -1;
    }
  }
  if(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
     prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
    return -1;
  return 0;
}
