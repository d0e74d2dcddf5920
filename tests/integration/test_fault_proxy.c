/* test_fault_proxy.c - portco-faultproxy relays, cuts, blocks, stalls and delays real TCP traffic.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faultctl.h"
#include "support.h"
#include "zkread.h"

static char *pt_dir;
static int pt_lfd = -1; /* the upstream: a listening socket of the test itself */
static pt_proxy pt_px;

static void pt_setup(void)
{
    pt_dir = pt_tmpdir("pt-fproxy");
    cr_assert_not_null(pt_dir);
    pt_lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(pt_lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(pt_lfd, 16), 0);
    socklen_t sl = sizeof(sa);
    getsockname(pt_lfd, (struct sockaddr *)&sa, &sl);
    char up[64];
    snprintf(up, sizeof(up), "127.0.0.1:%d", ntohs(sa.sin_port));
    cr_assert_eq(pt_proxy_start(&pt_px, pt_dir, up), 0);
}

static void pt_teardown(void)
{
    pt_proxy_stop(&pt_px);
    if (pt_lfd >= 0)
        close(pt_lfd);
    pt_lfd = -1;
    if (pt_dir) {
        pt_rmtree(pt_dir);
        free(pt_dir);
        pt_dir = NULL;
    }
}

static int pt_proxy_port(void)
{
    const char *colon = strrchr(pt_px.connect, ':');
    cr_assert_not_null(colon);
    return atoi(colon + 1);
}

/* Connect a client through the proxy and accept the relayed connection upstream. */
static void pt_pair(int *cli, int *srv)
{
    *cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)pt_proxy_port()),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(*cli, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
    if (!srv)
        return;
    struct pollfd p = {pt_lfd, POLLIN, 0};
    cr_assert_eq(poll(&p, 1, 5000), 1, "the proxy never connected upstream");
    *srv = accept4(pt_lfd, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(*srv, 0);
}

/* Read up to len bytes within timeout_ms. Returns bytes read, 0 at EOF/reset, -ETIMEDOUT. */
static int pt_recv(int fd, char *buf, size_t len, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1)
        return -ETIMEDOUT;
    ssize_t n = recv(fd, buf, len, 0);
    return n < 0 ? 0 : (int)n;
}

static void pt_send(int fd, const char *s)
{
    cr_assert_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static void pt_expect(int fd, const char *want)
{
    char buf[256];
    size_t got = 0, n = strlen(want);
    while (got < n) {
        int r = pt_recv(fd, buf + got, n - got, 5000);
        cr_assert_gt(r, 0, "expected \"%s\", got %zu bytes then %d", want, got, r);
        got += (size_t)r;
    }
    buf[got] = '\0';
    cr_assert_str_eq(buf, want);
}

TestSuite(fault_proxy, .init = pt_setup, .fini = pt_teardown, .timeout = 60);

Test(fault_proxy, relays_both_ways)
{
    int c, s;
    pt_pair(&c, &s);
    pt_send(c, "hello");
    pt_expect(s, "hello");
    pt_send(s, "world");
    pt_expect(c, "world");
    cr_assert_eq(pt_proxy_stat(&pt_px, "conns"), 1);
    cr_assert_eq(pt_proxy_stat(&pt_px, "c2s"), 5);
    cr_assert_eq(pt_proxy_stat(&pt_px, "s2c"), 5);
    close(c);
    close(s);
}

Test(fault_proxy, cut_closes_both_sides)
{
    int c, s;
    pt_pair(&c, &s);
    pt_send(c, "x");
    pt_expect(s, "x");
    char ans[256];
    cr_assert_eq(pt_proxy_cmd(&pt_px, "cut", ans, sizeof(ans)), 0, "%s", ans);
    cr_assert_str_eq(ans, "ok cut 1");
    char buf[8];
    cr_assert_eq(pt_recv(c, buf, sizeof(buf), 5000), 0, "client side still open");
    cr_assert_eq(pt_recv(s, buf, sizeof(buf), 5000), 0, "server side still open");
    cr_assert_eq(pt_proxy_stat(&pt_px, "cuts"), 1);
    close(c);
    close(s);
}

Test(fault_proxy, block_refuses_new_connections_until_unblocked)
{
    cr_assert_eq(pt_proxy_cmd(&pt_px, "block", NULL, 0), 0);
    int c;
    pt_pair(&c, NULL);
    char buf[8];
    cr_assert_eq(pt_recv(c, buf, sizeof(buf), 5000), 0, "a blocked connection stayed open");
    close(c);
    struct pollfd p = {pt_lfd, POLLIN, 0};
    cr_assert_eq(poll(&p, 1, 200), 0, "a blocked connection reached the upstream");
    cr_assert_eq(pt_proxy_stat(&pt_px, "refused"), 1);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "unblock", NULL, 0), 0);
    int s;
    pt_pair(&c, &s);
    pt_send(c, "ok");
    pt_expect(s, "ok");
    close(c);
    close(s);
}

