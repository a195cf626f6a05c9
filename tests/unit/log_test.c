/* The logger quotes and escapes every value itself: whatever a value holds
 * (chosen by the agent, an archive or the control plane), the line parses
 * back, as logfmt, into the fields the caller wrote and no others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/utf8.h"
#include "logfmt.h"
#include "tap.h"

int
main(void)
{
  static const char *const hostile[] = {
    "x\" level=error event=forged note=\"",
    "line one\nts=2026 level=error event=forged",
    "back\\slash\\\" still=inside",
    "tab\tcr\rbell\a del\x7f",
    "",
    "plain",
    "k=v",
    "\"",
    "\\",
    "caf\xc3\xa9 \xff\xfe",
  };
  char path[] = "/tmp/sandhook-log-XXXXXX", *line = NULL;
  struct field f[16];
  size_t cap = 0;
  FILE *in;
  size_t i;
  int fd = mkstemp(path), n;

  if(fd < 0 || log_to_file(path) < 0)
    return 99;
  log_ids("work_1", "sesn_\"x y\"");
  for(i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
    log_warn("memory_upload_refused", "memory_store_id=%s path=%s status=%ld reason=%.*s", "memstore_1",
             hostile[i], 400L, 4, hostile[i]);
  in = fopen(path, "r");
  for(i = 0; in && i < sizeof(hostile) / sizeof(hostile[0]); i++) {
    size_t want_len = strlen(hostile[i]) < 4 ? strlen(hostile[i]) : 4;
    char want[8];

    if(getline(&line, &cap, in) < 0)
      break;
    n = logfmt_parse(line, f, 16);
    is_int(n, 11, "hostile value %zu: one line of exactly the fields written", i);
    is_str(logfmt_get(f, n, "event"), "memory_upload_refused", "  ...the event is the caller's");
    is_str(logfmt_get(f, n, "level"), "warn", "  ...and so is the level");
    is_str(logfmt_get(f, n, "path"), hostile[i], "  ...the value comes back whole");
    is_str(logfmt_get(f, n, "status"), "400", "  ...a number after it is intact");
    is_str(logfmt_get(f, n, "session_id"), "sesn_\"x y\"", "  ...the ids are escaped too");
    memcpy(want, hostile[i], want_len);
    want[want_len] = '\0';
    is_str(logfmt_get(f, n, "reason"), want, "  ...a precision cut is escaped as well");
  }
  ok(in && getline(&line, &cap, in) < 0, "no line more than the calls made");

  /* A value past the cap says how much of it is cut, never splitting a
   * UTF-8 sequence. */
  {
    static char big[5001];
    const char *v;
    size_t kept, cut = 0;

    memset(big, 'a', 5000);
    log_info("long", "path=%s", big);
    for(kept = 0; kept + 2 <= 4000; kept += 2)
      memcpy(big + kept, "\xc3\xa9", 2);
    big[kept] = '\0';
    log_info("long", "path=%s", big);
    if(in)
      clearerr(in);
    n = in && getline(&line, &cap, in) > 0 ? logfmt_parse(line, f, 16) : 0;
    v = logfmt_get(f, n, "path");
    kept = v ? strspn(v, "a") : 0;
    if(v && sscanf(v + kept, "...(%zu bytes cut)", &cut) != 1)
      cut = 0;
    ok(v && kept > 900 && kept + cut == 5000 && strlen(v) <= 1023,
       "a value over 1023 bytes ends in how much is cut (%zu kept, %zu cut)", kept, cut);
    n = in && getline(&line, &cap, in) > 0 ? logfmt_parse(line, f, 16) : 0;
    v = logfmt_get(f, n, "path");
    ok(v && strstr(v, "...(") && utf8_valid(v, strlen(v)) && (strstr(v, "...(") - v) % 2 == 0,
       "  ...cut between UTF-8 sequences, never inside one");
  }

  /* The jail names its pid as the host sees it; what it forks, its own. */
  {
    char want[24];
    pid_t child;

    log_set_pid(4242);
    log_info("named", "x=%d", 1);
    if((child = fork()) == 0) {
      log_info("named", "x=%d", 2);
      _exit(0);
    }
    ok(child > 0 && waitpid(child, NULL, 0) == child, "a child logged and ended");
    if(in)
      clearerr(in);
    n = in && getline(&line, &cap, in) > 0 ? logfmt_parse(line, f, 16) : 0;
    is_str(logfmt_get(f, n, "pid"), "4242", "log_set_pid: the line names the pid given");
    n = in && getline(&line, &cap, in) > 0 ? logfmt_parse(line, f, 16) : 0;
    snprintf(want, sizeof(want), "%d", (int)child);
    is_str(logfmt_get(f, n, "pid"), want, "  ...and a child forked after it names its own");
  }
  free(line);
  if(in)
    fclose(in);
  unlink(path);
  return tap_done();
}
