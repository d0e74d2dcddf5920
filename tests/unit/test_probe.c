/* test_probe.c - socket owners, kernel port settings and the probe's verdict, on fixture trees. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "owners.h"
#include "probe.h"
#include "verdict.h"

static char *fixture_root(void)
{
    const char *data = getenv("PORTCO_TEST_DATA");
    char *p = NULL;
    cr_assert(data, "PORTCO_TEST_DATA is not set");
    cr_assert(asprintf(&p, "%s/procnet/root", data) > 0);
    return p;
}

static const pc_sock *find_inode(const pc_sockvec *sv, unsigned long inode)
{
    for (size_t i = 0; i < sv->n; i++)
        if (sv->v[i].inode == inode)
            return &sv->v[i];
    return NULL;
}

/* ---- owners ---------------------------------------------------------------- */

Test(owners, fd_links_name_the_lowest_pid)
{
    char *root = fixture_root();
    pc_sockvec sv = PC_SOCKVEC_INIT;
    cr_assert_eq(pc_procnet_scan(root, PC_PROTO_BOTH, 0, &sv, NULL), 0);
    cr_assert_eq(pc_sock_owners(root, &sv, NULL), 0);
    const pc_sock *s = find_inode(&sv, 1001); /* held by pids 100 and 101 */
    cr_assert(s);
    cr_assert_eq(s->pid, 100);
    cr_assert_str_eq(s->comm, "nginx");
    s = find_inode(&sv, 2001);
    cr_assert_eq(s->pid, 100);
    s = find_inode(&sv, 3001);
    cr_assert_eq(s->pid, 4242);
    cr_assert_str_eq(s->comm, "api");
    s = find_inode(&sv, 1002); /* pid 77 has "pipe:[1002]", not a socket */
    cr_assert_eq(s->pid, 0);
    cr_assert_not(s->owner_unreadable);
    for (size_t i = 0; i < sv.n; i++)
        if (sv.v[i].inode == 0) /* TIME_WAIT: nobody owns it */
            cr_assert_eq(sv.v[i].pid, 0);
    pc_sockvec_free(&sv);
    free(root);
}

Test(owners, missing_proc_root_is_an_error)
{
    pc_sockvec sv = PC_SOCKVEC_INIT;
    pc_sock s = {.inode = 9};
    cr_assert_eq(pc_sockvec_push(&sv, &s), 0);
    pc_error err = {0};
    cr_assert_eq(pc_sock_owners("/nonexistent/proc", &sv, &err), -ENOENT);
    cr_assert(strstr(err.msg, "/nonexistent/proc"));
    pc_sockvec_free(&sv);
}

static void mkfile(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "create %s", path);
    fputs(text, f);
    fclose(f);
}

/*
 * A tree where pid 10's fd directory is readable and pid 20's is not.
 * Root ignores permission bits, so as root the scan runs in a child that
 * has dropped to an unprivileged uid.
 */
Test(owners, unreadable_fd_dir_marks_unowned_sockets)
{
    char tmpl[] = "/tmp/pt-owners-XXXXXX";
    char *dir = mkdtemp(tmpl);
    cr_assert(dir);
    char p[512];
    cr_assert_eq(chmod(dir, 0755), 0);
    snprintf(p, sizeof(p), "%s/10", dir);
    cr_assert_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/10/fd", dir);
    cr_assert_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/10/fd/3", dir);
    cr_assert_eq(symlink("socket:[111]", p), 0);
    snprintf(p, sizeof(p), "%s/10/comm", dir);
    mkfile(p, "mine\n");
    snprintf(p, sizeof(p), "%s/20", dir);
    cr_assert_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/20/fd", dir);
    cr_assert_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/20/fd/3", dir);
    cr_assert_eq(symlink("socket:[222]", p), 0);
    snprintf(p, sizeof(p), "%s/20/fd", dir);
    cr_assert_eq(chmod(p, 0), 0);

    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
            _exit(10);
        pc_sockvec sv = PC_SOCKVEC_INIT;
        pc_sock a = {.inode = 111}, b = {.inode = 222}, tw = {.inode = 0};
        pc_sockvec_push(&sv, &a);
        pc_sockvec_push(&sv, &b);
        pc_sockvec_push(&sv, &tw);
        int code = 0;
        if (pc_sock_owners(dir, &sv, NULL) != 0)
            code = 11;
        else if (sv.v[0].pid != 10 || strcmp(sv.v[0].comm, "mine") || sv.v[0].owner_unreadable)
            code = 12;
        else if (sv.v[1].pid != 0 || !sv.v[1].owner_unreadable)
            code = 13;
        else if (sv.v[2].owner_unreadable)
            code = 14;
        pc_sockvec_free(&sv);
        _exit(code);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    chmod(p, 0755);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert(WIFEXITED(st));
    cr_assert_eq(WEXITSTATUS(st), 0, "child check %d failed", WEXITSTATUS(st));
}

