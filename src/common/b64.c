#include "common/b64.h"

static const char alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
sextet(char c, int loose)
{
  if(c >= 'A' && c <= 'Z')
    return c - 'A';
  if(c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if(c >= '0' && c <= '9')
    return c - '0' + 52;
  if(c == '+' || (loose && c == '-'))
    return 62;
  if(c == '/' || (loose && c == '_'))
    return 63;
  return -1;
}

static ssize_t
decode(const char *in, size_t len, unsigned char *out, size_t cap, int loose)
{
  size_t i, o = 0, pad = 0;
  unsigned acc = 0;
  int bits = 0;

  while(len && in[len - 1] == '=' && pad < 2) {
    len--;
    pad++;
  }
  if(!loose && (len + pad) % 4)
    return -1;
  if(len % 4 == 1)
    return -1;
  for(i = 0; i < len; i++) {
    int v = sextet(in[i], loose);

    if(v < 0)
      return -1;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if(bits >= 8) {
      bits -= 8;
      if(o >= cap)
        return -1;
      out[o++] = (unsigned char)(acc >> bits);
    }
  }
  /* Leftover bits must be zero, so each encoding has exactly one decoding. */
  if(bits && (acc & ((1u << bits) - 1)))
    return -1;
  if(pad && (len + pad) % 4)
    return -1;
  return (ssize_t)o;
}

ssize_t
b64_decode_strict(const char *in, size_t len, unsigned char *out, size_t cap)
{
  return decode(in, len, out, cap, 0);
}

ssize_t
b64_decode_loose(const char *in, size_t len, unsigned char *out, size_t cap)
{
  return decode(in, len, out, cap, 1);
}

size_t
b64_encode(const unsigned char *in, size_t len, char *out)
{
  size_t i, o = 0;

  for(i = 0; i + 2 < len; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = alphabet[v & 63];
  }
  if(i < len) {
    unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0);

    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}
