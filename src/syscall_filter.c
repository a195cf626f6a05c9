#include "syscall_filter.h"
#include "unconst.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>

#include "syscall-filter-bpf.h"

int
seccomp_install(void)
{
  struct sock_fprog prog = {
    (unsigned short)(sizeof(jail_filter) / sizeof(jail_filter[0])),
    unconst(jail_filter)
  };

  /* no_new_privs is already set, as an unprivileged filter requires. */
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0 ? -1 : 0;
}
