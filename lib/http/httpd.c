/* httpd.c - a small read-only HTTP(S) server on a libevent loop, with optional mutual TLS. */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "portco.h"

/* Limits handed to evhttp: requests are small GETs. */
#define PC_HTTPD_MAX_HEADERS 16384
#define PC_HTTPD_MAX_BODY    4096
#define PC_HTTPD_TIMEOUT_S   30

struct pc_httpd {
    struct event_base *base;
    struct evhttp *http;
    SSL_CTX *ssl;
    int port;
    pc_httpd_cb cb;
    void *ud;
};

int pc_httpd_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len, pc_error *err)
{
    memset(ss, 0, sizeof(*ss));
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || colon == s || !colon[1])
        return pc_error_set(err, PORTCO_ECONFIG,
                            "'%.80s' is not IP:PORT; write e.g. 127.0.0.1:9470 or [::1]:9470",
                            s ? s : "");
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || port < 0 || port > 65535 || colon[1] < '0' || colon[1] > '9')
        return pc_error_set(err, PORTCO_ECONFIG, "'%.80s': the port must be 0-65535", s);
    char host[64];
    size_t hl = (size_t)(colon - s);
    bool v6 = hl >= 2 && s[0] == '[' && s[hl - 1] == ']';
    if (v6) {
        s++;
        hl -= 2;
    }
    if (hl >= sizeof(host))
        return pc_error_set(err, PORTCO_ECONFIG, "'%.80s': the address is too long", s);
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return pc_error_set(err, PORTCO_ECONFIG, "'%s' is not an IPv6 literal", host);
        *len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return pc_error_set(err, PORTCO_ECONFIG,
                                "'%s' is not an IPv4 literal (IPv6 goes in brackets: [::1]:9470)",
                                host);
        *len = sizeof(*a);
    }
    return 0;
}

/* The first queued OpenSSL error as text, and clear the queue. */
static const char *pc_ssl_errstr(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "unknown OpenSSL error");
    ERR_clear_error();
    return buf;
}

static int pc_check_readable(const char *what, const char *path, pc_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return pc_error_set(err, PORTCO_ECONFIG, "%s %s: cannot read it: %s", what, path,
                            strerror(errno));
    fclose(f);
    return 0;
}

static int pc_ssl_ctx_new(const pc_httpd_opts *o, SSL_CTX **out, pc_error *err)
{
    char e[256];
    *out = NULL;
    int rc = pc_check_readable("TLS certificate", o->cert, err);
    if (rc == 0)
        rc = pc_check_readable("TLS key", o->key, err);
    if (rc == 0 && o->client_ca && o->client_ca[0])
        rc = pc_check_readable("TLS client CA", o->client_ca, err);
    if (rc < 0)
        return rc;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return pc_error_set(err, -ENOMEM, "cannot create a TLS context: %s",
                            pc_ssl_errstr(e, sizeof(e)));
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
        rc = pc_error_set(err, PORTCO_ECONFIG,
                          "TLS certificate %s: not a usable PEM certificate: %s", o->cert,
                          pc_ssl_errstr(e, sizeof(e)));
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1) {
        /* OpenSSL already compares the key with the certificate here. */
        bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        rc = pc_error_set(err, PORTCO_ECONFIG, "TLS key %s: %s: %s", o->key,
                          mismatch ? "does not match the certificate"
                                   : "not a usable PEM private key",
                          pc_ssl_errstr(e, sizeof(e)));
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        rc = pc_error_set(err, PORTCO_ECONFIG, "TLS key %s does not match the certificate %s: %s",
                          o->key, o->cert, pc_ssl_errstr(e, sizeof(e)));
        goto fail;
    }
    if (o->client_ca && o->client_ca[0]) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->client_ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, o->client_ca, NULL) != 1) {
            if (names)
                sk_X509_NAME_pop_free(names, X509_NAME_free);
            rc = pc_error_set(err, PORTCO_ECONFIG,
                              "TLS client CA %s: no usable PEM CA certificate in it: %s",
                              o->client_ca, pc_ssl_errstr(e, sizeof(e)));
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names); /* takes ownership */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    *out = ctx;
    return 0;
fail:
    SSL_CTX_free(ctx);
    return rc;
}

/* evhttp asks for each accepted connection's bufferevent: a TLS one. */
static struct bufferevent *pc_httpd_bevcb(struct event_base *base, void *arg)
{
    pc_httpd *h = arg;
    SSL *ssl = SSL_new(h->ssl);
    if (!ssl)
        return NULL;
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        SSL_free(ssl);
    return bev;
}

static void pc_httpd_dispatch(struct evhttp_request *req, void *arg)
{
    pc_httpd *h = arg;
    h->cb(req, h->ud);
}

