/* A strict logfmt reader for the tests: key=bare or key="quoted with \" \\
 * \n \xNN", fields separated by one space, one line. */
#ifndef SANDHOOK_TEST_LOGFMT_H
#define SANDHOOK_TEST_LOGFMT_H

#include <stdio.h>
#include <string.h>

struct field {
  char key[64];
  char val[1024];
};

/* The number of fields, or -1 for anything that is not strict logfmt. */
static int __attribute__((unused))
logfmt_parse(const char *line, struct field *f, int max)
{
  int n = 0;
  const char *p = line;

  while(*p && *p != '\n') {
    size_t k = 0, v = 0;

    if(n == max)
      return -1;
    while(*p && *p != '=' && *p != ' ' && k < sizeof(f[n].key) - 1)
      f[n].key[k++] = *p++;
    f[n].key[k] = '\0';
    if(*p++ != '=')
      return -1;
    if(*p == '"') {
      for(p++; *p && *p != '"'; p++) {
        if(v == sizeof(f[n].val) - 1)
          return -1;
        if(*p == '\\') {
          p++;
          if(*p == 'n')
            f[n].val[v++] = '\n';
          else if(*p == 'x') {
            unsigned c;

            if(sscanf(p + 1, "%2x", &c) != 1)
              return -1;
            f[n].val[v++] = (char)c;
            p += 2;
          }
          else if(*p == '"' || *p == '\\')
            f[n].val[v++] = *p;
          else
            return -1;
        }
        else
          f[n].val[v++] = *p;
      }
      if(*p++ != '"')
        return -1;
    }
    else
      while(*p && *p != ' ' && *p != '\n') {
        if(v == sizeof(f[n].val) - 1)
          return -1;
        f[n].val[v++] = *p++;
      }
    f[n].val[v] = '\0';
    n++;
    if(*p == ' ')
      p++;
    else if(*p && *p != '\n')
      return -1;
  }
  return n;
}

static const char * __attribute__((unused))
logfmt_get(struct field *f, int n, const char *key)
{
  int i;

  for(i = 0; i < n; i++)
    if(!strcmp(f[i].key, key))
      return f[i].val;
  return NULL;
}

#endif
