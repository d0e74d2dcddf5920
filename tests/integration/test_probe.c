/* test_probe.c - portco check / who against real sockets, checked against ss; hold sockets. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"
#include "procnet.h"
#include "sockdiag.h"
#include "support.h"

/* ---- sockets ---------------------------------------------------------------- */

static int sockaddr_of(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        cr_assert_eq(inet_pton(AF_INET6, addr, &a->sin6_addr), 1, "%s", addr);
        *len = sizeof(*a);
        return AF_INET6;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    cr_assert_eq(inet_pton(AF_INET, addr, &a->sin_addr), 1, "%s", addr);
    *len = sizeof(*a);
    return AF_INET;
}

/* Bind a socket; v6only -1 leaves the default. Returns the fd or -errno. */
static int try_bind(int type, const char *addr, uint16_t port, int v6only, bool reuse)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fam = sockaddr_of(addr, port, &ss, &len);
    int fd = socket(fam, type | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0);
    int one = 1;
    if (reuse)
        cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    if (v6only >= 0)
        cr_assert_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)), 0);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int listener(const char *addr, uint16_t port, int v6only, bool reuse)
{
    int fd = try_bind(SOCK_STREAM, addr, port, v6only, reuse);
    cr_assert(fd >= 0, "bind %s:%u: %s", addr, port, strerror(-fd));
    cr_assert_eq(listen(fd, 16), 0);
    return fd;
}

