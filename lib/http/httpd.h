/* httpd.h - a small read-only HTTP(S) server on a libevent loop, with optional mutual TLS. */
#ifndef PC_HTTPD_H
#define PC_HTTPD_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "error.h"

/*
 * The server is libevent's evhttp: request parsing, limits and timeouts are
 * its own. TLS uses OpenSSL bufferevents (evhttp_set_bevcb), TLS 1.2 at
 * least. With a client CA file the server requires a client certificate
 * signed by that CA (mutual TLS); a handshake that fails just closes the
 * connection. Everything runs on the loop thread of `base`.
 */

typedef struct pc_httpd pc_httpd;

/* Handler of every request. The request is borrowed; answer it with
 * evhttp_send_reply() now or later (it stays valid until answered, even
 * when the client has gone: the answer is then dropped). */
typedef void (*pc_httpd_cb)(struct evhttp_request *req, void *ud);

typedef struct pc_httpd_opts {
    const char *listen;    /* "IP:PORT" or "[IPv6]:PORT"; port 0 picks a free one */
    const char *cert;      /* PEM certificate chain; NULL or "": plain HTTP */
    const char *key;       /* PEM private key; required with cert */
    const char *client_ca; /* PEM CA bundle; NULL or "": no client certificate asked */
} pc_httpd_opts;

/*
 * Parse "IP:PORT" / "[IPv6]:PORT" (literals only, port 0-65535) into *ss.
 * Returns 0 or PORTCO_ECONFIG (err says what is wrong).
 */
int pc_httpd_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len, pc_error *err);

/*
 * Start listening. Returns 0 with *out owned (pc_httpd_free), or
 * PORTCO_ECONFIG (bad address; cert without key or key without cert; client
 * CA without cert; unreadable or invalid cert, key or CA file; key that does
 * not match the certificate), -errno from socket/bind/listen (e.g.
 * -EADDRINUSE), or -ENOMEM. Never exits.
 */
int pc_httpd_start(struct event_base *base, const pc_httpd_opts *o, pc_httpd_cb cb, void *ud,
                   pc_httpd **out, pc_error *err);

/* Stop listening and free; open connections are closed. Accepts NULL. */
void pc_httpd_free(pc_httpd *h);

/* Port the server listens on (useful after port 0). */
int pc_httpd_port(const pc_httpd *h);

/* True when the server speaks TLS. */
bool pc_httpd_tls(const pc_httpd *h);

/* Reply with `body` (consumed; NULL gives 500) as application/json. */
void pc_http_reply_json(struct evhttp_request *req, int status, json_t *body);

/* Reply {"error":NAME,"message":MSG} where NAME is portco_err_name(code). */
void pc_http_reply_error(struct evhttp_request *req, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Common routing checks: the request is a GET. When it is not, answers 405
 * with "Allow: GET" and returns false.
 */
bool pc_http_require_get(struct evhttp_request *req);

/* Path of the request without the query ("/metrics"); "" when unparsable. */
const char *pc_http_path(struct evhttp_request *req, char *buf, size_t len);

/* Value of query parameter `name` (decoded) copied to buf. Returns 0,
 * -ENOENT (absent), -E2BIG (longer than len - 1), -EINVAL (bad query). */
int pc_http_query(struct evhttp_request *req, const char *name, char *buf, size_t len);

#endif
