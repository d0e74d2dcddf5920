/* client.c - libportco's connection to the agent: connect, one exchange per call, events. */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Events read during one call, delivered once the lock is released. */
typedef struct pc_evq {
    portco_event *ev;
    size_t n, cap;
} pc_evq;

void pc_client_log(portco_client *c, portco_log_level level, const char *fmt, ...)
{
    if (!c->log_cb)
        return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->log_cb(level, msg, c->log_ud);
}

int pc_client_status(portco_status *st, const pc_error *err)
{
    if (st) {
        st->code = err->code;
        snprintf(st->message, sizeof(st->message), "%s", err->msg);
    }
    return err->code;
}

/* Shut the stream down for good: the agent sees the connection end (and drops
 * connection-bound claims); later calls fail with ENOAGENT. */
static void pc_client_break(portco_client *c)
{
    if (!c->broken)
        shutdown(c->fd, SHUT_RDWR);
    c->broken = true;
}

static int pc_client_lost(portco_client *c, pc_error *err, const char *why)
{
    pc_client_break(c);
    pc_client_log(c, PORTCO_LOG_WARN, "connection to the agent at %s lost: %s", c->path, why);
    return pc_error_set(err, PORTCO_ENOAGENT,
                        "lost the connection to the portco agent at %s (%s): it stopped or "
                        "restarted; connect again",
                        c->path, why);
}

static void pc_evq_free(pc_evq *q)
{
    free(q->ev);
    q->ev = NULL;
    q->n = q->cap = 0;
}

/* Queue the event of a parsed message; unknown event names are skipped. */
static void pc_client_take_event(portco_client *c, const pc_answer *a, pc_evq *q)
{
    portco_event ev;
    memset(&ev, 0, sizeof(ev));
    if (strcmp(a->event, "conflict") == 0) {
        ev.type = PORTCO_EVENT_CONFLICT;
    } else if (strcmp(a->event, "reasserted") == 0) {
        ev.type = PORTCO_EVENT_REASSERTED;
    } else {
        pc_client_log(c, PORTCO_LOG_DEBUG, "ignoring unknown event '%s' from the agent", a->event);
        return;
    }
    pc_error e = {0};
    if (pc_claim_from_json(json_object_get(a->root, "claim"), &ev.claim, &e) != 0) {
        pc_client_log(c, PORTCO_LOG_WARN, "event '%s' with a bad claim: %s", a->event, e.msg);
        memset(&ev.claim, 0, sizeof(ev.claim));
        ev.claim.fd = -1;
    }
    /* ev.message has the size of the wire's and of a->message: nothing is cut. */
    snprintf(ev.message, sizeof(ev.message), "%s", a->message);
    if (!c->event_cb)
        return;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 4;
        portco_event *p = realloc(q->ev, cap * sizeof(*p));
        if (!p) {
            pc_client_log(c, PORTCO_LOG_ERROR, "out of memory: event '%s' dropped", a->event);
            return;
        }
        q->ev = p;
        q->cap = cap;
    }
    q->ev[q->n++] = ev;
}

/* Deliver queued events; called without the lock, so callbacks may call the library. */
static int pc_evq_dispatch(portco_client *c, pc_evq *q)
{
    int n = (int)q->n;
    if (n > 0) {
        pthread_mutex_lock(&c->mu);
        portco_event_cb cb = c->event_cb;
        void *ud = c->event_ud;
        pthread_mutex_unlock(&c->mu);
        for (size_t i = 0; cb && i < q->n; i++)
            cb(c, &q->ev[i], ud);
    }
    pc_evq_free(q);
    return n;
}

/*
 * Handle one line that is not the answer being waited for: queue it when it
 * is an event, drop it (with its descriptor) when it is a stray answer.
 * Returns 0, or PORTCO_EPROTO / PORTCO_EVERSION for an unparsable line.
 */
