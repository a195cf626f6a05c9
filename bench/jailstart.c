/* Jail cost, timed the way the drainer pays it, against bubblewrap doing
 * the same: N rounds, each starting a sandhook jail (common/jail_start.h)
 * that runs one bash call `true` and ends, then `bwrap ... true`.  Prints
 * "sandhook MS" and "bwrap MS" per round; bench/jail.py sums them up.
 *
 *   bench/jailstart SANDHOOK_JAIL ROOT WORKSPACE N BWRAP_ARG...
 *
 * ROOT and WORKSPACE go into the setup frame as they are: plain paths. */
#include "common/frame.h"
#include "common/jail_start.h"
#include "common/spawn.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define JAIL_ID 65534

extern char **environ;

/* Milliseconds since *t0, on the monotonic clock. */
static double
ms_since(const struct timespec *t0)
{
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void
fail(const char *what)
{
  fprintf(stderr, "jailstart: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double
sandhook_once(const char *jail, const char *root, const char *ws)
{
  static const char request[] =
    "{\"op\":1,\"tool\":\"bash\",\"input\":{\"command\":\"true\"},\"timeout_ms\":10000}";
  const char *const argv[] = { "sandhook-jail", NULL }, *const envp[] = { NULL };
  struct spawn sp = SPAWN_INIT(jail, argv, envp);
  char *setup, *reply;
  cJSON *obj;
  struct timespec t0;
  size_t len;
  int sv[2];
  pid_t pid;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  /* Built as the drainer builds it: the paths escaped, whatever they hold. */
  if(!(obj = cJSON_CreateObject()) || !cJSON_AddStringToObject(obj, "root", root) ||
     !cJSON_AddStringToObject(obj, "workspace", ws) || !cJSON_AddNumberToObject(obj, "uid", JAIL_ID) ||
     !cJSON_AddNumberToObject(obj, "gid", JAIL_ID) || !cJSON_AddFalseToObject(obj, "host_network") ||
     !cJSON_AddStringToObject(obj, "limits", "cpu=600,as=4096,nofile=1024,nproc=512,fsize=1024,tmp=64") ||
     !(setup = cJSON_PrintUnformatted(obj)))
    fail("setup frame");
  cJSON_Delete(obj);
  if(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    fail("socketpair");
  sp.in = sp.out = SPAWN_NULL;
  sp.pass_fd[0] = sv[1];
  sp.die_with_parent = 1;
  if((pid = jail_start(&sp, JAIL_ID, JAIL_ID, 0)) < 0)
    fail("jail_start");
  close(sv[1]);
  if(send_frame(sv[0], setup, strlen(setup)) < 0 || jail_settle(pid, sv[0], JAIL_ID, JAIL_ID, 30000, NULL, NULL) < 0)
    fail("jail setup");
  free(setup);
  if(send_frame(sv[0], request, strlen(request)) < 0 || !(reply = recv_frame(sv[0], &len)))
    fail("bash call");
  if(!strstr(reply, "\"is_error\":false")) {
    fprintf(stderr, "jailstart: the call failed: %s\n", reply);
    exit(1);
  }
  free(reply);
  close(sv[0]);
  if(spawn_wait(pid) != 0)
    fail("jail exit");
  return ms_since(&t0);
}

static double
bwrap_once(char **argv)
{
  struct timespec t0;
  pid_t pid;
  int rc;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
  if(rc != 0) {
    errno = rc;
    fail("bwrap");
  }
  if(spawn_wait(pid) != 0) {
    errno = 0;
    fail("bwrap exited non-zero");
  }
  return ms_since(&t0);
}

int
main(int argc, char **argv)
{
  int i, n;

  if(argc < 6 || (n = atoi(argv[4])) < 1) {
    fprintf(stderr, "usage: jailstart SANDHOOK_JAIL ROOT WORKSPACE N BWRAP_ARG...\n");
    return 2;
  }
  /* Each in turn, so both see the same machine. */
  for(i = 0; i < n; i++) {
    printf("sandhook %.6f\n", sandhook_once(argv[1], argv[2], argv[3]));
    printf("bwrap %.6f\n", bwrap_once(argv + 5));
  }
  return 0;
}
