/* zk.c - test helpers around deploy/zk/zk-harness: private ZooKeeper servers and the shared one. */
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The harness has a 60 s start deadline of its own; leave it room to report. */
#define PT_ZK_HARNESS_TIMEOUT_MS 90000

static const char *harness_path(char *buf, size_t len)
{
    snprintf(buf, len, "%s/deploy/zk/zk-harness", pt_source_dir());
    return buf;
}

/* Run the harness with args; on failure print its stderr so the test log says why. */
static int harness(char *const args[], char **out)
{
    char path[512];
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)harness_path(path, sizeof path);
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char *err = NULL;
    int status = -1;
    int rc = pt_run(argv, NULL, PT_ZK_HARNESS_TIMEOUT_MS, out, &err, &status);
    if (rc == 0 && status != 0)
        rc = status == 2 ? -EINVAL : -EIO;
    if (rc != 0)
        fprintf(stderr, "zk-harness %s failed (rc %d, exit %d): %s\n", args[0], rc, status,
                err ? err : "");
    free(err);
    return rc;
}

/*
 * Servers started and not yet stopped, by harness directory. A test that
 * fails an assertion skips its own pt_zk_stop(); the exit handler stops what
 * is left, by the pids in each directory, so a failing test leaves no server.
 */
#define PT_ZK_LIVE_MAX 16
static char pt_zk_live[PT_ZK_LIVE_MAX][512];

static void pt_zk_stop_leftovers(void)
{
    for (int i = 0; i < PT_ZK_LIVE_MAX; i++) {
        if (!pt_zk_live[i][0])
            continue;
        char *args[] = {"stop", "--dir", pt_zk_live[i], NULL};
        harness(args, NULL);
        pt_zk_live[i][0] = '\0';
    }
}

static void pt_zk_live_set(const char *dir, bool live)
{
    static bool registered;
    if (!registered) {
        atexit(pt_zk_stop_leftovers);
        registered = true;
    }
    for (int i = 0; i < PT_ZK_LIVE_MAX; i++) {
        if (live && !pt_zk_live[i][0]) {
            snprintf(pt_zk_live[i], sizeof pt_zk_live[i], "%s", dir);
            return;
        }
        if (!live && strcmp(pt_zk_live[i], dir) == 0) {
            pt_zk_live[i][0] = '\0';
            return;
        }
    }
}

int pt_zk_start_on(pt_zk *zk, int nodes, const char *address)
{
    memset(zk, 0, sizeof *zk);
    char *dir = pt_tmpdir("portco-zk");
    if (!dir)
        return -errno;
    snprintf(zk->dir, sizeof zk->dir, "%s", dir);
    free(dir);
    zk->nodes = nodes;
    char nodes_s[16];
    snprintf(nodes_s, sizeof nodes_s, "%d", nodes);
    char *args[] = {"start", "--dir",     zk->dir,         "--nodes",
                    nodes_s, "--address", (char *)address, NULL};
    char *out = NULL;
    int rc = harness(args, &out);
    free(out);
    if (rc == 0) {
        char path[600];
        snprintf(path, sizeof path, "%s/connect", zk->dir);
        rc = pt_read_file(path, zk->connect, sizeof zk->connect);
        rc = rc > 0 ? 0 : (rc < 0 ? rc : -EIO);
    }
    if (rc != 0) {
        pt_rmtree(zk->dir);
        zk->dir[0] = '\0';
    } else {
        pt_zk_live_set(zk->dir, true);
    }
    return rc;
}

int pt_zk_start(pt_zk *zk, int nodes)
{
    return pt_zk_start_on(zk, nodes, "127.0.0.1");
}

int pt_zk_stop(pt_zk *zk)
{
    if (!zk->dir[0])
        return 0;
    char *args[] = {"stop", "--dir", zk->dir, NULL};
    int rc = harness(args, NULL);
    if (rc == 0) {
        pt_zk_live_set(zk->dir, false);
        zk->dir[0] = '\0';
    }
    return rc;
}

