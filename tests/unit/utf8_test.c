/* The UTF-8 decoder every outgoing text goes through: strict validity, and
 * cleaning as Node decodes (one U+FFFD per maximal invalid subpart). */
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "tap.h"

#define R "\xef\xbf\xbd"

static const struct {
  const char *in;
  size_t len;
  int valid;
  const char *clean;
  const char *what;
} cases[] = {
  { "plain", 5, 1, "plain", "ASCII" },
  { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, 1, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "2, 3 and 4 bytes" },
  { "a\0b", 3, 1, "a" R "b", "NUL is valid UTF-8 but cannot travel in a C string" },
  { "\xe9t\xe9", 3, 0, R "t" R, "Latin-1" },
  { "\xc0\xaf", 2, 0, R R, "overlong 2-byte" },
  { "\xe0\x80\xaf", 3, 0, R R R, "overlong 3-byte" },
  { "\xf0\x80\x80\xaf", 4, 0, R R R R, "overlong 4-byte" },
  { "\xed\xa0\x80", 3, 0, R R R, "a surrogate" },
  { "\xf4\x90\x80\x80", 4, 0, R R R R, "above U+10FFFF" },
  { "\xf5\x80", 2, 0, R R, "F5 lead" },
  { "\xe2\x82", 2, 0, R, "truncated 3-byte: one U+FFFD" },
  { "\xf0\x9f\x98", 3, 0, R, "truncated 4-byte: one U+FFFD" },
  { "\xe2\x82x", 3, 0, R "x", "broken sequence, then ASCII" },
  { "\x80\xbf", 2, 0, R R, "lone continuation bytes" },
  { "\xef\xbf\xbd", 3, 1, R, "U+FFFD itself" },
  { "\xf4\x8f\xbf\xbf", 4, 1, "\xf4\x8f\xbf\xbf", "U+10FFFF" },
  { "\xed\x9f\xbf", 3, 1, "\xed\x9f\xbf", "U+D7FF" },
};

int
main(void)
{
  size_t i, n;
  cJSON *j;
  char *c;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    is_int(utf8_valid(cases[i].in, cases[i].len), cases[i].valid, "valid: %s", cases[i].what);
    c = utf8_clean(cases[i].in, cases[i].len, &n);
    is_str(c, cases[i].clean, "clean: %s", cases[i].what);
    ok(c && n == strlen(c) && utf8_valid(c, n), "  ...and the result is valid, its length right");
    free(c);
  }
  /* As the drainer receives it from the jail: cJSON keeps raw bytes. */
  j = cJSON_Parse("{\"content\":[{\"type\":\"text\",\"text\":\"bad \xff end\"}]}");
  is_int(utf8_clean_json(j), 0, "a JSON tree is cleaned");
  c = cJSON_PrintUnformatted(j);
  is_str(c, "{\"content\":[{\"type\":\"text\",\"text\":\"bad " R " end\"}]}", "its strings become valid text");
  free(c);
  cJSON_Delete(j);
  return tap_done();
}