static int pc_client_side_line(portco_client *c, char *line, size_t len, pc_evq *q, pc_error *err)
{
    pc_answer a;
    int rc = pc_answer_parse(line, len, &a, err);
    if (rc != 0)
        return rc;
    if (a.fd) {
        int fd = pc_linebuf_take_fd(&c->lb);
        if (fd >= 0)
            close(fd);
    }
    if (a.is_event)
        pc_client_take_event(c, &a, q);
    else
        pc_client_log(c, PORTCO_LOG_WARN, "dropping an answer to request %lld that nobody awaits",
                      (long long)a.id);
    pc_answer_free(&a);
    return 0;
}

/* Map a frame-layer failure to the library's codes; marks the stream broken. */
static int pc_client_read_failed(portco_client *c, int rc, pc_error *err)
{
    if (rc == 0)
        return pc_client_lost(c, err, "end of stream");
    if (rc == PORTCO_ETOOBIG) {
        pc_client_break(c);
        return pc_error_set(err, PORTCO_EPROTO,
                            "the agent at %s sent a message longer than %d bytes; connection "
                            "closed",
                            c->path, PC_PROTO_MAX_LINE);
    }
    if (rc == -ECONNRESET || rc == -EPIPE || rc == -ENOTCONN)
        return pc_client_lost(c, err, portco_strerror(rc));
    if (rc == -ENOMEM)
        return pc_error_set(err, rc, "out of memory reading from the agent");
    pc_client_break(c);
    return pc_error_set(err, rc, "reading from the agent at %s: %s", c->path, portco_strerror(rc));
}

