/* syscall-filter-gen: builds a filter with libseccomp and prints it as a C
 * array, so the program installs a precompiled filter and neither links
 * libseccomp nor spends time compiling rules at each start.
 *
 *   syscall-filter-gen jail     the jail's denylist (syscall_filter.h)
 *   syscall-filter-gen egress   the egress proxy's allowlist (egress/sandbox.h) */
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>

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

/* Sockets: only the families a tool (or the proxy's resolver) needs, all
 * namespaced.  Others (vsock reaches a hypervisor, the rest is attack
 * surface) answer EAFNOSUPPORT; netlink only as NETLINK_ROUTE, since a
 * uevent socket would hear the host's devices. */
static int
socket_rules(scmp_filter_ctx ctx)
{
  int rc = 0, i;

  for(i = 0; i < 64; i++)
    if(i != AF_UNIX && i != AF_INET && i != AF_INET6 && i != AF_NETLINK)
      rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                             SCMP_A0(SCMP_CMP_EQ, i));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                         SCMP_A0(SCMP_CMP_GE, 64));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPROTONOSUPPORT), SCMP_SYS(socket), 2,
                         SCMP_A0(SCMP_CMP_EQ, AF_NETLINK), SCMP_A2(SCMP_CMP_NE, NETLINK_ROUTE));
  return rc;
}

static int
jail_rules(scmp_filter_ctx ctx)
{
  size_t i;
  int rc = 0;

  for(i = 0; i < N_ELEMENTS(denied); i++) {
    int nr = seccomp_syscall_resolve_name(denied[i]);

    if(nr != __NR_SCMP_ERROR)
      rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
  }
  for(i = 0; i < N_ELEMENTS(ns_flags); i++)
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
  return rc | socket_rules(ctx);
}

/* What the proxy does: threads, sockets, the host's resolver (reading
 * /etc/hosts, resolv.conf and the NSS modules, read-only), its log.  No
 * exec, no file written, no new process, no privilege. */
static const char *const egress_allowed[] = {
  "read", "write", "readv", "writev", "pread64", "close", "fstat", "newfstatat", "statx",
  "lseek", "mmap", "munmap", "mprotect", "mremap", "brk", "madvise",
  "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
  "futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
  "exit", "exit_group", "gettid", "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid",
  "getrandom", "clock_gettime", "clock_nanosleep", "nanosleep", "sched_yield",
  "sched_getaffinity", "uname", "poll", "ppoll",
  "connect", "accept", "accept4", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
  "shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername", "bind",
  "fcntl", "access", "faccessat", "faccessat2", "readlink", "getcwd", "prlimit64",
};

static int
egress_rules(scmp_filter_ctx ctx)
{
  size_t i;
  int rc = 0;

  for(i = 0; i < N_ELEMENTS(egress_allowed); i++) {
    int nr = seccomp_syscall_resolve_name(egress_allowed[i]);

    if(nr != __NR_SCMP_ERROR)
      rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
  }
  /* Threads only: clone with CLONE_THREAD; clone3 says ENOSYS so that
   * glibc falls back to clone. */
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  /* Files read-only. */
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                         SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, (scmp_datum_t)FIONREAD));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET6));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
                         SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE));
  return rc;
}

int
main(int argc, char **argv)
{
  int egress = argc > 1 && !strcmp(argv[1], "egress");
  scmp_filter_ctx ctx = seccomp_init(egress ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_ALLOW);
  struct sock_filter_raw { unsigned short code; unsigned char jt, jf; unsigned int k; } ins;
  char tmpl[] = "/tmp/syscall-filter-gen-XXXXXX";
  int rc = 0, fd, n = 0;
  FILE *f;

  if(!ctx || (argc > 1 && !egress && strcmp(argv[1], "jail")))
    return 1;
  /* Any foreign architecture (and x32, which libseccomp treats as one on
   * x86-64) kills the process instead of slipping past the rules. */
  rc |= seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  rc |= egress ? egress_rules(ctx) : jail_rules(ctx);
  fd = mkstemp(tmpl);
  if(rc != 0 || fd < 0 || seccomp_export_bpf(ctx, fd) != 0) {
    fprintf(stderr, "syscall-filter-gen: cannot build the filter\n");
    return 1;
  }
  seccomp_release(ctx);
  unlink(tmpl);
  f = fdopen(fd, "rb");
  if(!f)
    return 1;
  rewind(f);
  printf("/* Generated by syscall-filter-gen from syscall_filter_gen.c; do not edit. */\n"
         "static const struct sock_filter %s_filter[] = {\n", egress ? "egress" : "jail");
  while(fread(&ins, sizeof(ins), 1, f) == 1) {
    printf("  { 0x%04x, %u, %u, 0x%08x },\n", ins.code, ins.jt, ins.jf, ins.k);
    n++;
  }
  printf("};\n");
  fclose(f);
  return n > 0 ? 0 : 1;
}
