#include "common/ids.h"

#include <string.h>

int
id_valid(const char *id, size_t max)
{
  size_t n = strlen(id), i;

  if(n == 0 || n > max)
    return 0;
  for(i = 0; i < n; i++) {
    char c = id[i];

    if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

int
safe_id(const char *id)
{
  return id_valid(id, ID_MAX);
}