static bool have_ipv6(void)
{
    int fd = try_bind(SOCK_STREAM, "::1", 0, -1, false);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* A port free right now for TCP and UDP, IPv4 and IPv6 (when present). */
static uint16_t free_port(void)
{
    bool v6 = have_ipv6();
    for (int tries = 0; tries < 100; tries++) {
        int p = pt_free_port();
        cr_assert(p > 0);
        int fds[4], n = 0;
        bool ok = true;
        fds[n] = try_bind(SOCK_STREAM, "0.0.0.0", (uint16_t)p, -1, false);
        ok = ok && fds[n++] >= 0;
        fds[n] = try_bind(SOCK_DGRAM, "0.0.0.0", (uint16_t)p, -1, false);
        ok = ok && fds[n++] >= 0;
        if (v6) {
            fds[n] = try_bind(SOCK_STREAM, "::", (uint16_t)p, 1, false);
            ok = ok && fds[n++] >= 0;
            fds[n] = try_bind(SOCK_DGRAM, "::", (uint16_t)p, 1, false);
            ok = ok && fds[n++] >= 0;
        }
        for (int i = 0; i < n; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        if (ok)
            return (uint16_t)p;
    }
    cr_assert_fail("no free port found");
    return 0;
}

/* ---- running portco ---------------------------------------------------------- */

typedef struct run_result {
    int status;
    char *out, *err;
} run_result;

static run_result portco(const char *a1, const char *a2, const char *a3, const char *a4,
                         const char *a5, const char *a6)
{
    char bin[512];
    pt_bin("portco", bin, sizeof(bin));
    const char *args[] = {bin, a1, a2, a3, a4, a5, a6, NULL};
    run_result r = {0};
    int rc = pt_run((char *const *)args, NULL, 20000, &r.out, &r.err, &r.status);
    cr_assert_eq(rc, 0, "running %s %s: %s", bin, a1 ? a1 : "", strerror(-rc));
    return r;
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

static char *portstr(uint16_t port)
{
    static char bufs[8][8];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, 8, "%u", (unsigned)port);
    return b;
}

/* ---- comparing `portco who --json` with `ss -tuanpH` ------------------------- */

typedef struct rec {
    char proto[8], state[24], local[96];
    int lport;
    long pid;
} rec;

/* ss prints [v6], *, ::ffff:a.b.c.d and %iface; bring them to portco's form. */
static void norm_addr(const char *in, char *out, size_t len)
{
    char tmp[96];
    snprintf(tmp, sizeof(tmp), "%s", in);
    char *p = tmp;
    if (*p == '[') {
        p++;
        char *e = strchr(p, ']');
        if (e)
            *e = '\0';
    }
    char *pct = strchr(p, '%');
    if (pct)
        *pct = '\0';
    if (strcmp(p, "*") == 0)
        p = "::";
    if (strncmp(p, "::ffff:", 7) == 0 && strchr(p + 7, '.'))
        p += 7;
    snprintf(out, len, "%s", p);
}

static void norm_state(const char *in, char *out, size_t len)
{
    if (strcmp(in, "ESTAB") == 0)
        in = "ESTABLISHED";
    snprintf(out, len, "%s", in);
    for (char *c = out; *c; c++)
        if (*c == '-')
            *c = '_';
}

static size_t ss_records(uint16_t port, rec *v, size_t max)
{
    char filter[32];
    snprintf(filter, sizeof(filter), "sport = :%u", (unsigned)port);
    const char *args[] = {"/usr/bin/ss", "-tuanpH", filter, NULL};
    char *out = NULL;
    int status = -1;
    cr_assert_eq(pt_run((char *const *)args, NULL, 10000, &out, NULL, &status), 0);
    cr_assert_eq(status, 0, "ss failed");
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line && n < max;
         line = strtok_r(NULL, "\n", &save)) {
        char netid[8], state[24], local[96], peer[96];
        if (sscanf(line, "%7s %23s %*s %*s %95s %95s", netid, state, local, peer) != 4)
            continue;
        rec *r = &v[n++];
        memset(r, 0, sizeof(*r));
        snprintf(r->proto, sizeof(r->proto), "%s", netid);
        norm_state(state, r->state, sizeof(r->state));
        char *colon = strrchr(local, ':');
        cr_assert(colon, "ss local %s", local);
        *colon = '\0';
        r->lport = atoi(colon + 1);
        norm_addr(local, r->local, sizeof(r->local));
        for (const char *p = strstr(line, "pid="); p; p = strstr(p + 4, "pid=")) {
            long pid = atol(p + 4);
            if (r->pid == 0 || pid < r->pid)
                r->pid = pid;
        }
    }
    free(out);
    return n;
}

static size_t who_records(uint16_t port, rec *v, size_t max)
{
    run_result r = portco("who", portstr(port), "--json", NULL, NULL, NULL);
    cr_assert_eq(r.status, 0, "who: %s", r.err);
    json_error_t jerr;
    json_t *arr = json_loads(r.out, 0, &jerr);
    cr_assert(json_is_array(arr), "who --json: %s (%s)", r.out, jerr.text);
    size_t n = 0, i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        if (n == max)
            break;
        rec *x = &v[n++];
        memset(x, 0, sizeof(*x));
        snprintf(x->proto, sizeof(x->proto), "%s", json_string_value(json_object_get(o, "proto")));
        snprintf(x->state, sizeof(x->state), "%s", json_string_value(json_object_get(o, "state")));
        snprintf(x->local, sizeof(x->local), "%s", json_string_value(json_object_get(o, "local")));
        x->lport = (int)json_integer_value(json_object_get(o, "local_port"));
        x->pid = (long)json_integer_value(json_object_get(o, "pid"));
        cr_assert(json_is_integer(json_object_get(o, "inode")));
        cr_assert(json_is_integer(json_object_get(o, "uid")));
        cr_assert(json_is_string(json_object_get(o, "remote")));
    }
    json_decref(arr);
    run_free(&r);
    return n;
}