/* Milliseconds of CLOCK_MONOTONIC. */
static long long pc_client_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before `deadline` (-1: none) for one frame wait, >= 0. */
static int pc_client_left(long long deadline)
{
    if (deadline < 0)
        return -1;
    long long left = deadline - pc_client_now_ms();
    return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/* The call's bound ran out: the answer may still come, so the stream is
 * out of step with the requests; shut it down. */
static int pc_client_timed_out(portco_client *c, pc_error *err, int bound_ms, const char *doing)
{
    pc_client_break(c);
    pc_client_log(c, PORTCO_LOG_WARN, "no answer from the agent at %s within %d ms (%s)", c->path,
                  bound_ms, doing);
    return pc_error_set(err, -ETIMEDOUT,
                        "the portco agent at %s did not answer within %d ms (%s); it may be "
                        "stopped or overloaded. The connection is closed: connect again",
                        c->path, bound_ms, doing);
}

/* Make a received socket behave like a fresh one: blocking (it is already close-on-exec). */
static void pc_client_fix_fd(portco_client *c, int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
        pc_client_log(c, PORTCO_LOG_WARN, "cannot clear O_NONBLOCK on the received socket: %s",
                      portco_strerror(-errno));
}

/* The locked part of pc_client_call(); bound_ms -1: no bound. */
static int pc_client_exchange(portco_client *c, json_t *req, int bound_ms, pc_answer *ans,
                              int *fd_out, pc_evq *q, pc_error *err)
{
    long long deadline = bound_ms < 0 ? -1 : pc_client_now_ms() + bound_ms;
    if (c->broken)
        return pc_error_set(err, PORTCO_ENOAGENT,
                            "the connection to the portco agent at %s is closed after an earlier "
                            "error; connect again",
                            c->path);
    int64_t id = ++c->next_id;
    if (json_object_set_new(req, "v", json_integer(PC_PROTO_VERSION)) != 0 ||
        json_object_set_new(req, "id", json_integer(id)) != 0)
        return pc_error_set(err, -ENOMEM, "out of memory building the request");
    char *buf;
    size_t len;
    int rc = pc_json_line(req, &buf, &len);
    if (rc == PORTCO_ETOOBIG)
        return pc_error_set(err, rc, "request longer than %d bytes", PC_PROTO_MAX_LINE);
    if (rc != 0)
        return pc_error_set(err, rc, "cannot encode the request: %s", portco_strerror(rc));
    rc = pc_frame_send_all(c->fd, buf, len, -1, pc_client_left(deadline));
    free(buf);
    if (rc == -EPIPE || rc == -ECONNRESET || rc == -ENOTCONN)
        return pc_client_lost(c, err, portco_strerror(rc));
    if (rc == -ETIMEDOUT)
        return pc_client_timed_out(c, err, bound_ms, "sending the request");
    if (rc != 0) {
        pc_client_break(c); /* part of the line may have gone */
        return pc_error_set(err, rc, "sending to the agent at %s: %s", c->path,
                            portco_strerror(rc));
    }

    for (;;) {
        char *line;
        size_t llen;
        rc = pc_frame_read_line(&c->lb, c->fd, pc_client_left(deadline), &line, &llen);
        if (rc == -ETIMEDOUT)
            return pc_client_timed_out(c, err, bound_ms, "waiting for the answer");
        if (rc != 1)
            return pc_client_read_failed(c, rc, err);
        rc = pc_answer_parse(line, llen, ans, err);
        if (rc != 0) {
            pc_client_break(c);
            return rc;
        }
        /* Answers come in request order and this call holds the lock from
         * send to answer, so the first non-event answer without an id is
         * ours too (the agent could not read the id back). */
        if (ans->is_event || (ans->has_id && ans->id != id)) {
            bool fd = ans->fd;
            if (ans->is_event)
                pc_client_take_event(c, ans, q);
            else
                pc_client_log(c, PORTCO_LOG_WARN,
                              "dropping an answer to request %lld, waiting for %lld",
                              (long long)ans->id, (long long)id);
            pc_answer_free(ans);
            if (fd) {
                int stray = pc_linebuf_take_fd(&c->lb);
                if (stray >= 0)
                    close(stray);
            }
            continue;
        }
        break;
    }
    *fd_out = -1;
    if (ans->fd) {
        *fd_out = pc_linebuf_take_fd(&c->lb);
        if (*fd_out < 0) {
            pc_answer_free(ans);
            pc_client_break(c);
            return pc_error_set(err, PORTCO_EPROTO,
                                "the agent announced a socket but none arrived; connection closed");
        }
        pc_client_fix_fd(c, *fd_out);
    }
    /* Deliver events already buffered behind the answer now: an application
     * polling portco_fd() would not be woken for bytes already read. */
    char *line;
    size_t llen;
    while (pc_linebuf_next(&c->lb, &line, &llen) == 1) {
        pc_error side = {0};
        if (pc_client_side_line(c, line, llen, q, &side) != 0) {
            pc_client_log(c, PORTCO_LOG_WARN, "after answer %lld: %s", (long long)id, side.msg);
            pc_client_break(c);
            break;
        }
    }
    return 0;
}

int pc_client_call(portco_client *c, json_t *req, int extra_ms, pc_answer *ans, int *fd_out,
                   pc_error *err)
{
    pc_evq q = {0};
    memset(ans, 0, sizeof(*ans));
    *fd_out = -1;
    pthread_mutex_lock(&c->mu);
    int bound = __atomic_load_n(&c->timeout_ms, __ATOMIC_RELAXED);
    if (bound >= 0 && extra_ms != 0)
        bound = extra_ms < 0 ? -1 : extra_ms > INT_MAX - bound ? INT_MAX : bound + extra_ms;
    int rc = pc_client_exchange(c, req, bound, ans, fd_out, &q, err);
    pthread_mutex_unlock(&c->mu);
    pc_evq_dispatch(c, &q);
    return rc;
}

/* The client's bound from a timeout_ms option: 0 is the default. */
static int pc_client_bound(int timeout_ms)
{
    return timeout_ms == 0 ? PORTCO_DEFAULT_TIMEOUT_MS : timeout_ms;
}

/* True when every reserved word is zero. */
static bool pc_reserved_zero(const uint64_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (w[i] != 0)
            return false;
    return true;
}

/*
 * connect() within bound_ms (-1: none). A Unix stream connect waits while the
 * listener's queue is full (a stopped agent) for as long as SO_SNDTIMEO
 * allows, then fails with EAGAIN; the timeout is set for the connect only.
 * Returns 0 or -errno, -ETIMEDOUT when the time ran out.
 */
static int pc_client_connect_fd(int fd, const struct sockaddr_un *sa, int bound_ms)
{
    long long deadline = bound_ms < 0 ? -1 : pc_client_now_ms() + bound_ms;
    for (;;) {
        if (deadline >= 0) {
            int left = pc_client_left(deadline);
            if (left == 0)
                return -ETIMEDOUT;
            struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
            if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;
        }
        if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN && deadline >= 0)
            return -ETIMEDOUT;
        return -errno;
    }
    if (deadline >= 0) {
        struct timeval none = {0};
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none)) < 0)
            return -errno;
    }
    return 0;
}

