/* probe.c - run the local port probe: bind tests, /proc/net scan, owners, hold sockets. */
#include "probe.h"
#include "verdict.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "owners.h"

void pc_probe_result_init(pc_probe_result *r)
{
    memset(r, 0, sizeof(*r));
    pc_sockvec_init(&r->socks);
    r->hold_tcp = r->hold_udp = -1;
}

void pc_probe_result_free(pc_probe_result *r)
{
    if (!r)
        return;
    if (r->hold_tcp >= 0)
        close(r->hold_tcp);
    if (r->hold_udp >= 0)
        close(r->hold_udp);
    free(r->findings);
    free(r->tests);
    pc_sockvec_free(&r->socks);
    pc_probe_result_init(r);
}

void pc_probe_take_holds(pc_probe_result *r, int *tcp_fd, int *udp_fd)
{
    if (tcp_fd) {
        *tcp_fd = r->hold_tcp;
        r->hold_tcp = -1;
    }
    if (udp_fd) {
        *udp_fd = r->hold_udp;
        r->hold_udp = -1;
    }
}

int pc_probe_add_finding(pc_probe_result *r, const char *code, pc_proto proto, bool blocking,
                         const char *fmt, ...)
{
    if (r->n_findings == r->cap_findings) {
        size_t cap = r->cap_findings ? r->cap_findings * 2 : 8;
        pc_finding *v = realloc(r->findings, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        r->findings = v;
        r->cap_findings = cap;
    }
    pc_finding *f = &r->findings[r->n_findings++];
    snprintf(f->code, sizeof(f->code), "%s", code);
    f->proto = proto;
    f->blocking = blocking;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
    return 0;
}

const char *pc_probe_proto_label(pc_proto p)
{
    return p == PC_PROTO_BOTH ? "tcp+udp" : pc_proto_name(p);
}

/*
 * Numeric address + port into a sockaddr: dotted-quad IPv4 (inet_pton's
 * strict form, not "1.2.3") or IPv6, with an optional %scope for link-local
 * addresses. Returns 0 or -EINVAL.
 */
static int pc_addr_parse(const char *address, uint16_t port, struct sockaddr_storage *ss,
                         socklen_t *len, int *family)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (!address || !*address)
        address = "0.0.0.0";
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, address, buf) == 1) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, buf, sizeof(sin->sin_addr));
        *len = sizeof(*sin);
        *family = AF_INET;
        return 0;
    }
    if (!strchr(address, ':'))
        return -EINVAL;
    if (!strchr(address, '%') && inet_pton(AF_INET6, address, buf) == 1) {
        /* getaddrinfo() would open a netlink socket and dump the host's
         * addresses on every call: it is kept for scoped addresses only. */
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        memcpy(&sin6->sin6_addr, buf, sizeof(sin6->sin6_addr));
        *len = sizeof(*sin6);
        *family = AF_INET6;
        return 0;
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_family = AF_INET6,
                             .ai_socktype = SOCK_DGRAM};
    struct addrinfo *ai = NULL;
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    if (getaddrinfo(address, service, &hints, &ai) != 0 || !ai)
        return -EINVAL;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    *family = ai->ai_family;
    freeaddrinfo(ai);
    return 0;
}