static int pc_httpd_listen(const struct sockaddr_storage *ss, socklen_t len, int *out,
                           const char *listen_s, pc_error *err)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return pc_error_set(err, -errno, "HTTP socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        close(fd);
        return pc_error_set(err, -e, "cannot listen for HTTP on %s: %s", listen_s, strerror(e));
    }
    *out = fd;
    return 0;
}

int pc_httpd_start(struct event_base *base, const pc_httpd_opts *o, pc_httpd_cb cb, void *ud,
                   pc_httpd **out, pc_error *err)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t slen = 0;
    int rc = pc_httpd_parse_addr(o->listen, &ss, &slen, err);
    if (rc < 0)
        return rc;
    bool has_cert = o->cert && o->cert[0], has_key = o->key && o->key[0];
    bool has_ca = o->client_ca && o->client_ca[0];
    if (has_cert != has_key)
        return pc_error_set(err, PORTCO_ECONFIG,
                            "TLS needs both a certificate and a key (only the %s is given)",
                            has_cert ? "certificate" : "key");
    if (has_ca && !has_cert)
        return pc_error_set(err, PORTCO_ECONFIG,
                            "a TLS client CA needs TLS: give a certificate and a key too");
    pc_httpd *h = calloc(1, sizeof(*h));
    if (!h)
        return pc_error_set(err, -ENOMEM, "out of memory");
    h->base = base;
    h->cb = cb;
    h->ud = ud;
    if (has_cert && (rc = pc_ssl_ctx_new(o, &h->ssl, err)) < 0)
        goto fail;
    int fd = -1;
    if ((rc = pc_httpd_listen(&ss, slen, &fd, o->listen, err)) < 0)
        goto fail;
    h->http = evhttp_new(base);
    if (!h->http || !evhttp_accept_socket_with_handle(h->http, fd)) {
        close(fd);
        rc = pc_error_set(err, -ENOMEM, "cannot start the HTTP server");
        goto fail;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
        h->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    /* Every method reaches the handler, which answers 405 itself (evhttp would say 501). */
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(h->http, PC_HTTPD_MAX_HEADERS);
    evhttp_set_max_body_size(h->http, PC_HTTPD_MAX_BODY);
    evhttp_set_timeout(h->http, PC_HTTPD_TIMEOUT_S);
    evhttp_set_gencb(h->http, pc_httpd_dispatch, h);
    if (h->ssl)
        evhttp_set_bevcb(h->http, pc_httpd_bevcb, h);
    *out = h;
    return 0;
fail:
    pc_httpd_free(h);
    return rc;
}

void pc_httpd_free(pc_httpd *h)
{
    if (!h)
        return;
    if (h->http)
        evhttp_free(h->http);
    if (h->ssl)
        SSL_CTX_free(h->ssl);
    free(h);
}

int pc_httpd_port(const pc_httpd *h)
{
    return h ? h->port : 0;
}

bool pc_httpd_tls(const pc_httpd *h)
{
    return h && h->ssl;
}

void pc_http_reply_json(struct evhttp_request *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct evbuffer *b = evbuffer_new();
    if (!text || !b) {
        free(text);
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    evbuffer_add(b, text, strlen(text));
    evbuffer_add(b, "\n", 1);
    free(text);
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
    evhttp_add_header(hdr, "Content-Type", "application/json");
    evhttp_add_header(hdr, "Cache-Control", "no-store");
    evhttp_send_reply(req, status, NULL, b);
    evbuffer_free(b);
}

void pc_http_reply_error(struct evhttp_request *req, int status, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pc_http_reply_json(req, status,
                       json_pack("{s:s, s:s}", "error", portco_err_name(code), "message", msg));
}

bool pc_http_require_get(struct evhttp_request *req)
{
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET)
        return true;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
    pc_http_reply_error(req, HTTP_BADMETHOD, PORTCO_EBADREQ,
                        "only GET is served here; the endpoints are read-only");
    return false;
}

const char *pc_http_path(struct evhttp_request *req, char *buf, size_t len)
{
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *p = u ? evhttp_uri_get_path(u) : NULL;
    snprintf(buf, len, "%s", p ? p : "");
    return buf;
}

int pc_http_query(struct evhttp_request *req, const char *name, char *buf, size_t len)
{
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *q = u ? evhttp_uri_get_query(u) : NULL;
    if (!q)
        return -ENOENT;
    struct evkeyvalq kv;
    TAILQ_INIT(&kv);
    if (evhttp_parse_query_str(q, &kv) < 0) {
        evhttp_clear_headers(&kv);
        return -EINVAL;
    }
    const char *v = evhttp_find_header(&kv, name);
    int rc = !v ? -ENOENT : strlen(v) >= len ? -E2BIG : 0;
    if (rc == 0)
        snprintf(buf, len, "%s", v);
    evhttp_clear_headers(&kv);
    return rc;
}