/* ---- kernel port settings -------------------------------------------------- */

Test(kports, parse_port_range)
{
    uint16_t lo, hi;
    cr_assert_eq(pc_kports_parse_range("32768\t60999\n", &lo, &hi, NULL), 0);
    cr_assert_eq(lo, 32768);
    cr_assert_eq(hi, 60999);
    cr_assert_eq(pc_kports_parse_range("1024 1024", &lo, &hi, NULL), 0);
    pc_error err = {0};
    cr_assert_eq(pc_kports_parse_range("60999 32768", &lo, &hi, &err), -EINVAL);
    cr_assert(strstr(err.msg, "low <= high"), "%s", err.msg);
    cr_assert_eq(pc_kports_parse_range("32768", &lo, &hi, NULL), -EINVAL);
    cr_assert_eq(pc_kports_parse_range("1 70000", &lo, &hi, NULL), -EINVAL);
    cr_assert_eq(pc_kports_parse_range("1 2 3", &lo, &hi, NULL), -EINVAL);
    cr_assert_eq(pc_kports_parse_range("", &lo, &hi, NULL), -EINVAL);
}

Test(kports, read_fixture_tree)
{
    char *root = fixture_root();
    pc_kports k;
    pc_kports_init(&k);
    cr_assert_eq(pc_kports_read(root, &k, NULL), 0);
    cr_assert(k.have_ephemeral);
    cr_assert_eq(k.eph_lo, 32768);
    cr_assert_eq(k.eph_hi, 60999);
    cr_assert_eq(k.unpriv_start, 1024);
    cr_assert(pc_rangeset_contains(&k.reserved, 30081));
    cr_assert(pc_rangeset_contains(&k.reserved, 30150));
    cr_assert_not(pc_rangeset_contains(&k.reserved, 30080));
    cr_assert(pc_kports_ephemeral(&k, 40000));
    cr_assert_not(pc_kports_ephemeral(&k, 30000));
    pc_kports_free(&k);
    free(root);
}

Test(kports, reserved_inside_ephemeral_is_not_ephemeral)
{
    pc_kports k;
    pc_kports_init(&k);
    k.have_ephemeral = true;
    k.eph_lo = 32768;
    k.eph_hi = 60999;
    cr_assert_eq(pc_rangeset_parse(&k.reserved, "8080,40000-40999", NULL), 0);
    cr_assert(pc_kports_ephemeral(&k, 39999));
    cr_assert_not(pc_kports_ephemeral(&k, 40500));
    cr_assert_not(pc_kports_ephemeral(&k, 8080));
    pc_kports_free(&k);
}

Test(kports, missing_files_keep_defaults)
{
    pc_kports k;
    pc_kports_init(&k);
    cr_assert_eq(pc_kports_read("/nonexistent/proc", &k, NULL), 0);
    cr_assert_not(k.have_ephemeral);
    cr_assert_eq(k.unpriv_start, 1024);
    cr_assert_eq(k.reserved.n, 0);
    cr_assert_not(pc_kports_ephemeral(&k, 40000));
    pc_kports_free(&k);
}

/* ---- verdict ----------------------------------------------------------------- */

static pc_kports kernel(void)
{
    pc_kports k;
    pc_kports_init(&k);
    k.have_ephemeral = true;
    k.eph_lo = 32768;
    k.eph_hi = 60999;
    cr_assert_eq(pc_rangeset_parse(&k.reserved, "30081", NULL), 0);
    return k;
}

static void add_test(pc_probe_result *r, pc_proto proto, const char *addr, bool wildcard,
                     int family, int rc, int rc_reuse)
{
    r->tests = realloc(r->tests, (r->n_tests + 1) * sizeof(*r->tests));
    cr_assert(r->tests);
    pc_bind_test *t = &r->tests[r->n_tests++];
    memset(t, 0, sizeof(*t));
    t->proto = proto;
    snprintf(t->address, sizeof(t->address), "%s", addr);
    t->wildcard = wildcard;
    t->family = family;
    t->v6only = family == AF_INET6 ? 1 : -1;
    t->rc = rc;
    t->rc_reuse = rc_reuse;
}

