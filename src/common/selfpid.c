#include "common/selfpid.h"

#include <pthread.h>
#include <unistd.h>

static pid_t cached;
static int watching;
static pthread_once_t registered = PTHREAD_ONCE_INIT;

static void
forget(void)
{
  __atomic_store_n(&cached, 0, __ATOMIC_RELAXED);
}

static void
watch_forks(void)
{
  /* Unregistered (ENOMEM), a fork's child would name its parent: then
   * nothing is kept and every ask is a system call. */
  if(pthread_atfork(NULL, NULL, forget) == 0)
    __atomic_store_n(&watching, 1, __ATOMIC_RELEASE);
}

pid_t
self_pid(void)
{
  pid_t pid = __atomic_load_n(&cached, __ATOMIC_RELAXED);

  if(pid)
    return pid;
  pthread_once(&registered, watch_forks);
  pid = getpid();
  if(__atomic_load_n(&watching, __ATOMIC_ACQUIRE))
    __atomic_store_n(&cached, pid, __ATOMIC_RELAXED);
  return pid;
}
