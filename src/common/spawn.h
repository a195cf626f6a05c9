/* spawn: sandhook's programs, and the one way any of its processes starts
 * another program.
 *
 * The front, the drainer and the jail are three programs, so that each
 * links only what it needs: the front (what an internet client reaches)
 * neither libcurl nor libarchive, the jail no network stack and no secret.
 * Each is found next to the running binary (a build tree, or all three
 * installed in one directory), else where "make install" puts it.
 *
 * spawn_start starts sp->path as posix_spawn does (a vfork-style clone,
 * the parent waiting until the exec): the child gets exactly the
 * descriptors named (0-2, and 3 to 5 when pass_fd asks), every signal
 * unblocked, handled ones and SIGPIPE at their default, and whatever sp
 * asks (its own session, death with its parent, a directory, a last hook,
 * namespaces of its own from the start).
 * The child shares our memory until the exec, so it and before_exec only
 * make async-signal-safe calls and write nothing of ours.  An exec that
 * fails is reported back: spawn_start returns the child's pid once the
 * program runs, or -1 with the child's errno (ENOENT for a missing
 * program) or clone's. */
#ifndef SANDHOOK_SPAWN_H
#define SANDHOOK_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#define PROGRAM_DRAIN "sandhook-drain"
#define PROGRAM_JAIL "sandhook-jail"
#define PROGRAM_EGRESS "sandhook-egress"

/* Returns 0 with the program's path in buf, or -1 (ENAMETOOLONG). */
int spawn_program_path(const char *name, char *buf, size_t cap);

#define SPAWN_NULL (-1)         /* the descriptor reads and writes /dev/null */
#define SPAWN_KEEP (-2)         /* the child keeps ours */

struct spawn {
  const char *path;
  const char *const *argv, *const *envp;
  int in, out, err;             /* for fds 0-2: a descriptor, SPAWN_NULL or SPAWN_KEEP */
  int pass_fd[3];               /* given to the child as fds 3 to 5; -1: none (below
                                   * a later one: /dev/null) */
  int new_session;              /* setsid(): no terminal, its own process group */
  int die_with_parent;          /* SIGKILL when this process dies, however it dies */
  int namespaces;               /* CLONE_NEW* flags: namespaces the child is born in */
  int dir_fd;                   /* fchdir there first when >= 0 */
  int (*before_exec)(void *ctx);  /* last, in the child; non-zero fails the spawn */
  void *ctx;
};

/* A struct spawn for path with nothing asked: fds 0-2 kept, none passed. */
#define SPAWN_INIT(p, a, e) \
  { .path = (p), .argv = (a), .envp = (e), .in = SPAWN_KEEP, .out = SPAWN_KEEP, \
    .err = SPAWN_KEEP, .pass_fd = { -1, -1, -1 }, .dir_fd = -1 }

pid_t spawn_start(const struct spawn *sp);

/* Waits for pid (EINTR retried): its exit status, or -1 when it did not
 * exit normally or could not be waited for. */
int spawn_wait(pid_t pid);

#endif