/* Every socket ss sees on the port, portco sees with the same state, address and pid. */
static void expect_who_matches_ss(uint16_t port, size_t want)
{
    rec ss[32], who[32];
    size_t nss = ss_records(port, ss, 32), nwho = who_records(port, who, 32);
    cr_assert_eq(nss, want, "ss shows %zu sockets on %u, expected %zu", nss, port, want);
    cr_assert_eq(nwho, nss, "portco who shows %zu sockets, ss %zu", nwho, nss);
    bool used[32] = {false};
    for (size_t i = 0; i < nss; i++) {
        bool found = false;
        for (size_t j = 0; j < nwho && !found; j++) {
            if (used[j] || strcmp(ss[i].proto, who[j].proto) || strcmp(ss[i].state, who[j].state) ||
                strcmp(ss[i].local, who[j].local) || ss[i].lport != who[j].lport ||
                ss[i].pid != who[j].pid)
                continue;
            used[j] = found = true;
        }
        cr_assert(found, "ss: %s %s %s:%d pid %ld has no match in portco who", ss[i].proto,
                  ss[i].state, ss[i].local, ss[i].lport, ss[i].pid);
    }
}

static bool has_code(const char *json_text, const char *code)
{
    json_t *j = json_loads(json_text, 0, NULL);
    cr_assert(j, "not JSON: %s", json_text);
    bool hit = false;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(j, "findings"), i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "code")), code) == 0)
            hit = true;
    }
    json_decref(j);
    return hit;
}

/* ---- tests ------------------------------------------------------------------------ */

Test(check, free_port_is_usable)
{
    uint16_t p = free_port();
    run_result r = portco("check", portstr(p), NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 0, "out: %s err: %s", r.out, r.err);
    char want[64];
    snprintf(want, sizeof(want), "%u/tcp: usable on 0.0.0.0", (unsigned)p);
    cr_assert(strstr(r.out, want), "%s", r.out);
    run_free(&r);
    r = portco("check", portstr(p), "--proto", "both", "--json", NULL);
    cr_assert_eq(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert(json_is_true(json_object_get(j, "usable")));
    cr_assert_eq(json_integer_value(json_object_get(j, "port")), p);
    cr_assert_str_eq(json_string_value(json_object_get(j, "proto")), "both");
    cr_assert_str_eq(json_string_value(json_object_get(j, "address")), "0.0.0.0");
    cr_assert_eq(json_array_size(json_object_get(j, "sockets")), 0);
    json_decref(j);
    run_free(&r);
}

Test(check, tcp_listener_on_specific_address_and_udp)
{
    uint16_t p = free_port();
    int l = listener("127.0.0.2", p, -1, false);
    int u = try_bind(SOCK_DGRAM, "127.0.0.1", p, -1, false);
    cr_assert(u >= 0);
    char want[128];
    snprintf(want, sizeof(want), "%u/tcp: LISTEN on 127.0.0.2 by pid %d", (unsigned)p,
             (int)getpid());

    run_result r = portco("check", portstr(p), NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.out, want), "%s", r.out);
    run_free(&r);
    /* Another address is not enough: the wildcard bind test sees the listener. */
    r = portco("check", portstr(p), "--addr", "127.0.0.3", NULL, NULL);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.out, want), "%s", r.out);
    run_free(&r);
    r = portco("check", portstr(p), "--proto", "udp", "--json", NULL);
    cr_assert_eq(r.status, 1);
    cr_assert(has_code(r.out, "in-use"), "%s", r.out);
    cr_assert_not(has_code(r.out, "listen"), "the TCP listener is not a UDP conflict");
    run_free(&r);

    expect_who_matches_ss(p, 2);
    close(l);
    close(u);
}

Test(check, wildcard_listener)
{
    uint16_t p = free_port();
    int l = listener("0.0.0.0", p, -1, false);
    run_result r = portco("check", portstr(p), "--addr", "127.0.0.1", "--json", NULL);
    cr_assert_eq(r.status, 1);
    cr_assert(has_code(r.out, "listen"), "%s", r.out);
    run_free(&r);
    r = portco("check", portstr(p), "--proto", "udp", NULL, NULL);
    cr_assert_eq(r.status, 0, "TCP listener does not block UDP: %s", r.out);
    run_free(&r);
    expect_who_matches_ss(p, 1);
    close(l);
}