Test(fault_proxy, cut_after_delivers_the_request_and_loses_the_answer)
{
    int c, s;
    pt_pair(&c, &s);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "cut-after 10 300", NULL, 0), 0);
    pt_send(c, "12345");
    pt_expect(s, "12345");
    pt_send(s, "a1");
    pt_expect(c, "a1"); /* not armed yet: 5 of 10 bytes */
    pt_send(c, "67890");
    pt_expect(s, "67890"); /* the request gets through... */
    pt_send(s, "answer");
    char buf[16];
    int r = pt_recv(c, buf, sizeof(buf), 2000);
    cr_assert_eq(r, 0, "the answer was relayed (%d bytes) or the cut never came", r);
    cr_assert_eq(pt_recv(s, buf, sizeof(buf), 2000), 0, "the server side stayed open");
    close(c);
    close(s);
}

Test(fault_proxy, cut_on_chunk_ignores_small_writes)
{
    int c, s;
    pt_pair(&c, &s);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "cut-on-chunk 8 300", NULL, 0), 0);
    char buf[16];
    for (int i = 0; i < 4; i++) { /* 16 bytes in small chunks: no cut */
        pt_send(c, "ping");
        pt_expect(s, "ping");
        pt_send(s, "pong");
        pt_expect(c, "pong");
    }
    pt_send(c, "big-request");
    pt_expect(s, "big-request");
    pt_send(s, "answer");
    cr_assert_eq(pt_recv(c, buf, sizeof(buf), 2000), 0, "the answer was relayed");
    close(c);
    close(s);
}

Test(fault_proxy, blackhole_stalls_then_resumes)
{
    int c, s;
    pt_pair(&c, &s);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "blackhole", NULL, 0), 0);
    pt_send(c, "lost");
    char buf[16];
    cr_assert_eq(pt_recv(s, buf, sizeof(buf), 300), -ETIMEDOUT);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "unblackhole", NULL, 0), 0);
    pt_send(c, "kept");
    pt_expect(s, "kept");
    close(c);
    close(s);
}

static void pt_send_bytes(int fd, const unsigned char *b, size_t n)
{
    cr_assert_eq(send(fd, b, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void pt_expect_bytes(int fd, const unsigned char *want, size_t n)
{
    unsigned char buf[256];
    size_t got = 0;
    cr_assert_leq(n, sizeof(buf));
    while (got < n) {
        int r = pt_recv(fd, (char *)buf + got, n - got, 5000);
        cr_assert_gt(r, 0, "expected %zu bytes, got %zu then %d", n, got, r);
        got += (size_t)r;
    }
    cr_assert_eq(memcmp(buf, want, n), 0, "other bytes than expected");
}

static bool pt_answer_held(void *arg)
{
    return pt_proxy_stat(&pt_px, "answers") == 1 && pt_proxy_stat(&pt_px, "held") == 20;
}

/* ZooKeeper frames: a big-endian length, then the request header (xid,
 * operation 8: getChildren) with the path and the watch flag, or the reply
 * header (xid, zxid, error). */
Test(fault_proxy, hold_after_read_keeps_the_answer_until_released)
{
    int c, s;
    pt_pair(&c, &s);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "hold-after-read /p", NULL, 0), 0);
    const unsigned char watched[] = {0, 0, 0, 15, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 2, '/', 'p', 1};
    const unsigned char read[] = {0, 0, 0, 15, 0, 0, 0, 2, 0, 0, 0, 8, 0, 0, 0, 2, '/', 'p', 0};
    const unsigned char ans1[20] = {0, 0, 0, 16, 0, 0, 0, 1};
    const unsigned char ans2[20] = {0, 0, 0, 16, 0, 0, 0, 2};
    /* The same read setting a watch is another request: its answer passes. */
    pt_send_bytes(c, watched, sizeof(watched));
    pt_expect_bytes(s, watched, sizeof(watched));
    pt_send_bytes(s, ans1, sizeof(ans1));
    pt_expect_bytes(c, ans1, sizeof(ans1));
    cr_assert_eq(pt_proxy_stat(&pt_px, "holds"), 0);

    pt_send_bytes(c, read, sizeof(read));
    pt_expect_bytes(s, read, sizeof(read)); /* the read reaches the server */
    cr_assert_eq(pt_proxy_stat(&pt_px, "holds"), 1);
    pt_send_bytes(s, ans2, sizeof(ans2));
    cr_assert(pt_wait_until(pt_answer_held, NULL, 5000), "the answer is not held");
    char buf[32];
    cr_assert_eq(pt_recv(c, buf, sizeof(buf), 200), -ETIMEDOUT, "the held answer was relayed");
    pt_send(c, "more");
    pt_expect(s, "more"); /* requests still pass */

    cr_assert_eq(pt_proxy_cmd(&pt_px, "release", NULL, 0), 0);
    pt_expect_bytes(c, ans2, sizeof(ans2));
    cr_assert_eq(pt_proxy_stat(&pt_px, "held"), 0);
    pt_send(s, "after");
    pt_expect(c, "after");
    cr_assert_eq(pt_proxy_stat(&pt_px, "holds"), 1, "the hold fired again");
    close(c);
    close(s);
}

Test(fault_proxy, a_cut_drops_the_held_answer)
{
    int c, s;
    pt_pair(&c, &s);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "hold-after-read /p watch", NULL, 0), 0);
    const unsigned char watched[] = {0, 0, 0, 15, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 2, '/', 'p', 1};
    const unsigned char ans1[20] = {0, 0, 0, 16, 0, 0, 0, 1};
    pt_send_bytes(c, watched, sizeof(watched));
    pt_expect_bytes(s, watched, sizeof(watched));
    pt_send_bytes(s, ans1, sizeof(ans1));
    cr_assert(pt_wait_until(pt_answer_held, NULL, 5000), "the answer is not held");
    cr_assert_eq(pt_proxy_cmd(&pt_px, "cut", NULL, 0), 0);
    char buf[32];
    cr_assert_eq(pt_recv(c, buf, sizeof(buf), 5000), 0, "the client got the answer or no cut");
    cr_assert_eq(pt_proxy_stat(&pt_px, "held"), 0);
    close(c);
    close(s);
}

