/* test_procnet.c - /proc/net/{tcp,tcp6,udp,udp6} parsing on fixture files. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "procnet.h"

/*
 * The fixtures in tests/data/procnet are written as a little-endian kernel
 * prints them (each 32-bit address word in host byte order), so these tests
 * describe a little-endian host such as x86-64 or arm64.
 */

static char *fixture_path(const char *name)
{
    const char *data = getenv("PORTCO_TEST_DATA");
    char *p = NULL;
    cr_assert(data, "PORTCO_TEST_DATA is not set");
    cr_assert(asprintf(&p, "%s/procnet/%s", data, name) > 0);
    return p;
}

static int parse_fixture(const char *name, pc_procnet_kind kind, uint16_t port, pc_sockvec *sv,
                         pc_error *err)
{
    char *path = fixture_path(name);
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s", path);
    int rc = pc_procnet_parse(f, kind, port, sv, err);
    fclose(f);
    free(path);
    return rc;
}

Test(procnet, ipv4_listen_established_timewait)
{
    pc_sockvec sv = PC_SOCKVEC_INIT;
    cr_assert_eq(parse_fixture("tcp", PC_PROCNET_TCP, 0, &sv, NULL), 0);
    cr_assert_eq(sv.n, 4);
    const pc_sock *s = &sv.v[0];
    cr_assert_eq(s->proto, PC_PROTO_TCP);
    cr_assert_eq(s->family, AF_INET);
    cr_assert_str_eq(s->local, "0.0.0.0");
    cr_assert_eq(s->local_port, 30080);
    cr_assert(s->local_any);
    cr_assert_str_eq(s->remote, "0.0.0.0");
    cr_assert_eq(s->remote_port, 0);
    cr_assert_eq(s->state, PC_SS_LISTEN);
    cr_assert_str_eq(pc_sock_state_name(s->proto, s->state), "LISTEN");
    cr_assert_eq(s->uid, 0);
    cr_assert_eq(s->inode, 1001);
    cr_assert_eq(s->pid, 0);

    s = &sv.v[1];
    cr_assert_str_eq(s->local, "127.0.0.2");
    cr_assert_eq(s->local_port, 8080);
    cr_assert_not(s->local_any);
    cr_assert_eq(s->uid, 1000);

    s = &sv.v[2];
    cr_assert_eq(s->state, PC_SS_ESTABLISHED);
    cr_assert_str_eq(pc_sock_state_name(s->proto, s->state), "ESTABLISHED");
    cr_assert_str_eq(s->remote, "127.0.0.1");
    cr_assert_eq(s->remote_port, 0xD431);

    s = &sv.v[3];
    cr_assert_eq(s->state, PC_SS_TIME_WAIT);
    cr_assert_str_eq(pc_sock_state_name(s->proto, s->state), "TIME_WAIT");
    cr_assert_eq(s->inode, 0);
    pc_sockvec_free(&sv);
}

Test(procnet, port_filter_keeps_only_local_port)
{
    pc_sockvec sv = PC_SOCKVEC_INIT;
    cr_assert_eq(parse_fixture("tcp", PC_PROCNET_TCP, 30080, &sv, NULL), 0);
    cr_assert_eq(sv.n, 2);
    for (size_t i = 0; i < sv.n; i++)
        cr_assert_eq(sv.v[i].local_port, 30080);
    /* 0xD431 is only a remote port in the fixture: not "on" that port. */
    pc_sockvec_free(&sv);
    cr_assert_eq(parse_fixture("tcp", PC_PROCNET_TCP, 0xD431, &sv, NULL), 0);
    cr_assert_eq(sv.n, 0);
    pc_sockvec_free(&sv);
}

Test(procnet, ipv6_words_in_host_order_and_v4_mapped)
{
    pc_sockvec sv = PC_SOCKVEC_INIT;
    cr_assert_eq(parse_fixture("tcp6", PC_PROCNET_TCP6, 0, &sv, NULL), 0);
    cr_assert_eq(sv.n, 4);
    cr_assert_eq(sv.v[0].family, AF_INET6);
    cr_assert_str_eq(sv.v[0].local, "::");
    cr_assert(sv.v[0].local_any);
    cr_assert_str_eq(sv.v[1].local, "::1");
    cr_assert_eq(sv.v[1].uid, 107);
    /* ::ffff:127.0.0.1 is shown as IPv4, still from the IPv6 table. */
    cr_assert_str_eq(sv.v[2].local, "127.0.0.1");
    cr_assert_str_eq(sv.v[2].remote, "127.0.0.1");
    cr_assert_eq(sv.v[2].family, AF_INET6);
    cr_assert_not(sv.v[2].local_any);
    cr_assert_str_eq(sv.v[3].local, "fd00::2");
    cr_assert_eq(sv.v[3].local_port, 80);
    cr_assert_str_eq(sv.v[3].remote, "2001:db8::1");
    cr_assert_eq(sv.v[3].remote_port, 50000);
    pc_sockvec_free(&sv);
}