static void add_sock(pc_probe_result *r, pc_proto proto, const char *local, uint16_t port,
                     pc_sock_state st, pid_t pid, const char *comm)
{
    pc_sock s = {.proto = proto,
                 .family = AF_INET,
                 .local_port = port,
                 .state = st,
                 .inode = pid ? 99 : 0,
                 .pid = pid};
    snprintf(s.local, sizeof(s.local), "%s", local);
    snprintf(s.remote, sizeof(s.remote), "0.0.0.0");
    if (st == PC_SS_TIME_WAIT || st == PC_SS_ESTABLISHED) {
        snprintf(s.remote, sizeof(s.remote), "127.0.0.1");
        s.remote_port = 55555;
    }
    snprintf(s.comm, sizeof(s.comm), "%s", comm ? comm : "");
    cr_assert_eq(pc_sockvec_push(&r->socks, &s), 0);
}

static const pc_finding *finding(const pc_probe_result *r, const char *code)
{
    for (size_t i = 0; i < r->n_findings; i++)
        if (strcmp(r->findings[i].code, code) == 0)
            return &r->findings[i];
    return NULL;
}

Test(verdict, free_port_outside_ephemeral_is_usable_without_notes)
{
    pc_kports k = kernel();
    pc_probe_opts o = {.proto = PC_PROTO_TCP};
    pc_probe_result r;
    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, 0, 1);
    cr_assert_eq(pc_probe_decide(&o, 30080, &k, &r), 0);
    cr_assert(r.usable);
    cr_assert_eq(r.n_findings, 0);
    cr_assert_str_eq(r.summary, "30080/tcp: usable on 0.0.0.0");
    pc_probe_result_free(&r);
    pc_kports_free(&k);
}

Test(verdict, listen_blocks_with_owner_sentence)
{
    pc_kports k = kernel();
    pc_probe_opts o = {.proto = PC_PROTO_TCP};
    pc_probe_result r;
    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, -EADDRINUSE, -EADDRINUSE);
    add_sock(&r, PC_PROTO_TCP, "0.0.0.0", 30080, PC_SS_LISTEN, 4242, "nginx");
    cr_assert_eq(pc_probe_decide(&o, 30080, &k, &r), 0);
    cr_assert_not(r.usable);
    const pc_finding *f = finding(&r, "listen");
    cr_assert(f);
    cr_assert(f->blocking);
    cr_assert_str_eq(f->message, "30080/tcp: LISTEN on 0.0.0.0 by pid 4242 (nginx)");
    cr_assert_null(finding(&r, "bind-failed"), "the EADDRINUSE is explained by the listener");
    pc_probe_result_free(&r);
    pc_kports_free(&k);
}

Test(verdict, udp_socket_is_in_use_only_for_udp)
{
    pc_kports k = kernel();
    pc_probe_opts o = {.proto = PC_PROTO_BOTH};
    pc_probe_result r;
    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, 0, 1);
    add_test(&r, PC_PROTO_UDP, "0.0.0.0", true, AF_INET, -EADDRINUSE, 1);
    add_sock(&r, PC_PROTO_UDP, "127.0.0.1", 30080, PC_SS_CLOSE, 7, "dns");
    cr_assert_eq(pc_probe_decide(&o, 30080, &k, &r), 0);
    cr_assert_not(r.usable);
    const pc_finding *f = finding(&r, "in-use");
    cr_assert(f);
    cr_assert_eq(f->proto, PC_PROTO_UDP);
    cr_assert_str_eq(f->message, "30080/udp: UNCONN on 127.0.0.1 by pid 7 (dns)");
    pc_probe_result_free(&r);

    o.proto = PC_PROTO_TCP;
    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, 0, 1);
    cr_assert_eq(pc_probe_decide(&o, 30080, &k, &r), 0);
    cr_assert(r.usable);
    pc_probe_result_free(&r);
    pc_kports_free(&k);
}