Test(fault_proxy, delay_holds_each_chunk)
{
    int c, s;
    pt_pair(&c, &s);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "delay 300", NULL, 0), 0);
    long long t0 = pt_now_ms();
    pt_send(c, "slow");
    pt_expect(s, "slow");
    long long dt = pt_now_ms() - t0;
    cr_assert_geq(dt, 280, "relayed after %lld ms", dt);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "delay 0", NULL, 0), 0);
    close(c);
    close(s);
}

Test(fault_proxy, random_cuts_repeat)
{
    int c, s;
    pt_pair(&c, &s);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "random 50 100", NULL, 0), 0);
    char buf[8];
    cr_assert_eq(pt_recv(c, buf, sizeof(buf), 3000), 0, "no random cut");
    close(c);
    close(s);
    pt_pair(&c, &s);
    cr_assert_eq(pt_recv(c, buf, sizeof(buf), 3000), 0, "no second random cut");
    close(c);
    close(s);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "random off", NULL, 0), 0);
    cr_assert_geq(pt_proxy_stat(&pt_px, "cuts"), 2);
}

Test(fault_proxy, bad_commands_are_refused)
{
    char ans[256];
    cr_assert_eq(pt_proxy_cmd(&pt_px, "explode", ans, sizeof(ans)), -EIO);
    cr_assert(strncmp(ans, "err", 3) == 0, "%s", ans);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "cut-after 0", NULL, 0), -EIO);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "random 100 10", NULL, 0), -EIO);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "ping", NULL, 0), 0);
}

Test(fault_proxy, zookeeper_session_through_the_proxy)
{
    const char *zk = pt_zk_shared();
    cr_assert_not_null(zk, "the ctest zk fixture is required");
    pt_proxy zp;
    cr_assert_eq(pt_proxy_start(&zp, pt_dir, zk), 0);
    pt_zkr *z = NULL;
    cr_assert_eq(pt_zkr_connect(&z, zp.connect, 4000, 10000), 0);
    struct Stat st;
    cr_assert_eq(pt_zkr_exists(z, "/", &st), 0);
    cr_assert_geq(pt_proxy_stat(&zp, "accepted"), 1);
    /* A cut is a connection loss: the client reconnects through the proxy
     * and the same session keeps answering. */
    long long sid = pt_zkr_session_id(z);
    cr_assert_eq(pt_proxy_cmd(&zp, "cut", NULL, 0), 0);
    int rc = pt_zkr_exists(z, "/", &st);
    if (rc == -ECONNRESET)
        rc = pt_zkr_exists(z, "/", &st);
    cr_assert_eq(rc, 0);
    cr_assert_eq(pt_zkr_session_id(z), sid);
    cr_assert_geq(pt_proxy_stat(&zp, "accepted"), 2);
    pt_zkr_close(z);
    pt_proxy_stop(&zp);
}