Test(procnet, udp_unconn_and_connected)
{
    pc_sockvec sv = PC_SOCKVEC_INIT;
    cr_assert_eq(parse_fixture("udp", PC_PROCNET_UDP, 0, &sv, NULL), 0);
    cr_assert_eq(sv.n, 3);
    cr_assert_eq(sv.v[0].proto, PC_PROTO_UDP);
    cr_assert_eq(sv.v[0].state, PC_SS_CLOSE);
    cr_assert_str_eq(pc_sock_state_name(PC_PROTO_UDP, sv.v[0].state), "UNCONN");
    cr_assert_str_eq(pc_sock_state_name(PC_PROTO_TCP, sv.v[0].state), "CLOSE");
    cr_assert_eq(sv.v[1].local_port, 53);
    cr_assert_eq(sv.v[1].uid, 101);
    cr_assert_str_eq(pc_sock_state_name(PC_PROTO_UDP, sv.v[2].state), "ESTABLISHED");
    pc_sockvec_free(&sv);

    cr_assert_eq(parse_fixture("udp6", PC_PROCNET_UDP6, 30080, &sv, NULL), 0);
    cr_assert_eq(sv.n, 1);
    cr_assert_str_eq(sv.v[0].local, "::");
    cr_assert_eq(sv.v[0].family, AF_INET6);
    pc_sockvec_free(&sv);
}

Test(procnet, empty_and_header_only_have_no_sockets)
{
    pc_sockvec sv = PC_SOCKVEC_INIT;
    cr_assert_eq(parse_fixture("empty", PC_PROCNET_TCP, 0, &sv, NULL), 0);
    cr_assert_eq(sv.n, 0);
    cr_assert_eq(parse_fixture("header_only", PC_PROCNET_TCP, 0, &sv, NULL), 0);
    cr_assert_eq(sv.n, 0);
    cr_assert_eq(pc_procnet_parse_buf("", 0, PC_PROCNET_UDP, 0, &sv, NULL), 0);
    cr_assert_eq(sv.n, 0);
    pc_sockvec_free(&sv);
}

Test(procnet, malformed_lines_are_skipped_and_reported)
{
    pc_sockvec sv = PC_SOCKVEC_INIT;
    pc_error err = {0};
    cr_assert_eq(parse_fixture("tcp_malformed", PC_PROCNET_TCP, 0, &sv, &err), -EBADMSG);
    cr_assert_eq(err.code, -EBADMSG);
    cr_assert(strstr(err.msg, "line 3"), "first bad line named: %s", err.msg);
    /* The two well-formed lines survive. */
    cr_assert_eq(sv.n, 2);
    cr_assert_eq(sv.v[0].inode, 5001);
    cr_assert_eq(sv.v[1].inode, 5004);
    pc_sockvec_free(&sv);
}

Test(procnet, ipv4_line_in_ipv6_table_is_malformed)
{
    pc_sockvec sv = PC_SOCKVEC_INIT;
    cr_assert_eq(parse_fixture("tcp", PC_PROCNET_TCP6, 0, &sv, NULL), -EBADMSG);
    cr_assert_eq(sv.n, 0);
    pc_sockvec_free(&sv);
}

Test(procnet, buffer_parse_without_terminator)
{
    static const char text[] = "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 "
                               "00:00000000 00000000     0        0 77 1 0";
    pc_sockvec sv = PC_SOCKVEC_INIT;
    cr_assert_eq(pc_procnet_parse_buf(text, strlen(text), PC_PROCNET_TCP, 22, &sv, NULL), 0);
    cr_assert_eq(sv.n, 1);
    cr_assert_eq(sv.v[0].inode, 77);
    pc_sockvec_free(&sv);
}

Test(procnet, scan_reads_the_tables_of_a_proc_root)
{
    char *root = fixture_path("root");
    pc_sockvec sv = PC_SOCKVEC_INIT;
    cr_assert_eq(pc_procnet_scan(root, PC_PROTO_BOTH, 30080, &sv, NULL), 0);
    /* tcp: LISTEN 0.0.0.0, ESTABLISHED 127.0.0.1; tcp6: LISTEN ::, mapped
     * ESTABLISHED; udp: 127.0.0.1; udp6: :: */
    cr_assert_eq(sv.n, 6);
    pc_sockvec_free(&sv);
    cr_assert_eq(pc_procnet_scan(root, PC_PROTO_UDP, 30080, &sv, NULL), 0);
    cr_assert_eq(sv.n, 2);
    pc_sockvec_free(&sv);
    free(root);
}

Test(procnet, scan_skips_missing_tables)
{
    char *root = fixture_path("nonexistent-root");
    pc_sockvec sv = PC_SOCKVEC_INIT;
    cr_assert_eq(pc_procnet_scan(root, PC_PROTO_BOTH, 0, &sv, NULL), 0);
    cr_assert_eq(sv.n, 0);
    free(root);
}

Test(procnet, format_like_ss)
{
    pc_sock s = {.proto = PC_PROTO_TCP,
                 .family = AF_INET6,
                 .local = "::",
                 .local_port = 30080,
                 .remote = "::",
                 .state = PC_SS_LISTEN,
                 .inode = 5,
                 .pid = 4242,
                 .comm = "nginx"};
    char buf[256];
    pc_sock_format(&s, buf, sizeof(buf));
    cr_assert(strstr(buf, "tcp "), "%s", buf);
    cr_assert(strstr(buf, "LISTEN"), "%s", buf);
    cr_assert(strstr(buf, "[::]:30080"), "%s", buf);
    cr_assert(strstr(buf, "[::]:*"), "%s", buf);
    cr_assert(strstr(buf, "pid=4242 (nginx)"), "%s", buf);
    s.pid = 0;
    s.owner_unreadable = true;
    pc_sock_format(&s, buf, sizeof(buf));
    cr_assert(strstr(buf, "owner unknown (permission)"), "%s", buf);
    char ep[64];
    cr_assert_str_eq(pc_sock_endpoint("127.0.0.1", 80, false, ep, sizeof(ep)), "127.0.0.1:80");
}