Test(verdict, timewait_policy_reuseaddr_needs_a_working_reuse_bind)
{
    pc_kports k = kernel();
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .timewait = PC_TIMEWAIT_REUSEADDR};
    pc_probe_result r;
    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, -EADDRINUSE, 0);
    add_sock(&r, PC_PROTO_TCP, "127.0.0.1", 30080, PC_SS_TIME_WAIT, 0, NULL);
    cr_assert_eq(pc_probe_decide(&o, 30080, &k, &r), 0);
    cr_assert(r.usable);
    cr_assert(r.reuseaddr_needed);
    const pc_finding *f = finding(&r, "time-wait");
    cr_assert(f);
    cr_assert_not(f->blocking);
    cr_assert(strstr(r.summary, "SO_REUSEADDR"), "%s", r.summary);
    pc_probe_result_free(&r);

    /* TIME_WAIT left by a socket without SO_REUSEADDR: the reuse bind fails too. */
    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, -EADDRINUSE, -EADDRINUSE);
    add_sock(&r, PC_PROTO_TCP, "127.0.0.1", 30080, PC_SS_TIME_WAIT, 0, NULL);
    cr_assert_eq(pc_probe_decide(&o, 30080, &k, &r), 0);
    cr_assert_not(r.usable);
    bool blocking_tw = false;
    for (size_t i = 0; i < r.n_findings; i++)
        if (strcmp(r.findings[i].code, "time-wait") == 0 && r.findings[i].blocking)
            blocking_tw = true;
    cr_assert(blocking_tw);
    pc_probe_result_free(&r);
    pc_kports_free(&k);
}

Test(verdict, timewait_policy_avoid_blocks)
{
    pc_kports k = kernel();
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .timewait = PC_TIMEWAIT_AVOID};
    pc_probe_result r;
    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, -EADDRINUSE, 0);
    add_sock(&r, PC_PROTO_TCP, "127.0.0.1", 30080, PC_SS_TIME_WAIT, 0, NULL);
    add_sock(&r, PC_PROTO_TCP, "127.0.0.1", 30080, PC_SS_TIME_WAIT, 0, NULL);
    cr_assert_eq(pc_probe_decide(&o, 30080, &k, &r), 0);
    cr_assert_not(r.usable);
    const pc_finding *f = finding(&r, "time-wait");
    cr_assert(f && f->blocking);
    cr_assert(strstr(f->message, "2 TIME_WAIT sockets"), "%s", f->message);
    cr_assert_eq(r.n_findings, 1);
    pc_probe_result_free(&r);
    pc_kports_free(&k);
}

Test(verdict, ephemeral_policy_warn_and_avoid)
{
    pc_kports k = kernel();
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .ephemeral = PC_EPHEMERAL_WARN};
    pc_probe_result r;
    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, 0, 1);
    cr_assert_eq(pc_probe_decide(&o, 40000, &k, &r), 0);
    cr_assert(r.usable);
    cr_assert_str_eq(r.summary, "40000/tcp: usable on 0.0.0.0 (note: inside the ephemeral "
                                "range 32768-60999 and not reserved)");
    o.ephemeral = PC_EPHEMERAL_AVOID;
    cr_assert_eq(pc_probe_decide(&o, 40000, &k, &r), 0);
    cr_assert_not(r.usable);
    cr_assert(finding(&r, "ephemeral")->blocking);
    pc_probe_result_free(&r);
    pc_kports_free(&k);
}

Test(verdict, reserved_port_is_a_note)
{
    pc_kports k = kernel();
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .ephemeral = PC_EPHEMERAL_AVOID};
    pc_probe_result r;
    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, 0, 1);
    cr_assert_eq(pc_rangeset_add(&k.reserved, 40000, 40000), 0);
    cr_assert_eq(pc_probe_decide(&o, 40000, &k, &r), 0);
    cr_assert(r.usable, "reserved ports are not handed out by the kernel");
    cr_assert(finding(&r, "reserved"));
    cr_assert_not(finding(&r, "reserved")->blocking);
    cr_assert_null(finding(&r, "ephemeral"));
    pc_probe_result_free(&r);
    pc_kports_free(&k);
}

Test(verdict, privileged_policy_and_eacces)
{
    pc_kports k = kernel();
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .allow_privileged = false};
    pc_probe_result r;
    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, 0, 1);
    cr_assert_eq(pc_probe_decide(&o, 80, &k, &r), 0);
    cr_assert_not(r.usable);
    cr_assert(finding(&r, "privileged")->blocking);

    o.allow_privileged = true;
    cr_assert_eq(pc_probe_decide(&o, 80, &k, &r), 0);
    cr_assert(r.usable);
    cr_assert_not(finding(&r, "privileged")->blocking);
    pc_probe_result_free(&r);

    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, -EACCES, 1);
    cr_assert_eq(pc_probe_decide(&o, 80, &k, &r), 0);
    cr_assert_not(r.usable);
    const pc_finding *f = finding(&r, "privileged");
    cr_assert(f && f->blocking);
    cr_assert(strstr(f->message, "needs CAP_NET_BIND_SERVICE"), "%s", f->message);
    cr_assert_eq(r.n_findings, 1, "EACCES is reported once, as privileged");
    pc_probe_result_free(&r);
    pc_kports_free(&k);
}

