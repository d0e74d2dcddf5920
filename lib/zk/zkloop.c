/* zkloop.c - drives a libzookeeper_st handle from a libevent loop. */
#include "zkloop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct pc_zk {
    struct event_base *base;
    zhandle_t *zh;
    char *hosts;
    int timeout_ms;
    pc_zk_state_cb cb;
    void *ud;

    pc_zk_state state;       /* last state seen */
    pc_zk_state reported;    /* last state given to cb (0: none yet) */
    bool reported_connected; /* CONNECTED was reported once: a CONNECTING after it is an outage */

    struct event *io;    /* read/write interest on the client's socket */
    int io_fd;           /* our duplicate of that socket, which the io event is armed on; -1 */
    int io_libfd;        /* the client's own fd for it */
    ino_t io_ino;        /* identity of that socket (fds are reused) */
    short io_what;       /* EV_READ|EV_WRITE armed */
    struct event *timer; /* zookeeper_interest()'s timeout */
    struct event *kick;  /* deferred re-arm and initial state report */

    int depth;          /* > 0 while inside zookeeper_process() or a callback */
    bool close_pending; /* pc_zk_close() called at depth > 0 */
    zhandle_t *retired; /* old handle replaced at depth > 0, closed on unwind */
};

/* ---- names ---- */

const char *pc_zk_state_name(pc_zk_state state)
{
    switch (state) {
    case PC_ZK_CONNECTING:
        return "connecting";
    case PC_ZK_CONNECTED:
        return "connected";
    case PC_ZK_EXPIRED:
        return "expired";
    case PC_ZK_AUTH_FAILED:
        return "auth-failed";
    case PC_ZK_CLOSED:
        return "closed";
    }
    return "unknown";
}

/* ---- the loop ---- */

static void pc_zk_rearm(pc_zk *zk);
static void pc_zk_unwind(pc_zk *zk);

static void pc_zk_report(pc_zk *zk)
{
    if (zk->close_pending || zk->reported == zk->state)
        return;
    zk->reported = zk->state;
    if (zk->state == PC_ZK_CONNECTED)
        pc_info("zookeeper session 0x%llx connected (timeout %d ms)",
                (unsigned long long)zoo_client_id(zk->zh)->client_id, zoo_recv_timeout(zk->zh));
    else if (zk->state == PC_ZK_EXPIRED || zk->state == PC_ZK_AUTH_FAILED)
        pc_warn("zookeeper session %s", pc_zk_state_name(zk->state));
    else if (zk->state == PC_ZK_CONNECTING && zk->reported_connected)
        pc_warn("zookeeper connection lost; reconnecting (%s)", zk->hosts);
    else
        pc_info("zookeeper %s (%s)", pc_zk_state_name(zk->state), zk->hosts);
    if (zk->state == PC_ZK_CONNECTED)
        zk->reported_connected = true;
    if (zk->cb)
        zk->cb(zk, zk->state, zk->ud);
}

static void pc_zk_sync_done(int rc, const char *value, const void *data)
{
    if (rc != ZOK)
        pc_debug("zookeeper sync after connecting: %s", zerror(rc));
}

/* Global watcher: session events only (path watches use their own watchers). */
static void pc_zk_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    pc_zk *zk = ctx;
    if (type != ZOO_SESSION_EVENT || zh != zk->zh)
        return;
    if (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE) {
        /*
         * Every new connection starts with a sync, before the state callback
         * can send anything. The member it reached may lag the leader: the
         * client only refuses members older than the last zxid it saw, and
         * it never saw the zxid of a request whose answer was lost, nor any
         * zxid at all on a handle opened to re-attach. A server handles a
         * session's requests in order, so every read sent after this one
         * sees at least what the leader had committed when the connection
         * was made: a claim node created just before the loss cannot be
         * missed by the listing that looks for it, and taken for gone.
         */
        if (zoo_async(zh, "/", pc_zk_sync_done, NULL) != ZOK)
            pc_debug("zookeeper sync after connecting could not be sent");
        zk->state = PC_ZK_CONNECTED;
    } else if (state == ZOO_EXPIRED_SESSION_STATE)
        zk->state = PC_ZK_EXPIRED;
    else if (state == ZOO_AUTH_FAILED_STATE)
        zk->state = PC_ZK_AUTH_FAILED;
    else
        zk->state = PC_ZK_CONNECTING;
    pc_zk_report(zk);
}