Test(check, ipv6_only_listener)
{
    if (!have_ipv6())
        cr_skip_test("IPv6 is disabled on this host");
    uint16_t p = free_port();
    int l = listener("::", p, 1, false);
    run_result r = portco("check", portstr(p), NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 1, "%s", r.out);
    char want[64];
    snprintf(want, sizeof(want), "%u/tcp: LISTEN on :: by pid %d", (unsigned)p, (int)getpid());
    cr_assert(strstr(r.out, want), "%s", r.out);
    run_free(&r);
    expect_who_matches_ss(p, 1);
    close(l);
}

Test(check, v4_mapped_connection_shown_as_ipv4)
{
    if (!have_ipv6())
        cr_skip_test("IPv6 is disabled on this host");
    uint16_t p = free_port();
    int l = listener("::", p, 0, false);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t len;
    sockaddr_of("127.0.0.1", p, &ss, &len);
    cr_assert_eq(connect(c, (struct sockaddr *)&ss, len), 0);
    int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    cr_assert(a >= 0);

    rec who[8];
    size_t n = who_records(p, who, 8);
    bool mapped = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(who[i].state, "ESTABLISHED") == 0 && strcmp(who[i].local, "127.0.0.1") == 0)
            mapped = true;
    cr_assert(mapped, "accepted ::ffff:127.0.0.1 socket shown as 127.0.0.1");
    expect_who_matches_ss(p, 2); /* LISTEN [::] and the accepted connection */
    close(a);
    close(c);
    close(l);
}

/* Make a TIME_WAIT on 127.0.0.1:port, on the server side (it closes first). */
static void make_timewait(uint16_t port, bool listener_reuseaddr)
{
    int l = listener("127.0.0.1", port, -1, listener_reuseaddr);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t len;
    sockaddr_of("127.0.0.1", port, &ss, &len);
    cr_assert_eq(connect(c, (struct sockaddr *)&ss, len), 0);
    int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    cr_assert(a >= 0);
    close(l);
    close(a); /* active close: this side ends in TIME_WAIT */
    char b;
    cr_assert_eq(read(c, &b, 1), 0); /* peer's FIN */
    close(c);

    long long deadline = pt_now_ms() + 5000;
    for (;;) {
        pc_sockvec sv = PC_SOCKVEC_INIT;
        cr_assert_eq(pc_procnet_scan(NULL, PC_PROTO_TCP, port, &sv, NULL), 0);
        bool only_tw = sv.n > 0;
        for (size_t i = 0; i < sv.n; i++)
            if (sv.v[i].state != PC_SS_TIME_WAIT)
                only_tw = false;
        pc_sockvec_free(&sv);
        if (only_tw)
            return;
        cr_assert(pt_now_ms() < deadline, "no TIME_WAIT on %u", port);
        pt_nap_ms(10);
    }
}

Test(check, timewait_follows_policy)
{
    uint16_t p = free_port();
    make_timewait(p, true);
    run_result r = portco("check", portstr(p), "--timewait", "reuseaddr", NULL, NULL);
    cr_assert_eq(r.status, 0, "%s", r.out);
    cr_assert(strstr(r.out, "TIME_WAIT"), "%s", r.out);
    cr_assert(strstr(r.out, "SO_REUSEADDR"), "%s", r.out);
    run_free(&r);
    r = portco("check", portstr(p), "--timewait", "avoid", NULL, NULL);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert(strstr(r.out, "TIME_WAIT socket"), "%s", r.out);
    run_free(&r);
    r = portco("check", portstr(p), "--timewait", "avoid", "--json", NULL);
    cr_assert(has_code(r.out, "time-wait"));
    run_free(&r);
    /* As measured: a plain bind fails, a SO_REUSEADDR bind succeeds. */
    cr_assert_eq(try_bind(SOCK_STREAM, "0.0.0.0", p, -1, false), -EADDRINUSE);
    int s = try_bind(SOCK_STREAM, "0.0.0.0", p, -1, true);
    cr_assert(s >= 0);
    close(s);
    expect_who_matches_ss(p, 1);
    rec who[4];
    cr_assert_eq(who_records(p, who, 4), 1);
    cr_assert_str_eq(who[0].state, "TIME_WAIT");
    cr_assert_eq(who[0].pid, 0);
}