Test(verdict, missing_ipv6_is_skipped_not_failed)
{
    pc_kports k = kernel();
    pc_probe_opts o = {.proto = PC_PROTO_TCP};
    pc_probe_result r;
    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, 0, 1);
    add_test(&r, PC_PROTO_TCP, "::", true, AF_INET6, -EADDRNOTAVAIL, 1);
    add_test(&r, PC_PROTO_TCP, "::", true, AF_INET6, -EAFNOSUPPORT, 1);
    cr_assert_eq(pc_probe_decide(&o, 30080, &k, &r), 0);
    cr_assert(r.usable);
    cr_assert_eq(r.n_findings, 1);
    cr_assert_str_eq(r.findings[0].code, "family-skipped");
    cr_assert_str_eq(r.summary, "30080/tcp: usable on 0.0.0.0");
    pc_probe_result_free(&r);
    pc_kports_free(&k);
}

Test(verdict, unexplained_bind_failures)
{
    pc_kports k = kernel();
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .address = "192.0.2.99"};
    pc_probe_result r;
    pc_probe_result_init(&r);
    add_test(&r, PC_PROTO_TCP, "192.0.2.99", false, AF_INET, -EADDRNOTAVAIL, 1);
    add_test(&r, PC_PROTO_TCP, "0.0.0.0", true, AF_INET, -EADDRINUSE, -EADDRINUSE);
    cr_assert_eq(pc_probe_decide(&o, 30080, &k, &r), 0);
    cr_assert_not(r.usable);
    cr_assert_eq(r.n_findings, 2);
    cr_assert_str_eq(r.findings[0].code, "bind-failed");
    cr_assert(strstr(r.findings[0].message, "192.0.2.99"));
    cr_assert_str_eq(r.findings[1].code, "bind-failed");
    cr_assert(strstr(r.findings[1].message, "not listening"), "%s", r.findings[1].message);
    cr_assert_str_eq(r.summary, "30080/tcp: not usable on 192.0.2.99");
    pc_probe_result_free(&r);
    pc_kports_free(&k);
}

/* ---- pc_probe on a fixture /proc with real bind tests -------------------------- */

/* A TCP and UDP port free on 0.0.0.0 right now, not in the fixture tables. */
static uint16_t free_port(void)
{
    for (int tries = 0; tries < 50; tries++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t len = sizeof(a);
        cr_assert(s >= 0);
        cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
        cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
        close(s);
        uint16_t port = ntohs(a.sin_port);
        int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int ok = bind(u, (struct sockaddr *)&a, sizeof(a));
        close(u);
        if (ok == 0)
            return port;
    }
    cr_assert_fail("no free port");
    return 0;
}

Test(probe, fixture_listener_blocks_and_names_owner)
{
    char *root = fixture_root();
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .procroot = root};
    pc_probe_result r;
    pc_probe_result_init(&r);
    /* 30080 may or may not be free on the host: the fixture's listeners decide. */
    cr_assert_eq(pc_probe(&o, 30080, &r, NULL), 0);
    cr_assert_not(r.usable);
    const pc_finding *f = finding(&r, "listen");
    cr_assert(f);
    cr_assert_str_eq(f->message, "30080/tcp: LISTEN on 0.0.0.0 by pid 100 (nginx)");
    cr_assert_eq(r.hold_tcp, -1);
    pc_probe_result_free(&r);
    free(root);
}

Test(probe, owners_never_skips_the_walk)
{
    char *root = fixture_root();
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .procroot = root, .owners = PC_OWNERS_NEVER};
    pc_probe_result r;
    pc_probe_result_init(&r);
    cr_assert_eq(pc_probe(&o, 30080, &r, NULL), 0);
    cr_assert_not(r.usable);
    cr_assert_str_eq(finding(&r, "listen")->message, "30080/tcp: LISTEN on 0.0.0.0");
    for (size_t i = 0; i < r.socks.n; i++)
        cr_assert_eq(r.socks.v[i].pid, 0);
    pc_probe_result_free(&r);
    free(root);
}

