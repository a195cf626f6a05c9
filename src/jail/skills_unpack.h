/* skills_unpack: a skill archive into its directory, inside the jail.
 *
 * Runs in the jail helper, as the jail uid under seccomp, so a hostile
 * archive meets libarchive only where it can harm nothing but the sandbox.
 * Zip, or tar plain or compressed with gzip, bzip2 or xz.  The single
 * top-level wrapper directory is stripped; files get 0755 when the archive
 * gave any execute bit, else 0644; directories 0700.  Every path is created
 * below the target with openat and O_NOFOLLOW, one component at a time, so
 * nothing lands outside it.  An absolute or ".." member, a symlinked target,
 * or more than the limits fails the skill and removes what was written;
 * links, devices and other special members are refused one by one. */
#ifndef SANDHOOK_SKILLS_UNPACK_H
#define SANDHOOK_SKILLS_UNPACK_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include "common/errmsg.h"

struct unpack_limits {
  long long max_bytes;    /* unpacked bytes, all files together */
  long max_entries;
};

/* Replaces <skills_dir>/<name> with the archive's content; refused entries
 * are added to refused as {"entry","reason"}.  Returns the number of files
 * written, or -1 with err set.  archive_fd stays the caller's. */
long unpack_skill(int archive_fd, const char *skills_dir, const char *name,
                  const struct unpack_limits *lim, cJSON *refused, struct errmsg *err);

/* Removes <skills_dir>/<name> without following a link. */
int unpack_remove(const char *skills_dir, const char *name);

#endif