static void pc_zk_io_event_drop(pc_zk *zk)
{
    if (zk->io) {
        event_del(zk->io);
        event_free(zk->io);
        zk->io = NULL;
    }
    zk->io_what = 0;
}

static void pc_zk_io_disarm(pc_zk *zk)
{
    pc_zk_io_event_drop(zk);
    if (zk->io_fd >= 0)
        close(zk->io_fd);
    zk->io_fd = -1;
    zk->io_libfd = -1;
}

/* Run zookeeper_process() for `events`; callbacks run inside. */
static void pc_zk_process(pc_zk *zk, int events)
{
    zk->depth++;
    zhandle_t *zh = zk->zh;
    int rc = zookeeper_process(zh, events);
    if (rc != ZOK && rc != ZNOTHING && zh == zk->zh && !zk->close_pending)
        pc_debug("zookeeper_process: %s", zerror(rc));
    /* A failed session ends in a state the watcher may not have seen yet. */
    if (zh == zk->zh && !zk->close_pending && is_unrecoverable(zh) == ZINVALIDSTATE &&
        zk->state != PC_ZK_EXPIRED && zk->state != PC_ZK_AUTH_FAILED) {
        zk->state = zoo_state(zh) == ZOO_AUTH_FAILED_STATE ? PC_ZK_AUTH_FAILED : PC_ZK_EXPIRED;
        pc_zk_report(zk);
    }
    zk->depth--;
    pc_zk_unwind(zk);
}

static void pc_zk_on_io(evutil_socket_t fd, short what, void *arg)
{
    pc_zk *zk = arg;
    int events = 0;
    if (what & EV_READ)
        events |= ZOOKEEPER_READ;
    if (what & EV_WRITE)
        events |= ZOOKEEPER_WRITE;
    /* Readiness of a socket the client has closed meanwhile must not be
     * taken for its new one's: then only let the client look (re-arm). */
    struct stat st;
    if (fstat(zk->io_libfd, &st) != 0 || st.st_ino != zk->io_ino)
        events = 0;
    pc_zk_process(zk, events);
}

static void pc_zk_on_timer(evutil_socket_t fd, short what, void *arg)
{
    pc_zk *zk = arg;
    /* zookeeper_interest() (in rearm) sends pings, detects timeouts, reconnects. */
    pc_zk_process(zk, 0);
}

static void pc_zk_on_kick(evutil_socket_t fd, short what, void *arg)
{
    pc_zk *zk = arg;
    zk->depth++;
    pc_zk_report(zk);
    zk->depth--;
    pc_zk_unwind(zk);
}

/*
 * Ask the client what it wants and arm the io event and the timer. A session
 * that ended (expired, auth failed) wants nothing until pc_zk_reopen().
 */
/*
 * When the loop has priorities (event_base_priority_init), ZooKeeper's events
 * take the most urgent one: pings and replies must not wait behind a burst of
 * client requests, or the server drops the connection for a missed deadline.
 */
static void pc_zk_prioritize(struct event_base *base, struct event *ev)
{
    if (event_base_get_npriorities(base) > 1)
        event_priority_set(ev, 0);
}

