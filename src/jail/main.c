/* sandhook-jail: the jail helper; jail_setup.c builds the jail, jail_serve.c
 * answers the drainer inside it. */
#include "jail/jail_setup.h"

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer stops the world with ptrace, which the jail's own seccomp
 * filter denies; the leak check runs in the drainer's and the unit tests'
 * processes instead. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
  return "detect_leaks=0";
}
#endif

int
main(int argc, char **argv)
{
  return jail_main(argc - 1, argv + 1);
}