static bool pc_addr_is_any(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* socket + options + bind; returns the fd or -errno. */
static int pc_bind_socket(pc_proto proto, const struct sockaddr_storage *ss, socklen_t len,
                          int v6only, bool reuseaddr)
{
    int type = (proto == PC_PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
    int fd = socket(ss->ss_family, type, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    if (v6only >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)ss, len) < 0)
        goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

/*
 * Queue one bind test. No listen() follows the bind: measured on Linux, a
 * bind without SO_REUSEADDR already fails with EADDRINUSE for every socket
 * that a later listen() would collide with (see docs/probe.md), and a probe
 * socket must never listen, even briefly.
 */
static int pc_add_test(pc_probe_result *r, pc_proto proto, const char *address, int v6only)
{
    for (size_t i = 0; i < r->n_tests; i++) {
        pc_bind_test *t = &r->tests[i];
        if (t->proto == proto && t->v6only == v6only && strcmp(t->address, address) == 0)
            return 0;
    }
    if (r->n_tests == r->cap_tests) {
        size_t cap = r->cap_tests ? r->cap_tests * 2 : 8;
        pc_bind_test *v = realloc(r->tests, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        r->tests = v;
        r->cap_tests = cap;
    }
    pc_bind_test *t = &r->tests[r->n_tests++];
    memset(t, 0, sizeof(*t));
    t->proto = proto;
    snprintf(t->address, sizeof(t->address), "%s", address);
    t->v6only = v6only;
    t->rc_reuse = 1;
    return 0;
}

static void pc_run_test(pc_bind_test *t, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (pc_addr_parse(t->address, port, &ss, &len, &t->family) < 0) {
        t->rc = -EINVAL;
        return;
    }
    t->wildcard = pc_addr_is_any(&ss);
    if (t->family == AF_INET)
        t->v6only = -1;
    int fd = pc_bind_socket(t->proto, &ss, len, t->v6only, false);
    t->rc = fd < 0 ? fd : 0;
    if (fd >= 0)
        close(fd);
    if (t->rc == -EADDRINUSE && t->proto == PC_PROTO_TCP) {
        fd = pc_bind_socket(t->proto, &ss, len, t->v6only, true);
        t->rc_reuse = fd < 0 ? fd : 0;
        if (fd >= 0)
            close(fd);
    }
}

/* The address set: the given address, both wildcards, IPv6 with and without
 * V6ONLY, and the extra addresses; for each protocol asked. */
static int pc_plan_tests(const pc_probe_opts *o, const char *address, pc_probe_result *r)
{
    static const pc_proto protos[] = {PC_PROTO_TCP, PC_PROTO_UDP};
    for (size_t p = 0; p < 2; p++) {
        if (!(r->proto & protos[p]))
            continue;
        bool v6 = strchr(address, ':') != NULL;
        if (pc_add_test(r, protos[p], address, v6 ? 0 : -1) < 0 ||
            pc_add_test(r, protos[p], "0.0.0.0", -1) < 0 ||
            pc_add_test(r, protos[p], "::", 1) < 0 || pc_add_test(r, protos[p], "::", 0) < 0)
            return -ENOMEM;
        for (size_t i = 0; i < o->n_extra; i++) {
            bool xv6 = strchr(o->extra_addrs[i], ':') != NULL;
            if (pc_add_test(r, protos[p], o->extra_addrs[i], xv6 ? 0 : -1) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

static int pc_make_holds(const pc_probe_opts *o, uint16_t port, pc_probe_result *r)
{
    pc_error e = {0};
    if (r->proto & PC_PROTO_TCP) {
        int rc = pc_probe_hold_socket(PC_PROTO_TCP, r->address, port, &r->hold_tcp, &e);
        if (rc < 0)
            goto fail;
    }
    if (r->proto & PC_PROTO_UDP) {
        int rc = pc_probe_hold_socket(PC_PROTO_UDP, r->address, port, &r->hold_udp, &e);
        if (rc < 0)
            goto fail;
    }
    return 0;
fail:
    if (r->hold_tcp >= 0)
        close(r->hold_tcp);
    r->hold_tcp = -1;
    r->usable = false;
    snprintf(r->summary, sizeof(r->summary), "%u/%s: not usable on %s", (unsigned)port,
             pc_probe_proto_label(r->proto), r->address);
    return pc_probe_add_finding(r, "hold-failed", r->proto, true, "%u/%s: %s", (unsigned)port,
                                pc_probe_proto_label(r->proto), e.msg);
}

int pc_probe(const pc_probe_opts *opts, uint16_t port, pc_probe_result *r, pc_error *err)
{
    pc_probe_result_free(r);
    if (port == 0)
        return pc_error_set(err, -EINVAL, "port 0 cannot be probed: give a port 1-65535");
    r->port = port;
    r->proto = opts->proto ? opts->proto : PC_PROTO_TCP;
    const char *address = opts->address && *opts->address ? opts->address : "0.0.0.0";
    struct sockaddr_storage ss;
    socklen_t len;
    int fam;
    if (pc_addr_parse(address, port, &ss, &len, &fam) < 0)
        return pc_error_set(err, -EINVAL, "'%s' is not a numeric IPv4 or IPv6 address", address);
    for (size_t i = 0; i < opts->n_extra; i++)
        if (pc_addr_parse(opts->extra_addrs[i], port, &ss, &len, &fam) < 0)
            return pc_error_set(err, -EINVAL, "'%s' is not a numeric IPv4 or IPv6 address",
                                opts->extra_addrs[i]);
    snprintf(r->address, sizeof(r->address), "%s", address);

    pc_kports own;
    pc_kports_init(&own);
    const pc_kports *kp = opts->kports;
    int rc = 0;
    if (!kp) {
        if ((rc = pc_kports_read(opts->procroot, &own, err)) < 0)
            goto out;
        kp = &own;
    }
    if ((rc = pc_plan_tests(opts, address, r)) < 0) {
        pc_error_set(err, rc, "out of memory");
        goto out;
    }
    bool bind_failed = false;
    for (size_t i = 0; i < r->n_tests; i++) {
        pc_run_test(&r->tests[i], port);
        if (r->tests[i].rc != 0 && !pc_bind_test_skipped(&r->tests[i]))
            bind_failed = true;
    }
    if ((bind_failed || !opts->scan_on_failure_only) &&
        (rc = pc_procnet_scan(opts->procroot, r->proto, port, &r->socks, err)) < 0)
        goto out;

    bool owners_done = false;
    if (opts->owners == PC_OWNERS_ALWAYS) {
        /* An unreadable process list costs the owner names, not the verdict. */
        pc_sock_owners(opts->procroot, &r->socks, NULL);
        owners_done = true;
    }
    if ((rc = pc_probe_decide(opts, port, kp, r)) < 0)
        goto oom;
    if (!r->usable && !owners_done && opts->owners == PC_OWNERS_ON_FAILURE && r->socks.n) {
        pc_sock_owners(opts->procroot, &r->socks, NULL);
        if ((rc = pc_probe_decide(opts, port, kp, r)) < 0)
            goto oom;
    }
    if (r->usable && opts->hold && (rc = pc_make_holds(opts, port, r)) < 0)
        goto oom;
    rc = 0;
    goto out;
oom:
    pc_error_set(err, rc, "out of memory");
out:
    pc_kports_free(&own);
    return rc;
}

int pc_probe_hold_socket(pc_proto proto, const char *address, uint16_t port, int *fd, pc_error *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fam;
    *fd = -1;
    if (proto != PC_PROTO_TCP && proto != PC_PROTO_UDP)
        return pc_error_set(err, -EINVAL, "a hold socket is TCP or UDP, not %s",
                            pc_proto_name(proto));
    if (pc_addr_parse(address, port, &ss, &len, &fam) < 0)
        return pc_error_set(err, -EINVAL, "'%s' is not a numeric IPv4 or IPv6 address",
                            address ? address : "");
    int s = pc_bind_socket(proto, &ss, len, fam == AF_INET6 ? 0 : -1, true);
    if (s < 0)
        return pc_error_set(err, s, "cannot hold %s port %u on %s: %s", pc_proto_name(proto),
                            (unsigned)port, address && *address ? address : "0.0.0.0",
                            strerror(-s));
    *fd = s;
    return 0;
}
