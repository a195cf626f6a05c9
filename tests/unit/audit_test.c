/* The audit trail: many processes appending at once keep one chain, and
 * verify names the line that was changed, removed or moved. */
#include "drain/audit.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define WRITERS 8
#define EACH 150

static char path[256];

static int
verify(char *said, size_t cap)
{
  int fds[2], rc, status;
  ssize_t n;
  pid_t pid;

  if(pipe(fds) < 0)
    return -1;
  fflush(stdout);
  pid = fork();
  if(pid == 0) {
    dup2(fds[1], 1);
    rc = audit_verify_main(path);
    fflush(stdout);
    _exit(rc);
  }
  close(fds[1]);
  n = read(fds[0], said, cap - 1);
  said[n > 0 ? n : 0] = '\0';
  close(fds[0]);
  waitpid(pid, &status, 0);
  rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return rc;
}

static char *
slurp(size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *buf = malloc(1 << 22);

  *len = fread(buf, 1, 1 << 22, f);
  fclose(f);
  return buf;
}

static void
spit(const char *buf, size_t len)
{
  FILE *f = fopen(path, "wb");

  fwrite(buf, 1, len, f);
  fclose(f);
}

/* The start of line n (1-based). */
static char *
line(char *buf, int n)
{
  while(--n > 0)
    buf = strchr(buf, '\n') + 1;
  return buf;
}

int
main(void)
{
  struct config cfg = { 0 };
  char said[512], *buf, *a, *b;
  size_t len, la, lb;
  int i, k, status, all = 1;

  snprintf(path, sizeof(path), "/tmp/sandhook-audit-test-%d", (int)getpid());
  unlink(path);
  cfg.audit_file = path;
  fflush(stdout);
  for(i = 0; i < WRITERS; i++)
    if(fork() == 0) {
      /* Each process opens the file itself, as each drainer does. */
      if(audit_open(&cfg) < 0)
        _exit(1);
      for(k = 0; k < EACH; k++) {
        char tag[32];

        snprintf(tag, sizeof(tag), "%d.%d", i, k);
        audit_event("test", "writer", tag, NULL);
      }
      _exit(0);
    }
  for(i = 0; i < WRITERS; i++) {
    wait(&status);
    all &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  ok(all, "%d processes appended %d lines each, at once", WRITERS, EACH);
  is_int(verify(said, sizeof(said)), 0, "the chain holds: %s", said);
  ok(strstr(said, "ok, 1200 lines"), "every line is in it");

  buf = slurp(&len);
  a = line(buf, 500);
  b = strstr(a, "\"writer\":\"") + 10;      /* one byte of a value, in line 500 */
  *b ^= 1;
  spit(buf, len);
  is_int(verify(said, sizeof(said)), 1, "a changed line is found");
  ok(strstr(said, "line 500: it was changed"), "  ...and named: %s", said);
  *b ^= 1;
  spit(buf, len);
  is_int(verify(said, sizeof(said)), 0, "put back, the chain holds again");

  a = line(buf, 700);
  b = line(buf, 701);
  la = (size_t)(b - a);
  memmove(a, b, len - (size_t)(b - buf));
  spit(buf, len - la);
  is_int(verify(said, sizeof(said)), 1, "a removed line is found");
  ok(strstr(said, "line 700: its seq is too high"), "  ...where it was: %s", said);
  free(buf);

  unlink(path);
  ok(audit_open(&cfg) == 0, "a fresh trail");
  for(k = 0; k < 3; k++)
    audit_event("test", "n", k == 0 ? "a" : k == 1 ? "b" : "c", NULL);
  buf = slurp(&len);
  a = line(buf, 2);
  b = line(buf, 3);
  la = (size_t)(b - a);
  lb = len - (size_t)(b - buf);
  {
    char *swapped = malloc(len);

    memcpy(swapped, buf, (size_t)(a - buf));
    memcpy(swapped + (a - buf), b, lb);
    memcpy(swapped + (a - buf) + lb, a, la);
    spit(swapped, len);
    free(swapped);
  }
  is_int(verify(said, sizeof(said)), 1, "two lines swapped are found");
  ok(strstr(said, "line 2: its seq is too high"), "  ...at the first of them: %s", said);
  free(buf);
  unlink(path);
  return tap_done();
}
