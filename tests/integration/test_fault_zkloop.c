/* test_fault_zkloop.c - lib/zk when the client library drops its socket behind the loop's back. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evloop.h"
#include "faultctl.h"
#include "support.h"
#include "zkloop.h"

#define SESSION_MS 6000
#define WAIT_MS    10000

static struct event_base *base;
static pc_zk *zk;
static pt_proxy px = {.pid = -1};
static char *dir;

static void on_state(pc_zk *h, pc_zk_state s, void *ud)
{
}

static bool connected(void *arg)
{
    return pc_zk_get_state(zk) == PC_ZK_CONNECTED;
}

static bool flag_set(void *arg)
{
    return *(bool *)arg;
}

static void readable(evutil_socket_t fd, short what, void *arg)
{
    *(bool *)arg = true;
}

static void done(int rc, const struct Stat *stat, const void *data)
{
}

/* The fd of this process's TCP connection to 127.0.0.1:port, or -1. */
static int pt_fd_connected_to(int port)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d))) {
        int fd = atoi(e->d_name);
        struct sockaddr_in sin;
        socklen_t len = sizeof(sin);
        if (e->d_name[0] == '.' || fd == dirfd(d) ||
            getpeername(fd, (struct sockaddr *)&sin, &len) != 0 || sin.sin_family != AF_INET)
            continue;
        if (ntohs(sin.sin_port) == port)
            found = fd;
    }
    closedir(d);
    return found;
}

static void setup(void)
{
    cr_assert_not_null(pt_zk_shared(), "no shared ZooKeeper (run through ctest)");
    dir = pt_tmpdir("pt-fzkl");
    cr_assert_not_null(dir);
    cr_assert_eq(pt_proxy_start(&px, dir, pt_zk_shared()), 0, "cannot start the fault proxy");
    base = event_base_new();
    cr_assert_not_null(base);
}

static void teardown(void)
{
    pc_zk_close(zk);
    zk = NULL;
    if (base)
        event_base_free(base);
    base = NULL;
    pt_proxy_stop(&px);
    if (dir)
        pt_rmtree(dir);
    free(dir);
    dir = NULL;
}

TestSuite(fault_zkloop, .init = setup, .fini = teardown, .timeout = 60);

/*
 * A request sent outside a ZooKeeper callback fails to send on a reset
 * connection, and the client library closes its socket there and then. The
 * next socket the process opens can get the same number before the loop
 * re-arms. Such a socket (here a socket pair put on that number, as an
 * accepted client connection would be) must still be polled: an agent once
 * left a client's request unread for 30 s this way.
 */
Test(fault_zkloop, a_socket_reusing_the_dropped_client_fd_is_still_polled)
{
    pc_error err;
    cr_assert_eq(pc_zk_open(base, px.connect, SESSION_MS, NULL, on_state, NULL, &zk, &err), 0,
                 "pc_zk_open: %s", err.msg);
    cr_assert(pt_loop_until(base, connected, NULL, WAIT_MS), "no session through the proxy");
    const char *colon = strrchr(px.connect, ':');
    cr_assert_not_null(colon);
    int zfd = pt_fd_connected_to(atoi(colon + 1));
    cr_assert_geq(zfd, 0, "cannot find the client's socket to the proxy");

    /* Reset the connection and wait until the reset has arrived, without
     * letting the loop run: the library has not noticed anything yet. */
    cr_assert_eq(pt_proxy_cmd(&px, "cut", NULL, 0), 0);
    struct pollfd p = {.fd = zfd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, WAIT_MS), 1, "the reset did not arrive");

    /* A request from outside the loop's callbacks: its send fails and the
     * library closes zfd on the spot. */
    zoo_aexists(pc_zk_handle(zk), "/", 0, done, NULL);
    cr_assert(fcntl(zfd, F_GETFD) < 0 && errno == EBADF,
              "the client library did not close its socket inside the failed send");

    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    if (sv[0] != zfd) {
        cr_assert_eq(dup3(sv[0], zfd, O_CLOEXEC), zfd);
        close(sv[0]);
        sv[0] = zfd;
    }
    bool fired = false;
    struct event *ev = event_new(base, sv[0], EV_READ | EV_PERSIST, readable, &fired);
    cr_assert_not_null(ev);
    cr_assert_eq(event_add(ev, NULL), 0);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    bool ok = pt_loop_until(base, flag_set, &fired, 5000);
    event_free(ev);
    close(sv[0]);
    close(sv[1]);
    cr_assert(ok, "a socket on the number the client had closed was never polled");

    /* And the session comes back on a new connection. */
    cr_assert(pt_loop_until(base, connected, NULL, WAIT_MS), "the session did not come back");
    cr_assert_eq(pt_proxy_stat(&px, "cuts"), 1);
}