Test(check, timewait_without_reuseaddr_blocks_even_reuseaddr)
{
    uint16_t p = free_port();
    make_timewait(p, false);
    /* The TIME_WAIT socket inherits the listener's missing SO_REUSEADDR. */
    int s = try_bind(SOCK_STREAM, "0.0.0.0", p, -1, true);
    cr_assert_eq(s, -EADDRINUSE);
    run_result r = portco("check", portstr(p), "--timewait", "reuseaddr", "--json", NULL);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert(has_code(r.out, "time-wait"), "%s", r.out);
    run_free(&r);
}

Test(check, bad_arguments_exit_2)
{
    static const char *const cases[][4] = {
        {"check", NULL},
        {"check", "abc", NULL},
        {"check", "0", NULL},
        {"check", "70000", NULL},
        {"check", "80", "--proto", "sctp"},
        {"check", "80", "--bogus", NULL},
        {"check", "80", "--addr", NULL},
        {"check", "80", "--addr", "1.2.3"},
        {"check", "80", "--timewait", "never"},
        {"check", "80", "--ephemeral", "sometimes"},
        {"check", "80", "81", NULL},
        {"who", NULL},
        {"who", "x", NULL},
        {"who", "80", "--bogus", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *const *c = cases[i];
        run_result r = portco(c[0], c[1], c[2], c[3], NULL, NULL);
        cr_assert_eq(r.status, 2, "case %zu (%s %s %s %s): status %d", i, c[0], c[1] ? c[1] : "",
                     c[1] && c[2] ? c[2] : "", c[1] && c[2] && c[3] ? c[3] : "", r.status);
        cr_assert(r.err && strlen(r.err) > 0, "case %zu says what to fix", i);
        run_free(&r);
    }
}

Test(check, ephemeral_policy)
{
    /* Ports from bind(:0) come from the ephemeral range. */
    uint16_t p = free_port();
    run_result r = portco("check", portstr(p), "--ephemeral", "warn", NULL, NULL);
    cr_assert_eq(r.status, 0, "%s", r.out);
    cr_assert(strstr(r.out, "inside the ephemeral range"), "%s", r.out);
    run_free(&r);
    r = portco("check", portstr(p), "--ephemeral", "avoid", "--json", NULL);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert(has_code(r.out, "ephemeral"));
    run_free(&r);
}

Test(check, privileged_port_policy)
{
    run_result r = portco("check", "81", "--json", NULL, NULL, NULL);
    cr_assert_eq(r.status, 1);
    cr_assert(has_code(r.out, "privileged"));
    run_free(&r);
}

Test(who, nothing_on_the_port_is_empty)
{
    uint16_t p = free_port();
    run_result r = portco("who", portstr(p), "--json", NULL, NULL, NULL);
    cr_assert_eq(r.status, 0);
    cr_assert_str_eq(r.out, "[]\n");
    run_free(&r);
    r = portco("who", portstr(p), NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 0);
    cr_assert_str_eq(r.out, "");
    run_free(&r);
}

/* ---- hold sockets -------------------------------------------------------------------- */

Test(hold, blocks_plain_bind_but_not_a_reuseaddr_server)
{
    uint16_t p = free_port();
    pc_probe_opts o = {.proto = PC_PROTO_BOTH, .hold = true};
    pc_probe_result res;
    pc_probe_result_init(&res);
    cr_assert_eq(pc_probe(&o, p, &res, NULL), 0);
    cr_assert(res.usable, "%s", res.summary);
    int ht = -1, hu = -1;
    pc_probe_take_holds(&res, &ht, &hu);
    pc_probe_result_free(&res);
    cr_assert(ht >= 0 && hu >= 0);

    cr_assert_eq(try_bind(SOCK_STREAM, "0.0.0.0", p, -1, false), -EADDRINUSE);
    cr_assert_eq(try_bind(SOCK_STREAM, "127.0.0.1", p, -1, false), -EADDRINUSE);
    cr_assert_eq(try_bind(SOCK_DGRAM, "0.0.0.0", p, -1, false), -EADDRINUSE);
    cr_assert_eq(try_bind(SOCK_DGRAM, "127.0.0.1", p, -1, false), -EADDRINUSE);

    /* The probe sees the hold through its bind test, not through /proc/net. */
    run_result r = portco("check", portstr(p), "--json", NULL, NULL, NULL);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert(has_code(r.out, "bind-failed"), "%s", r.out);
    run_free(&r);

    int srv = try_bind(SOCK_STREAM, "0.0.0.0", p, -1, true);
    cr_assert(srv >= 0, "SO_REUSEADDR server binds over the hold: %s", strerror(-srv));
    cr_assert_eq(listen(srv, 8), 0);
    /* Once it listens, even another SO_REUSEADDR bind fails. */
    cr_assert_eq(try_bind(SOCK_STREAM, "0.0.0.0", p, -1, true), -EADDRINUSE);
    int usrv = try_bind(SOCK_DGRAM, "0.0.0.0", p, -1, true);
    cr_assert(usrv >= 0, "SO_REUSEADDR UDP server binds over the hold");
    close(usrv);
    close(srv);
    close(ht);
    close(hu);
}

/* Runs in a child in its own network namespace whose ephemeral range is the
 * single port p: returns 0 when the hold keeps connect() off p. */
static int ephemeral_child(uint16_t p)
{
    if (unshare(CLONE_NEWNET) < 0)
        return 20;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return 21;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return 22;
    close(s);
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "w");
    if (!f || fprintf(f, "%u %u\n", (unsigned)p, (unsigned)p) < 0 || fclose(f) != 0)
        return 23;

    uint16_t lport = p == 65535 ? p - 1 : p + 1;
    int l = try_bind(SOCK_STREAM, "127.0.0.1", lport, -1, false);
    if (l < 0 || listen(l, 8) < 0)
        return 24;
    struct sockaddr_storage ss;
    socklen_t len;
    sockaddr_of("127.0.0.1", lport, &ss, &len);

    int hold = -1;
    if (pc_probe_hold_socket(PC_PROTO_TCP, "0.0.0.0", p, &hold, NULL) < 0)
        return 25;
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = connect(c, (struct sockaddr *)&ss, len);
    int e = errno;
    close(c);
    if (rc == 0 || e != EADDRNOTAVAIL)
        return 26; /* the kernel handed out the held port */

    close(hold);
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(c, (struct sockaddr *)&ss, len) < 0)
        return 27;
    struct sockaddr_in me;
    socklen_t ml = sizeof(me);
    if (getsockname(c, (struct sockaddr *)&me, &ml) < 0 || ntohs(me.sin_port) != p)
        return 28; /* without the hold the range really is that one port */
    return 0;
}