/*
 * Check who serves the socket (SO_PEERCRED): root, the caller's own
 * effective uid, or the uid named by $PORTCO_AGENT_UID. Anyone else may have
 * taken the socket's path over. Returns 0, PORTCO_ENOAGENT (another user),
 * or -errno of getsockopt().
 */
static int pc_client_check_peer(int fd, const char *path, pc_error *err)
{
    struct ucred cr;
    socklen_t len = sizeof(cr);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
        return pc_error_set(err, -errno, "cannot read who serves the socket %s: %s", path,
                            portco_strerror(-errno));
    if (cr.uid == 0 || cr.uid == geteuid())
        return 0;
    const char *env = getenv("PORTCO_AGENT_UID");
    char *end;
    errno = 0;
    unsigned long want = env && env[0] ? strtoul(env, &end, 10) : 0;
    if (env && env[0] && !*end && errno == 0 && want == (unsigned long)cr.uid)
        return 0;
    return pc_error_set(err, PORTCO_ENOAGENT,
                        "the socket %s is served by uid %u, neither root nor this user (uid %u): "
                        "not trusted as the portco agent. If the agent runs as that user, set "
                        "PORTCO_AGENT_UID=%u",
                        path, (unsigned)cr.uid, (unsigned)geteuid(), (unsigned)cr.uid);
}

int portco_connect_with(const portco_connect_opts *opts, portco_client **out, portco_status *st)
{
    pc_error err = {0};
    if (!out) {
        pc_error_set(&err, PORTCO_EBADREQ, "portco_connect: out must not be NULL");
        return pc_client_status(st, &err);
    }
    *out = NULL;
    if (!opts) {
        pc_error_set(&err, PORTCO_EBADREQ, "portco_connect_with: opts must not be NULL");
        return pc_client_status(st, &err);
    }
    if (opts->timeout_ms < -1) {
        pc_error_set(&err, PORTCO_EBADREQ,
                     "timeout_ms must be -1 (no bound), 0 (the default, %d ms) or a positive "
                     "time",
                     PORTCO_DEFAULT_TIMEOUT_MS);
        return pc_client_status(st, &err);
    }
    if (!pc_reserved_zero(opts->reserved, sizeof(opts->reserved) / sizeof(opts->reserved[0]))) {
        pc_error_set(&err, PORTCO_EBADREQ,
                     "portco_connect_opts.reserved must be zero: zero the whole struct "
                     "(= {0}) before setting its fields");
        return pc_client_status(st, &err);
    }
    const char *path = opts->path;
    if (!path || !path[0])
        path = getenv("PORTCO_SOCKET");
    if (!path || !path[0])
        path = PORTCO_DEFAULT_SOCKET;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        pc_error_set(&err, -ENAMETOOLONG,
                     "agent socket path is longer than %zu bytes: %s; use a shorter path",
                     sizeof(sa.sun_path) - 1, path);
        return pc_client_status(st, &err);
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);

    portco_client *c = calloc(1, sizeof(*c));
    if (!c) {
        pc_error_set(&err, -ENOMEM, "out of memory");
        return pc_client_status(st, &err);
    }
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->timeout_ms = pc_client_bound(opts->timeout_ms);
    /* Blocking connect (a non-blocking one to a busy Unix socket fails with
     * EAGAIN at once); reads and writes use MSG_DONTWAIT and poll(), whatever
     * the mode. */
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        pc_error_set(&err, -errno, "socket: %s", portco_strerror(-errno));
        free(c);
        return pc_client_status(st, &err);
    }
    int rc = pc_client_connect_fd(c->fd, &sa, c->timeout_ms);
    if (rc != 0) {
        if (rc == -ENOENT || rc == -ECONNREFUSED || rc == -ENOTDIR)
            pc_error_set(&err, PORTCO_ENOAGENT,
                         "no portco agent at %s (%s): start portco-agent, or set PORTCO_SOCKET "
                         "to the socket of the running agent",
                         path, portco_strerror(rc));
        else if (rc == -ETIMEDOUT)
            pc_error_set(&err, rc,
                         "the portco agent at %s did not take the connection within %d ms; it "
                         "may be stopped or overloaded",
                         path, c->timeout_ms);
        else
            pc_error_set(&err, rc, "cannot connect to the portco agent at %s: %s", path,
                         portco_strerror(rc));
        close(c->fd);
        free(c);
        return pc_client_status(st, &err);
    }
    if (pc_client_check_peer(c->fd, path, &err) != 0) {
        close(c->fd);
        free(c);
        return pc_client_status(st, &err);
    }
    pthread_mutex_init(&c->mu, NULL);
    pc_linebuf_init(&c->lb, PC_PROTO_MAX_LINE, PC_FRAME_MAX_FDS);
    *out = c;
    return pc_client_status(st, &err);
}