Test(probe, free_port_with_hold_then_free_closes)
{
    char *root = fixture_root();
    uint16_t port = free_port();
    pc_probe_opts o = {
        .proto = PC_PROTO_BOTH, .procroot = root, .hold = true, .ephemeral = PC_EPHEMERAL_WARN};
    pc_probe_result r;
    pc_probe_result_init(&r);
    cr_assert_eq(pc_probe(&o, port, &r, NULL), 0);
    cr_assert(r.usable, "%s", r.summary);
    cr_assert_geq(r.hold_tcp, 0);
    cr_assert_geq(r.hold_udp, 0);
    cr_assert(fcntl(r.hold_tcp, F_GETFD) & FD_CLOEXEC);
    cr_assert(fcntl(r.hold_udp, F_GETFL) & O_NONBLOCK);
    int tcp = -1;
    pc_probe_take_holds(&r, &tcp, NULL);
    cr_assert_geq(tcp, 0);
    cr_assert_eq(r.hold_tcp, -1);
    int udp = r.hold_udp;
    pc_probe_result_free(&r);
    cr_assert_eq(fcntl(udp, F_GETFD), -1, "untaken hold is closed by free");
    cr_assert_neq(fcntl(tcp, F_GETFD), -1, "taken hold stays open");
    close(tcp);
    free(root);
}

Test(probe, bad_inputs)
{
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .address = "not-an-ip"};
    pc_probe_result r;
    pc_error err = {0};
    pc_probe_result_init(&r);
    cr_assert_eq(pc_probe(&o, 30080, &r, &err), -EINVAL);
    cr_assert(strstr(err.msg, "not-an-ip"));
    o.address = NULL;
    cr_assert_eq(pc_probe(&o, 0, &r, &err), -EINVAL);
    pc_probe_result_free(&r);
    int fd = 5;
    cr_assert_eq(pc_probe_hold_socket(PC_PROTO_BOTH, NULL, 1, &fd, NULL), -EINVAL);
    cr_assert_eq(fd, -1);
    cr_assert_eq(pc_probe_hold_socket(PC_PROTO_TCP, "1.2.3", 1, &fd, NULL), -EINVAL);
}

/* A plain bind of 0.0.0.0:port; true when the host has nothing on it. */
static bool host_port_free(uint16_t port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    bool ok = s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (s >= 0)
        close(s);
    return ok;
}

Test(probe, scan_on_failure_only_trusts_passing_binds)
{
    /* The fixture's /proc/net lists a listener on 30080; when the host's own
     * binds pass, the fast path never reads it. The full probe does, which
     * shows that the skip is what made the difference. */
    if (!host_port_free(30080))
        cr_skip("port 30080 is in use on this host");
    char *root = fixture_root();
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .procroot = root, .scan_on_failure_only = true};
    pc_probe_result r;
    pc_probe_result_init(&r);
    cr_assert_eq(pc_probe(&o, 30080, &r, NULL), 0);
    cr_assert(r.usable, "%s", r.summary);
    cr_assert_eq(r.socks.n, 0);
    o.scan_on_failure_only = false;
    cr_assert_eq(pc_probe(&o, 30080, &r, NULL), 0);
    cr_assert_not(r.usable);
    cr_assert(finding(&r, "listen"));
    pc_probe_result_free(&r);
    free(root);
}

Test(probe, scan_on_failure_only_still_explains_a_failed_bind)
{
    uint16_t port = free_port();
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(l, 1), 0);
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .scan_on_failure_only = true};
    pc_probe_result r;
    pc_probe_result_init(&r);
    cr_assert_eq(pc_probe(&o, port, &r, NULL), 0);
    cr_assert_not(r.usable);
    const pc_finding *f = finding(&r, "listen");
    cr_assert(f, "%s", r.summary);
    cr_assert(strstr(f->message, "LISTEN on 0.0.0.0 by pid"), "%s", f->message);
    pc_probe_result_free(&r);
    close(l);
}

Test(probe, caller_kernel_settings_replace_the_files)
{
    uint16_t port = free_port();
    pc_kports k;
    pc_kports_init(&k);
    k.have_ephemeral = true;
    k.eph_lo = k.eph_hi = port; /* the caller's cached settings say: ephemeral */
    k.unpriv_start = 1024;
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .ephemeral = PC_EPHEMERAL_AVOID, .kports = &k};
    pc_probe_result r;
    pc_probe_result_init(&r);
    cr_assert_eq(pc_probe(&o, port, &r, NULL), 0);
    cr_assert_not(r.usable, "%s", r.summary);
    cr_assert(finding(&r, "ephemeral"));
    pc_probe_result_free(&r);
    pc_kports_free(&k);
}