Test(hold, keeps_the_kernel_from_picking_the_port_for_connect)
{
    uint16_t p = free_port();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0)
        _exit(ephemeral_child(p));
    int st = 0;
    cr_assert_eq(pt_wait_pid(pid, 10000, &st), 0);
    if (st == 20)
        cr_skip_test("cannot create a network namespace here");
    cr_assert_eq(st, 0, "ephemeral child failed at step %d", st);
}

Test(hold, helper_rejects_taken_port)
{
    uint16_t p = free_port();
    int l = listener("0.0.0.0", p, -1, true);
    int fd = 7;
    pc_error err = {0};
    cr_assert_eq(pc_probe_hold_socket(PC_PROTO_TCP, "0.0.0.0", p, &fd, &err), -EADDRINUSE);
    cr_assert_eq(fd, -1);
    cr_assert(strstr(err.msg, "cannot hold"), "%s", err.msg);
    close(l);
}

/* ---- sock_diag ---------------------------------------------------------------- */

/* Does v hold a socket like s (proto, family, address, port, state, inode)? */
static bool has_sock(const pc_sockvec *v, const pc_sock *s)
{
    for (size_t i = 0; i < v->n; i++) {
        const pc_sock *t = &v->v[i];
        if (t->proto == s->proto && t->family == s->family && t->local_port == s->local_port &&
            t->state == s->state && t->inode == s->inode && t->uid == s->uid &&
            strcmp(t->local, s->local) == 0 && t->local_any == s->local_any)
            return true;
    }
    return false;
}

