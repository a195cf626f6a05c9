#include "jail/syscall_filter.h"
#include "common/unconst.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>

#include "jail/syscall-filter-bpf.h"
#include "common/util.h"

int
seccomp_install(void)
{
  struct sock_fprog prog = {
    (unsigned short)(N_ELEMENTS(jail_filter)),
    unconst(jail_filter)
  };

  /* no_new_privs is already set, as an unprivileged filter requires. */
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0 ? -1 : 0;
}
