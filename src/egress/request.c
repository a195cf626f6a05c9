#include "egress/request.h"
#include "common/egress_policy.h"
#include "common/strbuf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t
request_head_end(const char *buf, size_t len)
{
  size_t i;

  for(i = 3; i < len; i++)
    if(buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
      return i + 1;
  return 0;
}

void
request_clear(struct egress_request *r)
{
  free(r->head);
  memset(r, 0, sizeof(*r));
}

/* "host", "host:port", "[v6]" or "[v6]:port" (the authority of a URL or
 * a CONNECT target); dflt when no port is given (0: one is required). */
static int
parse_authority(const char *s, size_t len, int dflt, struct egress_request *r)
{
  const char *host = s, *colon;
  size_t hl;

  if(len && s[0] == '[') {
    const char *end = memchr(s, ']', len);

    if(!end)
      return -1;
    host = s + 1;
    hl = (size_t)(end - host);
    colon = end + 1 < s + len ? end + 1 : NULL;
    if(colon && *colon != ':')
      return -1;
  }
  else {
    colon = memchr(s, ':', len);
    hl = colon ? (size_t)(colon - s) : len;
  }
  if(hl == 0 || hl >= sizeof(r->host) || memchr(host, '@', hl))
    return -1;
  memcpy(r->host, host, hl);
  r->host[hl] = '\0';
  if(colon)
    return egress_parse_port(colon + 1, (size_t)(s + len - colon - 1), &r->port);
  r->port = dflt;
  return dflt ? 0 : -1;
}

/* Headers a proxy consumes (every Proxy-*), that would keep the origin's connection open
 * past the one request, or (Host) that could name another site than the
 * one checked: the URL's host is sent instead. */
static int
dropped_header(const char *line, size_t len)
{
  static const char *const names[] = { "proxy-", "connection:", "keep-alive:", "host:" };
  size_t i;

  for(i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    size_t n = strlen(names[i]);

    if(len >= n && !strncasecmp(line, names[i], n))
      return 1;
  }
  return 0;
}

int
request_parse_http(const char *buf, size_t len, struct egress_request *r, int *status,
                   const char **why)
{
  const char *eol = memmem(buf, len, "\r\n", 2), *sp1, *sp2, *p, *end = buf + len;
  struct strbuf sb = STRBUF_INIT;
  size_t i;

  memset(r, 0, sizeof(*r));
  *status = 400;
  for(i = 0; i < len; i++)
    if((unsigned char)buf[i] < 0x20 && buf[i] != '\r' && buf[i] != '\n' && buf[i] != '\t') {
      *why = "control bytes in the request head";
      return -1;
    }
  if(!eol || !(sp1 = memchr(buf, ' ', (size_t)(eol - buf))) ||
     !(sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))) ||
     (size_t)(eol - sp2 - 1) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
    *why = "not an HTTP/1 request line";
    return -1;
  }
  if(sp1 - buf == 7 && !memcmp(buf, "CONNECT", 7)) {
    r->kind = REQUEST_CONNECT;
    if(parse_authority(sp1 + 1, (size_t)(sp2 - sp1 - 1), 0, r) < 0) {
      *why = "CONNECT wants host:port";
      return -1;
    }
    return 0;
  }
  for(p = buf; p < sp1; p++)
    if(!((*p >= 'A' && *p <= 'Z') || *p == '-')) {
      *why = "not an HTTP method";
      return -1;
    }
  p = sp1 + 1;
  if((size_t)(sp2 - p) > 8 && !strncasecmp(p, "https://", 8)) {
    *why = "an https:// URL goes through CONNECT (set HTTPS_PROXY), not a plain proxy request";
    return -1;
  }
  if((size_t)(sp2 - p) <= 7 || strncasecmp(p, "http://", 7)) {
    *why = "a proxy request names an absolute http:// URL";
    return -1;
  }
  p += 7;
  {
    const char *path = memchr(p, '/', (size_t)(sp2 - p));
    const char *auth_end = path ? path : sp2;
    const char *q = memchr(p, '?', (size_t)(auth_end - p));

    if(q)
      auth_end = q;
    r->kind = REQUEST_HTTP;
    if(parse_authority(p, (size_t)(auth_end - p), 80, r) < 0) {
      *why = "the URL's host and port do not parse";
      return -1;
    }
    /* METHOD SP origin-form SP version */
    sb_append(&sb, buf, (size_t)(sp1 - buf) + 1);
    if(auth_end == sp2 || *auth_end == '?')
      sb_append(&sb, "/", 1);
    sb_append(&sb, auth_end, (size_t)(sp2 - auth_end));
    sb_append(&sb, sp2, (size_t)(eol - sp2) + 2);
    sb_printf(&sb, "Host: %.*s\r\n", (int)(auth_end - p), p);
  }
  for(p = eol + 2; p < end;) {
    const char *le = memmem(p, (size_t)(end - p), "\r\n", 2);

    if(!le || le == p)
      break;                        /* the blank line */
    /* A folded line or one without a name would let a dropped header
     * through in pieces: refused, as RFC 9112 allows. */
    if(*p == ' ' || *p == '\t' || !memchr(p, ':', (size_t)(le - p))) {
      sb_release(&sb);
      *why = "a header line that is folded or has no name";
      return -1;
    }
    if(!dropped_header(p, (size_t)(le - p)))
      sb_append(&sb, p, (size_t)(le - p) + 2);
    p = le + 2;
  }
  sb_append(&sb, "Connection: close\r\n\r\n", 21);
  if(sb.failed) {
    sb_release(&sb);
    *status = 500;
    *why = "out of memory";
    return -1;
  }
  r->head = sb.data;
  r->head_len = sb.len;
  return 0;
}

int
request_socks5_greeting(const unsigned char *buf, size_t len, size_t *used)
{
  size_t i;

  if(len < 2)
    return 1;
  if(buf[0] != 5 || buf[1] == 0)
    return -1;
  if(len < 2 + (size_t)buf[1])
    return 1;
  *used = 2 + (size_t)buf[1];
  for(i = 0; i < buf[1]; i++)
    if(buf[2 + i] == 0)
      return 0;
  return -1;
}

int
request_parse_socks5(const unsigned char *buf, size_t len, struct egress_request *r, size_t *used,
                     int *reply)
{
  size_t need, alen;

  memset(r, 0, sizeof(*r));
  *reply = 1;
  if(len < 5)
    return 1;
  if(buf[0] != 5 || buf[2] != 0)
    return -1;
  if(buf[1] != 1) {
    *reply = 7;                     /* only CONNECT: no BIND, no UDP */
    return -1;
  }
  switch(buf[3]) {
  case 1: alen = 4; break;
  case 4: alen = 16; break;
  case 3: alen = 1 + (size_t)buf[4]; break;
  default:
    *reply = 8;
    return -1;
  }
  need = 4 + alen + 2;
  if(len < need)
    return 1;
  r->kind = REQUEST_SOCKS5;
  if(buf[3] == 3) {
    if(buf[4] == 0 || memchr(buf + 5, 0, buf[4]))
      return -1;
    memcpy(r->host, buf + 5, buf[4]);
    r->host[buf[4]] = '\0';
  }
  else if(!inet_ntop(buf[3] == 1 ? AF_INET : AF_INET6, buf + 4, r->host, sizeof(r->host)))
    return -1;
  r->port = (buf[4 + alen] << 8) | buf[5 + alen];
  if(r->port == 0)
    return -1;
  *used = need;
  return 0;
}
