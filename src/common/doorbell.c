#include "common/doorbell.h"
#include "common/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int
bell_path(char *buf, size_t cap, const char *state_dir)
{
  return statedir_path(buf, cap, state_dir, STATEDIR_RUN "/" STATEDIR_DOORBELL);
}

/* fd is a FIFO, the one at path when same is given. */
static int
is_fifo(int fd, const struct stat *same)
{
  struct stat st;

  if(fstat(fd, &st) < 0)
    return 0;
  if(!S_ISFIFO(st.st_mode)) {
    errno = ENXIO;
    return 0;
  }
  return !same || (st.st_ino == same->st_ino && st.st_dev == same->st_dev);
}

int
doorbell_ring(const char *state_dir)
{
  char path[PATH_MAX];
  sigset_t pipe_sig, old;
  struct timespec zero = { 0, 0 };
  ssize_t n;
  int fd, e;

  if(bell_path(path, sizeof(path), state_dir) < 0)
    return -1;
  /* Non-blocking: ENXIO at once when nobody has it open for reading. */
  fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if(fd < 0)
    return -1;
  if(!is_fifo(fd, NULL)) {
    close(fd);
    return -1;
  }
  /* The listener may close between our open and the write: EPIPE, and a
   * SIGPIPE that must not end a CGI front before it answers. */
  sigemptyset(&pipe_sig);
  sigaddset(&pipe_sig, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_sig, &old);
  n = write(fd, "r", 1);
  e = errno;
  if(n < 0 && e == EPIPE)
    sigtimedwait(&pipe_sig, NULL, &zero);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(fd);
  /* EAGAIN: the FIFO is full of rings not read yet, so it is listened to. */
  if(n == 1 || (n < 0 && e == EAGAIN))
    return 0;
  errno = n < 0 && e == EPIPE ? ENXIO : e;
  return -1;
}

int
doorbell_open(const char *state_dir)
{
  char path[PATH_MAX];
  int fd;

  if(bell_path(path, sizeof(path), state_dir) < 0 || (mkfifo(path, 0600) < 0 && errno != EEXIST))
    return -1;
  fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if(fd >= 0 && !is_fifo(fd, NULL)) {
    close(fd);
    return -1;
  }
  return fd;
}

int
doorbell_listen(struct doorbell *b, const char *state_dir, int given)
{
  char path[PATH_MAX];
  struct stat st;

  b->rd = b->keep = -1;
  if(bell_path(path, sizeof(path), state_dir) < 0)
    goto fail;
  if(given >= 0) {
    if(stat(path, &st) == 0 && is_fifo(given, &st) && fcntl(given, F_SETFD, FD_CLOEXEC) == 0)
      b->rd = given;
    else
      close(given);
  }
  if(b->rd < 0 && (b->rd = doorbell_open(state_dir)) < 0)
    goto fail;
  /* Ours succeeds: we are a reader.  It must reach the same FIFO. */
  if((b->keep = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
     fstat(b->keep, &st) < 0)
    goto fail;
  if(!is_fifo(b->rd, &st)) {
    errno = ESTALE;
    goto fail;
  }
  return 0;
fail:
  doorbell_close(b);
  return -1;
}

int
doorbell_rings(struct doorbell *b)
{
  char buf[256];
  ssize_t n;
  int rings = 0;

  while((n = read(b->rd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
    if(n > 0)
      rings = rings > INT_MAX - (int)n ? INT_MAX : rings + (int)n;
  return rings;
}

void
doorbell_close(struct doorbell *b)
{
  int e = errno;

  if(b->rd >= 0)
    close(b->rd);
  if(b->keep >= 0)
    close(b->keep);
  b->rd = b->keep = -1;
  errno = e;
}