int pt_zk_kill(pt_zk *zk, const char *which, int *node)
{
    char *args[] = {"kill", "--dir", zk->dir, "--node", (char *)which, "--signal", "KILL", NULL};
    char *out = NULL;
    int rc = harness(args, &out);
    if (rc == 0 && node)
        *node = atoi(out);
    free(out);
    return rc;
}

int pt_zk_restart(pt_zk *zk, int node)
{
    char n[16];
    snprintf(n, sizeof n, "%d", node);
    char *args[] = {"restart", "--dir", zk->dir, "--node", n, NULL};
    return harness(args, NULL);
}

int pt_zk_node_pid(pt_zk *zk, int node)
{
    char path[600], buf[32];
    snprintf(path, sizeof path, "%s/node%d/pid", zk->dir, node);
    int rc = pt_read_file(path, buf, sizeof buf);
    return rc > 0 ? atoi(buf) : (rc < 0 ? rc : -ENOENT);
}

int pt_zk_node_port(pt_zk *zk, int node)
{
    char path[600], buf[32];
    snprintf(path, sizeof path, "%s/node%d/port", zk->dir, node);
    int rc = pt_read_file(path, buf, sizeof buf);
    return rc > 0 ? atoi(buf) : (rc < 0 ? rc : -ENOENT);
}

int pt_4lw(const char *address, int port, const char *cmd, char *buf, size_t len, int timeout_ms)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(address, portstr, &hints, &ai) != 0)
        return -EINVAL;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int e = errno;
        freeaddrinfo(ai);
        return -e;
    }
    long long deadline = pt_now_ms() + timeout_ms;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS ? -errno : 0;
    freeaddrinfo(ai);
    size_t got = 0, sent = 0, clen = strlen(cmd);
    buf[0] = '\0';
    while (rc == 0) {
        long long left = deadline - pt_now_ms();
        if (left <= 0) {
            rc = -ETIMEDOUT;
            break;
        }
        struct pollfd p = {.fd = fd, .events = sent < clen ? POLLOUT : POLLIN};
        if (poll(&p, 1, (int)left) < 0) {
            rc = errno == EINTR ? 0 : -errno;
            continue;
        }
        if (!p.revents)
            continue;
        if (sent < clen) {
            ssize_t w = send(fd, cmd + sent, clen - sent, MSG_NOSIGNAL);
            if (w < 0)
                rc = errno == EAGAIN ? 0 : -errno;
            else
                sent += (size_t)w;
            continue;
        }
        ssize_t r = recv(fd, buf + got, len - 1 - got, 0);
        if (r == 0 || (r > 0 && got + (size_t)r >= len - 1)) {
            got += r > 0 ? (size_t)r : 0;
            break;
        }
        if (r < 0)
            rc = errno == EAGAIN ? 0 : -errno;
        else
            got += (size_t)r;
    }
    buf[got] = '\0';
    close(fd);
    return rc;
}

int pt_zk_mode(pt_zk *zk, int node, char *buf, size_t len)
{
    char path[600], addr[128], reply[4096];
    snprintf(path, sizeof path, "%s/address", zk->dir);
    int port = pt_zk_node_port(zk, node);
    snprintf(buf, len, "down");
    if (port <= 0 || pt_read_file(path, addr, sizeof addr) <= 0)
        return port < 0 ? port : -ENOENT;
    if (pt_4lw(addr, port, "srvr", reply, sizeof reply, 2000) != 0)
        return 0;
    const char *m = strstr(reply, "Mode: ");
    if (m) {
        m += 6;
        size_t n = strcspn(m, "\r\n");
        snprintf(buf, len, "%.*s", (int)n, m);
    }
    return 0;
}

const char *pt_zk_shared(void)
{
    static char connect[512];
    const char *dir = getenv("PORTCO_TEST_ZK_DIR");
    if (!dir || !*dir)
        return NULL;
    char path[600];
    snprintf(path, sizeof path, "%s/connect", dir);
    return pt_read_file(path, connect, sizeof connect) > 0 ? connect : NULL;
}
