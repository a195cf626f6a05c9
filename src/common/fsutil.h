/* fsutil: small filesystem helpers shared by all three programs. */
#ifndef SANDHOOK_FSUTIL_H
#define SANDHOOK_FSUTIL_H

#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Cuts path's trailing slashes, but never the root's. */
void path_trim_slashes(char *path);
/* Cuts path in place to its directory: "/a/b" to "/a", "/a" to "/", "b"
 * to "." (path holds at least two bytes). */
void path_parent(char *path);

/* mkdir -p; existing directories are fine. */
int mkdir_p(const char *path, mode_t mode);

/* rm -rf of name below the directory parent, every step relative to a
 * descriptor opened with O_NOFOLLOW: a link is removed, never followed, a
 * mount inside stops it (EBUSY), and nothing in the tree is ever resolved
 * by path.  Missing is success. */
int remove_tree_at(int parent, const char *name);
/* The same for a path whose directories, all but the last component, no
 * one else can change. */
int remove_tree(const char *path);

/* A directory stream over a copy of the directory descriptor fd (close-on-
 * exec), which stays the caller's to close; NULL with errno. */
DIR *opendir_fd(int fd);

/* Writes all of buf, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/* Writes value into dir/file as it stands, neither created nor replaced
 * (a cgroup's or a process's control file in /proc): 0, or -1 with errno. */
int write_str_to(const char *dir, const char *file, const char *value);
/* Replaces path whole (a temporary file beside it, then exchanged with
 * it): a reader sees the old contents or the new, never a part.  Not made
 * durable: after a crash path may be empty.  0, or -1 with errno. */
int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode);

/* Reads a whole file of at most cap bytes; *out is NUL-terminated and the
 * caller's to free. */
int read_file(const char *path, size_t cap, char **out, size_t *len);
/* The same from an open descriptor (errno EFBIG past cap). */
int read_fd(int fd, size_t cap, char **out, size_t *len);

/* Removes regular files in dir whose name ends in suffix (and does not
 * start with '.') and that are at least max_age seconds old; runs at most
 * once a minute per directory (a .sweep stamp). */
void sweep_old_files(const char *dir, const char *suffix, long max_age, time_t now);

/* Splits the relative path in buf (cut in place) into comp[0..max),
 * empty components dropped; "." is dropped with dots_ok, else refused;
 * ".." and an absolute path always are.  Returns the count (0 for an empty
 * path), or -1 with errno EINVAL, or ENAMETOOLONG past max components. */
int path_split(char *buf, char **comp, int max, int dots_ok);

/* Opens the directories comp[0..n) below dirfd one at a time, never
 * through a link, creating (0700) what is missing when create is set; a
 * descriptor the caller closes, or -1. */
int open_dirs_beneath(int dirfd, char *const *comp, int n, int create);

#endif
