/* request: what a tool in the jail asks the egress proxy for, read from
 * the first bytes of its connection (untrusted: the agent writes them).
 *
 * An HTTP proxy request is a head up to its blank line: "CONNECT host:port"
 * opens a tunnel (TLS), "GET http://host[:port]/path" is forwarded with its
 * request line in origin form, the proxy's own headers dropped and
 * "Connection: close" set, so one connection carries one request.  A SOCKS5
 * connection (its first byte 5) offers "no authentication" and asks to
 * CONNECT to a name, an IPv4 or an IPv6 address.  Nothing here resolves a
 * name or opens a connection. */
#ifndef SANDHOOK_REQUEST_H
#define SANDHOOK_REQUEST_H

#include <stddef.h>

#define REQUEST_HEAD_MAX 16384

enum request_kind { REQUEST_CONNECT, REQUEST_HTTP, REQUEST_SOCKS5 };

struct egress_request {
  enum request_kind kind;
  char host[256];             /* a name, or an address as written (IPv6 without brackets) */
  int port;
  char *head;                 /* REQUEST_HTTP: the head to send on, malloc'd */
  size_t head_len;
};

/* buf holds the whole head, through "\r\n\r\n" (len counts it).  0, or -1
 * with the HTTP status to answer and a fixed reason. */
int request_parse_http(const char *buf, size_t len, struct egress_request *r, int *status,
                       const char **why);

/* The end of a head in buf (one past "\r\n\r\n"), or 0 when it has not
 * come yet. */
size_t request_head_end(const char *buf, size_t len);

/* SOCKS5.  The greeting (VER NMETHODS METHODS): 1 when more bytes are
 * needed, 0 when it offers "no authentication" (its length in *used), -1
 * when it does not.  The request (VER CMD RSV ATYP ADDR PORT): 1 for more
 * bytes, 0 with r filled and *used, -1 with the reply code to send
 * (1 general failure, 7 command not supported, 8 address type not
 * supported). */
int request_socks5_greeting(const unsigned char *buf, size_t len, size_t *used);
int request_parse_socks5(const unsigned char *buf, size_t len, struct egress_request *r,
                         size_t *used, int *reply);

void request_clear(struct egress_request *r);

#endif