static void pc_zk_rearm(pc_zk *zk)
{
    int fd = -1, interest = 0;
    struct timeval tv = {0, 0};
    int rc = zookeeper_interest(zk->zh, &fd, &interest, &tv);
    if (rc == ZINVALIDSTATE || is_unrecoverable(zk->zh) == ZINVALIDSTATE) {
        pc_zk_io_disarm(zk);
        event_del(zk->timer);
        if (zk->state != PC_ZK_EXPIRED && zk->state != PC_ZK_AUTH_FAILED) {
            zk->state =
                zoo_state(zk->zh) == ZOO_AUTH_FAILED_STATE ? PC_ZK_AUTH_FAILED : PC_ZK_EXPIRED;
            event_active(zk->kick, EV_TIMEOUT, 0);
        }
        return;
    }
    if (rc != ZOK)
        pc_debug("zookeeper_interest: %s", zerror(rc));

    /*
     * When a send made inside a zoo_a* call fails, the client closes its
     * socket on the spot (nonblocking_send) without a CONNECTING event and
     * without completing the requests already sent: they would wait forever,
     * and the next CONNECTED event would look like no change. Re-attach to
     * the same session through a new handle instead: closing the old one
     * completes those requests with ZCLOSING, and the state goes through
     * CONNECTING and back to CONNECTED as for any connection loss.
     */
    int zs = zoo_state(zk->zh);
    if (zk->state == PC_ZK_CONNECTED && zk->depth == 0 && !zk->close_pending &&
        zs != ZOO_CONNECTED_STATE && zs != ZOO_READONLY_STATE) {
        clientid_t cid = *zoo_client_id(zk->zh);
        pc_info("zookeeper: connection dropped without an event; re-attaching to session 0x%llx",
                (unsigned long long)cid.client_id);
        if (pc_zk_reopen(zk, &cid, NULL) == 0)
            return; /* it armed the new handle */
    }

    short what = 0;
    if (interest & ZOOKEEPER_READ)
        what |= EV_READ;
    if (interest & ZOOKEEPER_WRITE)
        what |= EV_WRITE;
    ino_t ino = 0;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0)
        ino = st.st_ino;
    /*
     * The event is armed on a duplicate of the client's socket that only this
     * loop closes. The client closes its own fd whenever it drops a
     * connection, also inside a zoo_a* call made outside this loop, and the
     * number can then go to the next socket the process opens (an accepted
     * client connection) before the next re-arm. libevent, still holding an
     * event on that number, would take the new socket's event for a second
     * one on a known fd and never add it to epoll: that connection would
     * never be read. The duplicate also keeps the dropped socket's error
     * visible, so the drop is handled at once rather than on the next tick.
     * The client reopens its socket on reconnect, often under the same
     * number: the socket's inode tells a new one from the old.
     */
    if (fd != zk->io_libfd || ino != zk->io_ino || zk->io_fd < 0)
        pc_zk_io_disarm(zk);
    else if (what != zk->io_what)
        pc_zk_io_event_drop(zk);
    if (fd >= 0 && what && !zk->io) {
        if (zk->io_fd < 0) {
            zk->io_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
            zk->io_libfd = zk->io_fd >= 0 ? fd : -1;
            zk->io_ino = ino;
        }
        if (zk->io_fd >= 0)
            zk->io = event_new(zk->base, zk->io_fd, what | EV_PERSIST, pc_zk_on_io, zk);
        if (zk->io)
            pc_zk_prioritize(zk->base, zk->io);
        if (zk->io && event_add(zk->io, NULL) == 0) {
            zk->io_what = what;
        } else {
            pc_err("zookeeper: cannot watch fd %d; retrying on the next tick", fd);
            pc_zk_io_disarm(zk);
        }
    }
    long ms = (long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    if (ms > PC_ZK_MAX_TICK_MS || ms < 0)
        ms = PC_ZK_MAX_TICK_MS;
    struct timeval t = {ms / 1000, (ms % 1000) * 1000};
    event_add(zk->timer, &t);
}

static void pc_zk_free(pc_zk *zk)
{
    pc_zk_io_disarm(zk);
    if (zk->timer)
        event_free(zk->timer);
    if (zk->kick)
        event_free(zk->kick);
    free(zk->hosts);
    free(zk);
}

/*
 * Leave a callback context: finish a close or a handle replacement requested
 * inside it, then re-arm. Only at depth 0, so zookeeper_close() never runs
 * inside zookeeper_process() of the same handle.
 */
static void pc_zk_unwind(pc_zk *zk)
{
    if (zk->depth > 0)
        return;
    if (zk->retired) {
        zhandle_t *old = zk->retired;
        zk->retired = NULL;
        zk->depth++;
        zookeeper_close(old);
        zk->depth--;
    }
    if (zk->close_pending) {
        zk->depth++;
        if (zk->zh)
            zookeeper_close(zk->zh);
        zk->zh = NULL;
        zk->depth--;
        if (zk->retired) {
            zookeeper_close(zk->retired);
            zk->retired = NULL;
        }
        pc_zk_free(zk);
        return;
    }
    pc_zk_rearm(zk);
}

int pc_zk_handle_new(const char *hosts, watcher_fn watcher, int session_timeout_ms,
                     const clientid_t *resume, void *ctx, zhandle_t **out, pc_error *err)
{
    errno = 0;
    *out = zookeeper_init2(hosts, watcher, session_timeout_ms, resume, ctx, 0, pc_zk_log_line);
    if (!*out) {
        int rc = errno ? -errno : -EINVAL;
        return pc_error_set(err, rc, "zookeeper_init(%s): %s", hosts, strerror(-rc));
    }
    zoo_set_servers_resolution_delay(*out, PC_ZK_RESOLVE_DELAY_MS);
    return 0;
}

