/* proctitle: what a long-lived process is doing, in ps and top
 * ("sandhook: drain sesn_... bash 12s"), written over its own argv.
 *
 * proctitle_init takes main's argv before anything else reads it again;
 * proctitle_set then replaces the command line, cut to the room argv had;
 * a drainer serving several items at once shows the one that wrote last.
 * /proc/PID/comm (the program's name) is left alone, so tools that find
 * sandhook's processes by name still do. */
#ifndef SANDHOOK_PROCTITLE_H
#define SANDHOOK_PROCTITLE_H

void proctitle_init(int argc, char **argv);
void proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
