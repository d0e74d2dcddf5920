/* zkloop.c - a poll loop that drives one or more single-threaded ZooKeeper sessions. */
#include "zkloop.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define PB_ZK_MAX_HANDLES 256

void pb_zk_quiet(void)
{
    /* Even at ERROR level the client prints every refused connection attempt,
       twenty a second; the drivers report failures themselves. The stream
       stays open (and reachable from the client) until exit. */
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    FILE *devnull = fopen("/dev/null", "we");
    if (devnull)
        zoo_set_log_stream(devnull);
}

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    /* The connected state is read back with zoo_state(); nothing else to do. */
    (void)zh, (void)type, (void)state, (void)path, (void)ctx;
}

int pb_zk_connect(const char *hosts, int session_timeout_ms, int timeout_ms, zhandle_t **out)
{
    *out = NULL;
    zhandle_t *zh = zookeeper_init(hosts, session_watcher, session_timeout_ms, NULL, NULL, 0);
    if (!zh)
        return -ECONNREFUSED;
    /* As the agent does (lib/zk/zkloop.h): no name resolution per loop turn,
     * so the floor is the raw client at its best. */
    zoo_set_servers_resolution_delay(zh, 10000);
    double deadline = pb_now() + timeout_ms / 1000.0;
    while (zoo_state(zh) != ZOO_CONNECTED_STATE) {
        if (pb_now() > deadline) {
            zookeeper_close(zh);
            return -ETIMEDOUT;
        }
        int rc = pb_zk_pump(&zh, 1, 50);
        if (rc < 0) {
            zookeeper_close(zh);
            return rc;
        }
    }
    *out = zh;
    return 0;
}

void pb_zk_close(zhandle_t *zh)
{
    if (zh)
        zookeeper_close(zh);
}

int pb_zk_pump(zhandle_t *const *zh, int n, int max_wait_ms)
{
    struct pollfd pfd[PB_ZK_MAX_HANDLES];
    if (n > PB_ZK_MAX_HANDLES)
        return -EINVAL;
    int wait_ms = max_wait_ms;
    for (int i = 0; i < n; i++) {
        int fd = -1, interest = 0;
        struct timeval tv = {0, 0};
        int rc = zookeeper_interest(zh[i], &fd, &interest, &tv);
        if (rc != ZOK && rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT) {
            if (is_unrecoverable(zh[i]) == ZINVALIDSTATE)
                return rc;
        }
        pfd[i].fd = fd; /* a negative fd is ignored by poll() */
        pfd[i].events = (short)(((interest & ZOOKEEPER_READ) ? POLLIN : 0) |
                                ((interest & ZOOKEEPER_WRITE) ? POLLOUT : 0));
        pfd[i].revents = 0;
        int tv_ms = (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
        if (tv_ms < wait_ms)
            wait_ms = tv_ms;
    }
    if (wait_ms < 0)
        wait_ms = 0;
    int ready = poll(pfd, (nfds_t)n, wait_ms);
    if (ready < 0 && errno != EINTR)
        return -errno;
    for (int i = 0; i < n; i++) {
        int events = 0;
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
            events |= ZOOKEEPER_READ;
        if (pfd[i].revents & POLLOUT)
            events |= ZOOKEEPER_WRITE;
        /* Called even with no events: the client runs its timers (pings) here. */
        int rc = zookeeper_process(zh[i], events);
        if (rc != ZOK && rc != ZNOTHING && is_unrecoverable(zh[i]) == ZINVALIDSTATE)
            return rc;
    }
    return 0;
}

int pb_zk_wait(zhandle_t *zh, const bool *done, int timeout_ms)
{
    double deadline = pb_now() + timeout_ms / 1000.0;
    while (!*done) {
        if (pb_now() > deadline)
            return -ETIMEDOUT;
        int rc = pb_zk_pump(&zh, 1, 50);
        if (rc < 0)
            return rc;
    }
    return 0;
}

typedef struct sync_call {
    bool done;
    int rc;
} sync_call;

static void sync_string_done(int rc, const char *value, const void *data)
{
    (void)value;
    sync_call *c = (sync_call *)data;
    c->rc = rc;
    c->done = true;
}

static void sync_void_done(int rc, const void *data)
{
    sync_call *c = (sync_call *)data;
    c->rc = rc;
    c->done = true;
}

int pb_zk_create(zhandle_t *zh, const char *path, int mode, int timeout_ms)
{
    sync_call c = {false, ZOK};
    int rc = zoo_acreate(zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE, mode, sync_string_done, &c);
    if (rc != ZOK)
        return rc;
    if (pb_zk_wait(zh, &c.done, timeout_ms) < 0)
        return ZOPERATIONTIMEOUT;
    return c.rc;
}

int pb_zk_delete(zhandle_t *zh, const char *path, int timeout_ms)
{
    sync_call c = {false, ZOK};
    int rc = zoo_adelete(zh, path, -1, sync_void_done, &c);
    if (rc != ZOK)
        return rc;
    if (pb_zk_wait(zh, &c.done, timeout_ms) < 0)
        return ZOPERATIONTIMEOUT;
    return c.rc;
}

int pb_zk_mkdirs(zhandle_t *zh, const char *path, int timeout_ms)
{
    char buf[1024];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf) || buf[0] != '/')
        return ZBADARGUMENTS;
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            int rc = pb_zk_create(zh, buf, ZOO_PERSISTENT, timeout_ms);
            if (rc != ZOK && rc != ZNODEEXISTS)
                return rc;
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    return ZOK;
}