static zhandle_t *pc_zk_init(pc_zk *zk, const clientid_t *resume, pc_error *err, int *rc)
{
    zhandle_t *zh = NULL;
    *rc = pc_zk_handle_new(zk->hosts, pc_zk_watcher, zk->timeout_ms, resume, zk, &zh, err);
    return zh;
}

int pc_zk_open(struct event_base *base, const char *hosts, int session_timeout_ms,
               const clientid_t *resume, pc_zk_state_cb cb, void *ud, pc_zk **out, pc_error *err)
{
    if (!base || !hosts || !*hosts || !out || session_timeout_ms <= 0)
        return pc_error_set(err, -EINVAL, "pc_zk_open: bad arguments");
    *out = NULL;
    pc_zk_log_setup();
    pc_zk *zk = calloc(1, sizeof(*zk));
    if (!zk)
        return pc_error_set(err, -ENOMEM, "out of memory");
    zk->base = base;
    zk->timeout_ms = session_timeout_ms;
    zk->cb = cb;
    zk->ud = ud;
    zk->io_fd = -1;
    zk->io_libfd = -1;
    zk->state = PC_ZK_CONNECTING;
    zk->hosts = strdup(hosts);
    zk->timer = evtimer_new(base, pc_zk_on_timer, zk);
    zk->kick = event_new(base, -1, 0, pc_zk_on_kick, zk);
    if (!zk->hosts || !zk->timer || !zk->kick) {
        pc_zk_free(zk);
        return pc_error_set(err, -ENOMEM, "out of memory");
    }
    pc_zk_prioritize(base, zk->timer);
    pc_zk_prioritize(base, zk->kick);
    int rc = 0;
    zk->zh = pc_zk_init(zk, resume, err, &rc);
    if (!zk->zh) {
        pc_zk_free(zk);
        return rc;
    }
    pc_zk_rearm(zk);
    event_active(zk->kick, EV_TIMEOUT, 0);
    *out = zk;
    return 0;
}

void pc_zk_close(pc_zk *zk)
{
    if (!zk || zk->close_pending)
        return;
    zk->close_pending = true;
    zk->state = PC_ZK_CLOSED;
    pc_zk_unwind(zk);
}

int pc_zk_reopen(pc_zk *zk, const clientid_t *resume, pc_error *err)
{
    if (!zk || zk->close_pending)
        return pc_error_set(err, -EINVAL, "pc_zk_reopen: handle closed");
    clientid_t cid;
    if (resume) {
        cid = *resume; /* it may point into the handle about to be closed */
        resume = &cid;
    }
    int rc = 0;
    zhandle_t *zh = pc_zk_init(zk, resume, err, &rc);
    if (!zh)
        return rc;
    zhandle_t *old = zk->zh;
    zk->zh = zh;
    zk->state = PC_ZK_CONNECTING;
    pc_zk_io_disarm(zk);
    if (zk->depth > 0 && !zk->retired) {
        zk->retired = old; /* possibly inside its zookeeper_process(): close later */
    } else {
        zk->depth++;
        zookeeper_close(old);
        zk->depth--;
    }
    pc_zk_rearm(zk);
    event_active(zk->kick, EV_TIMEOUT, 0);
    return 0;
}

zhandle_t *pc_zk_handle(pc_zk *zk)
{
    return zk ? zk->zh : NULL;
}

void *pc_zk_owner(zhandle_t *zh)
{
    pc_zk *zk = zh ? (pc_zk *)zoo_get_context(zh) : NULL;
    return zk ? zk->ud : NULL;
}

pc_zk_state pc_zk_get_state(const pc_zk *zk)
{
    return zk ? zk->state : PC_ZK_CLOSED;
}

const clientid_t *pc_zk_client_id(const pc_zk *zk)
{
    return zk && zk->zh ? zoo_client_id(zk->zh) : NULL;
}

int pc_zk_recv_timeout(const pc_zk *zk)
{
    return zk && zk->zh ? zoo_recv_timeout(zk->zh) : 0;
}

void pc_zk_kick(pc_zk *zk)
{
    if (zk && !zk->close_pending)
        event_active(zk->kick, EV_TIMEOUT, 0);
}
