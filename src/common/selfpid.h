#ifndef SANDHOOK_SELFPID_H
#define SANDHOOK_SELFPID_H

#include <sys/types.h>

/* The calling process's pid, asked of the kernel once per process (glibc
 * no longer caches it, and the front asked twice a webhook); a child of
 * fork() asks again (pthread_atfork).  Not for a clone(CLONE_VM) child
 * before its exec, which would read, or fill, its parent's copy: spawn's
 * children never call it. */
pid_t self_pid(void);

#endif