int portco_connect(const char *path, portco_client **out, portco_status *st)
{
    portco_connect_opts o = {.path = path};
    return portco_connect_with(&o, out, st);
}

int portco_set_timeout(portco_client *c, int timeout_ms)
{
    if (!c || timeout_ms < -1)
        return PORTCO_EBADREQ;
    __atomic_store_n(&c->timeout_ms, pc_client_bound(timeout_ms), __ATOMIC_RELAXED);
    return 0;
}

void portco_close(portco_client *c)
{
    if (!c)
        return;
    close(c->fd);
    pc_linebuf_free(&c->lb);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int portco_fd(const portco_client *c)
{
    return c ? c->fd : PORTCO_EBADREQ;
}

void portco_set_event_cb(portco_client *c, portco_event_cb cb, void *userdata)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->event_cb = cb;
    c->event_ud = userdata;
    pthread_mutex_unlock(&c->mu);
}

void portco_set_log_cb(portco_client *c, portco_log_cb cb, void *userdata)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->log_cb = cb;
    c->log_ud = userdata;
    pthread_mutex_unlock(&c->mu);
}

/* Messages read per portco_poll() at most, so a chatty agent cannot keep it looping. */
#define PC_POLL_MAX_READS 64

/* The locked part of portco_poll(): read what is there, queue events. */
static int pc_client_poll_locked(portco_client *c, pc_evq *q, pc_error *err)
{
    if (c->broken)
        return pc_error_set(err, PORTCO_ENOAGENT,
                            "the connection to the portco agent at %s is closed; connect again",
                            c->path);
    for (int reads = 0;;) {
        char *line;
        size_t len;
        int rc = pc_linebuf_next(&c->lb, &line, &len);
        if (rc == 1) {
            rc = pc_client_side_line(c, line, len, q, err);
            if (rc != 0) {
                pc_client_break(c);
                return rc;
            }
            continue;
        }
        if (rc != 0)
            return pc_client_read_failed(c, rc, err);
        if (reads++ == PC_POLL_MAX_READS)
            return 0;
        ssize_t n = pc_linebuf_read(&c->lb, c->fd);
        if (n == -EAGAIN)
            return 0;
        if (n <= 0)
            return pc_client_read_failed(c, (int)n, err);
    }
}

int portco_poll(portco_client *c)
{
    if (!c)
        return PORTCO_EBADREQ;
    pc_evq q = {0};
    pc_error err = {0};
    pthread_mutex_lock(&c->mu);
    int rc = pc_client_poll_locked(c, &q, &err);
    pthread_mutex_unlock(&c->mu);
    int n = pc_evq_dispatch(c, &q);
    return rc != 0 ? rc : n;
}
