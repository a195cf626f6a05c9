/* syscall_filter: the jail's system-call denylist (libseccomp).
 *
 * An allowlist cannot fit arbitrary shell commands, so the filter denies
 * with EPERM what a jailed process never needs and an escape would: ptrace
 * and process_vm_*, mount and the new mount API, pivot_root, chroot,
 * unshare, setns and namespace flags on clone (clone3 says ENOSYS so libc
 * falls back to clone), kexec, module loading, bpf, perf_event_open, keyctl,
 * userfaultfd, io_uring, personality flags that weaken ASLR or W^X, and the
 * TIOCSTI/TIOCLINUX ioctls.  socket() takes only AF_UNIX, AF_INET, AF_INET6
 * and AF_NETLINK with NETLINK_ROUTE (no vsock, no uevents, nothing that is
 * not namespaced).  Only the native architecture is allowed; any
 * other (i386, and x32 on x86-64) kills the process.  The rules are built
 * at compile time by syscall-filter-gen (syscall_filter_gen.c) with libseccomp; the jail
 * loads the ready program.  Install it last, with no_new_privs set. */
#ifndef SANDHOOK_SYSCALL_FILTER_H
#define SANDHOOK_SYSCALL_FILTER_H

int seccomp_install(void);

#endif
