/* A skill archive from the API, unpacked as the jail does (zip, or tar
 * plain or compressed): whatever the bytes, the only tree made is
 * skills/s, holding nothing but directories (0700) and regular files
 * (0644 or 0755) within the limits; a failure leaves nothing; refused
 * members are each named with a reason.  Runs in a directory of its own
 * on /dev/shm (or $TMPDIR), emptied after every input, removed at exit. */
#include "fuzz.h"
#include "common/fsutil.h"
#include "jail/skills_unpack.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct unpack_limits lim = { 1 << 20, 64 };
static char base[64], skills[80];

int LLVMFuzzerInitialize(int *argc, char ***argv);

static void
leave(void)
{
  remove_tree_at(AT_FDCWD, skills);
  rmdir(base);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

  (void)argc;
  (void)argv;
  snprintf(base, sizeof(base), "%s/fuzz-skill-XXXXXX", tmp);
  if(!mkdtemp(base))
    abort();
  snprintf(skills, sizeof(skills), "%s/skills", base);
  atexit(leave);
  return 0;
}

struct tally {
  long files, dirs, others;
  long long blocks_bytes;
};

/* Walks dir (an open directory) without following links. */
static void
walk(int dir, struct tally *t, int depth)
{
  DIR *d = fdopendir(dir);
  struct dirent *e;
  struct stat st;

  FUZZ_ASSERT(d && depth < 80);
  while((e = readdir(d))) {
    if(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    FUZZ_ASSERT(fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0);
    if(S_ISDIR(st.st_mode)) {
      int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

      FUZZ_ASSERT((st.st_mode & 07777) == 0700 && sub >= 0);
      t->dirs++;
      walk(sub, t, depth + 1);
    }
    else if(S_ISREG(st.st_mode)) {
      FUZZ_ASSERT((st.st_mode & 07777) == 0644 || (st.st_mode & 07777) == 0755);
      t->files++;
      t->blocks_bytes += (long long)st.st_blocks * 512;
    }
    else
      t->others++;
  }
  closedir(d);
}

/* The names in dir, which must be exactly want (or nothing when NULL). */
static void
only(const char *dir, const char *want)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int seen = 0;

  FUZZ_ASSERT(d);
  while((e = readdir(d))) {
    if(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    FUZZ_ASSERT(want && !strcmp(e->d_name, want));
    seen++;
  }
  closedir(d);
  FUZZ_ASSERT(seen == (want ? 1 : 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  int fd = memfd_create("skill", MFD_CLOEXEC);
  cJSON *refused = cJSON_CreateArray(), *r;
  struct errmsg err = { 0 };
  struct tally t = { 0 };
  long n;

  FUZZ_ASSERT(fd >= 0 && refused);
  FUZZ_ASSERT(size == 0 || write(fd, data, size) == (ssize_t)size);
  n = unpack_skill(fd, skills, "s", &lim, refused, &err);
  close(fd);
  only(base, access(skills, F_OK) == 0 ? "skills" : NULL);
  if(n < 0) {
    FUZZ_ASSERT(errmsg_isset(&err));
    if(access(skills, F_OK) == 0)
      only(skills, NULL);
  }
  else {
    int top = open(skills, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int s;

    only(skills, "s");
    FUZZ_ASSERT(top >= 0);
    s = openat(top, "s", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(top);
    FUZZ_ASSERT(s >= 0);
    walk(s, &t, 0);
    FUZZ_ASSERT(t.others == 0 && t.files <= n && t.files + t.dirs <= lim.max_entries);
    /* Data as written, in whole pages at most per file. */
    FUZZ_ASSERT(t.blocks_bytes <= lim.max_bytes + t.files * 4096LL);
    cJSON_ArrayForEach(r, refused)
      FUZZ_ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "entry")) &&
                  cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "reason")));
  }
  FUZZ_ASSERT(unpack_remove(skills, "s") == 0);
  if(access(skills, F_OK) == 0)
    only(skills, NULL);
  cJSON_Delete(refused);
  return 0;
}