/* The kernel's answer through netlink is /proc/net's, restricted to TCP
 * listeners and bound, unconnected UDP sockets. */
Test(sockdiag, lists_what_procnet_lists_for_bound_sockets)
{
    uint16_t p = free_port();
    int fds[8], n = 0;
    fds[n++] = listener("127.0.0.2", p, -1, false);
    fds[n++] = try_bind(SOCK_DGRAM, "127.0.0.1", p, -1, false);
    if (have_ipv6()) {
        fds[n++] = listener("::1", p, 1, false);
        fds[n++] = try_bind(SOCK_DGRAM, "::", p, 1, false);
    }
    /* Bound but not listening, and a connection: neither is listed. */
    uint16_t q = free_port();
    fds[n++] = try_bind(SOCK_STREAM, "127.0.0.1", q, -1, false);
    for (int i = 0; i < n; i++)
        cr_assert_geq(fds[i], 0, "socket %d could not be bound", i);

    pc_sockvec diag = PC_SOCKVEC_INIT, proc = PC_SOCKVEC_INIT;
    pc_error err;
    cr_assert_eq(pc_sockdiag_bound(PC_PROTO_BOTH, p, &diag, &err), 0, "%s", err.msg);
    cr_assert_eq(pc_procnet_scan(NULL, PC_PROTO_BOTH, p, &proc, &err), 0, "%s", err.msg);
    cr_assert_eq(diag.n, (size_t)(n - 1), "%zu sockets listed on %u, %d bound", diag.n, p, n - 1);
    for (size_t i = 0; i < diag.n; i++)
        cr_assert(has_sock(&proc, &diag.v[i]), "%s:%u (%s) is not in /proc/net", diag.v[i].local,
                  diag.v[i].local_port, pc_sock_state_name(diag.v[i].proto, diag.v[i].state));
    size_t bound = 0;
    for (size_t i = 0; i < proc.n; i++) {
        const pc_sock *s = &proc.v[i];
        if ((s->proto == PC_PROTO_TCP && s->state == PC_SS_LISTEN) ||
            (s->proto == PC_PROTO_UDP && s->state == PC_SS_CLOSE)) {
            bound++;
            cr_assert(has_sock(&diag, s), "%s:%u is missing from sock_diag", s->local,
                      s->local_port);
        }
    }
    cr_assert_eq(bound, diag.n);

    /* The port filter, and TCP only. */
    pc_sockvec none = PC_SOCKVEC_INIT, tcp = PC_SOCKVEC_INIT;
    cr_assert_eq(pc_sockdiag_bound(PC_PROTO_BOTH, q, &none, &err), 0, "%s", err.msg);
    cr_assert_eq(none.n, 0, "a bound, non-listening TCP socket was listed");
    cr_assert_eq(pc_sockdiag_bound(PC_PROTO_TCP, p, &tcp, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < tcp.n; i++)
        cr_assert_eq(tcp.v[i].proto, PC_PROTO_TCP);
    cr_assert_eq(tcp.n, have_ipv6() ? 2u : 1u);

    pc_sockvec_free(&diag);
    pc_sockvec_free(&proc);
    pc_sockvec_free(&none);
    pc_sockvec_free(&tcp);
    for (int i = 0; i < n; i++)
        close(fds[i]);
}
