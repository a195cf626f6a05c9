/* sandbox: what the egress proxy gives up before it reads a byte from the
 * jail.  It runs as the jail's unprivileged uid and gid with no
 * supplementary groups, no capabilities and no_new_privs, and under an
 * allowlist filter of its own (started without root, it keeps its uid) (syscall-filter-gen egress): threads,
 * sockets of the four families a resolver needs, files read-only, its
 * log; everything else is EPERM, and a foreign architecture is killed.
 * The resolver's modules are loaded first (one lookup of localhost), so
 * nothing later needs what the filter refuses.  0, or -1 with errno. */
#ifndef SANDHOOK_SANDBOX_H
#define SANDHOOK_SANDBOX_H

int sandbox_enter(unsigned uid, unsigned gid);

#endif
