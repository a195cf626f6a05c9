#include "seccomp.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/personality.h>

static const char *const denied[] = {
  "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
  "mount", "umount", "umount2", "pivot_root", "chroot", "mount_setattr",
  "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
  "unshare", "setns",
  "kexec_load", "kexec_file_load", "reboot",
  "init_module", "finit_module", "delete_module",
  "bpf", "perf_event_open", "userfaultfd",
  "keyctl", "add_key", "request_key",
  "io_uring_setup", "io_uring_enter", "io_uring_register",
  "open_by_handle_at", "name_to_handle_at",
  "swapon", "swapoff", "acct", "quotactl", "syslog", "uselib", "lookup_dcookie",
  "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
};

static const unsigned long ns_flags[] = {
  CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC,
  CLONE_NEWUTS, CLONE_NEWCGROUP,
};

int
seccomp_install(void)
{
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  size_t i;
  int rc = 0;

  if(!ctx)
    return -1;
  /* Any foreign architecture (and x32, which libseccomp treats as one on
   * x86-64) kills the process instead of slipping past the rules. */
  rc |= seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  for(i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
    int nr = seccomp_syscall_resolve_name(denied[i]);

    if(nr != __NR_SCMP_ERROR)
      rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
  }
  for(i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++)
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
  /* clone3 passes its flags in memory, out of the filter's reach. */
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                         SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, (scmp_datum_t)TIOCSTI));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                         SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, (scmp_datum_t)TIOCLINUX));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, ADDR_NO_RANDOMIZE, ADDR_NO_RANDOMIZE));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, READ_IMPLIES_EXEC, READ_IMPLIES_EXEC));
  if(rc == 0)
    rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if(rc < 0) {
    errno = -rc;
    return -1;
  }
  return rc ? -1 : 0;
}
