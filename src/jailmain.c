/* sandhook-jail: the jail helper; everything it does is in jailproc.c. */
#include "jailproc.h"

int
main(int argc, char **argv)
{
  return jail_main(argc - 1, argv + 1);
}
