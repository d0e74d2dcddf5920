/* conn.c - client connections: read lines, parse requests, answer in order, send fds. */
#include "conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "claims.h"
#include "listing.h"
#include "log.h"
#include "release.h"

/* Requests queued per connection before the agent stops reading from it. */
#define PC_CONN_MAX_QUEUED 64
/* Output buffered for a client that does not read; beyond it the client is dropped. */
#define PC_CONN_MAX_OUT (4u << 20)
/* recvmsg() calls per read wake-up, so one client cannot starve the others. */
#define PC_CONN_READS_PER_WAKE 8

static void pc_conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void pc_conn_write_cb(evutil_socket_t fd, short what, void *arg);
static void pc_conn_free_cb(evutil_socket_t fd, short what, void *arg);
static void pc_conn_run(pc_conn *c);

int pc_conn_start(pc_agent *a, int fd)
{
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    pc_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    c->agent = a;
    c->fd = fd;
    c->id = ++a->next_op_id;
    c->pid = cred.pid;
    c->uid = cred.uid;
    c->gid = cred.gid;
    TAILQ_INIT(&c->reqs);
    TAILQ_INIT(&c->out);
    /* The agent never accepts descriptors from clients: any sent are closed. */
    pc_linebuf_init(&c->in, PC_PROTO_MAX_LINE, 0);
    c->rev = event_new(a->base, fd, EV_READ | EV_PERSIST, pc_conn_read_cb, c);
    c->wev = event_new(a->base, fd, EV_WRITE | EV_PERSIST, pc_conn_write_cb, c);
    c->free_ev = event_new(a->base, -1, 0, pc_conn_free_cb, c);
    if (!c->rev || !c->wev || !c->free_ev || event_add(c->rev, NULL) < 0) {
        pc_event_clear(&c->rev);
        pc_event_clear(&c->wev);
        pc_event_clear(&c->free_ev);
        pc_linebuf_free(&c->in);
        free(c);
        close(fd);
        return -ENOMEM;
    }
    c->reading = true;
    TAILQ_INSERT_TAIL(&a->conns, c, link);
    pc_debug("connection %llu from pid %d uid %u", (unsigned long long)c->id, (int)c->pid,
             (unsigned)c->uid);
    return 0;
}

static void pc_outmsg_free(pc_outmsg *m)
{
    if (m->fd >= 0)
        close(m->fd);
    free(m->data);
    free(m);
}

static void pc_creq_free(pc_creq *r)
{
    json_decref(r->answer);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

/* Free a connection now. Only the loop (pc_conn_free_cb) and shutdown
 * (pc_conn_close_all) call it: no caller below them holds c, its requests,
 * its operations or its claims. */
static void pc_conn_free(pc_conn *c)
{
    pc_agent *a = c->agent;
    pc_debug("connection %llu closed", (unsigned long long)c->id);
    TAILQ_REMOVE(&a->conns, c, link);
    /* Detach operations first, so none answers into a freed request. */
    pc_release_conn_closed(c);
    pc_listing_conn_closed(c);
    pc_creq *r;
    while ((r = TAILQ_FIRST(&c->reqs))) {
        TAILQ_REMOVE(&c->reqs, r, link);
        pc_creq_free(r);
    }
    pc_outmsg *m;
    while ((m = TAILQ_FIRST(&c->out))) {
        TAILQ_REMOVE(&c->out, m, link);
        pc_outmsg_free(m);
    }
    event_free(c->rev);
    event_free(c->wev);
    event_free(c->free_ev);
    pc_linebuf_free(&c->in);
    close(c->fd);
    free(c);
}

static void pc_conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
    pc_conn_free(arg);
}

/*
 * Close the way redis's freeClientAsync() does: a connection is closed from
 * inside sends, and the callers of those sends still hold it, its request,
 * the operation being answered or a claim it owns. So closing only stops
 * the connection's reading and writing; it is freed, and its operations
 * detached and its claims released, from a callback of its own that the loop
 * runs after the current one has returned.
 */
void pc_conn_close(pc_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->reading = false;
    event_del(c->rev);
    event_del(c->wev);
    event_active(c->free_ev, EV_TIMEOUT, 0);
}

void pc_conn_close_all(pc_agent *a)
{
    pc_conn *c;
    while ((c = TAILQ_FIRST(&a->conns)))
        pc_conn_free(c);
}

/* Write as much buffered output as the socket takes. Returns 0, or a
 * negative code when the connection is closing (it was, or it is now, when
 * the socket failed). */
static int pc_conn_flush(pc_conn *c)
{
    if (c->closing)
        return -EPIPE;
    pc_outmsg *m;
    while ((m = TAILQ_FIRST(&c->out))) {
        int fd = m->off == 0 ? m->fd : -1;
        ssize_t n = pc_frame_sendmsg(c->fd, m->data + m->off, m->len - m->off, fd);
        if (n == -EAGAIN) {
            if (event_add(c->wev, NULL) < 0) {
                pc_warn("connection %llu: cannot wait for the socket to take more output; "
                        "closing it",
                        (unsigned long long)c->id);
                pc_conn_close(c);
                return -ENOMEM;
            }
            return 0;
        }
        if (n < 0) {
            pc_debug("connection %llu: send: %s", (unsigned long long)c->id, strerror((int)-n));
            pc_conn_close(c);
            return (int)n;
        }
        if (n > 0 && m->fd >= 0) {
            close(m->fd); /* the peer has its own copy now */
            m->fd = -1;
        }
        m->off += (size_t)n;
        c->out_bytes -= (size_t)n;
        if (m->off == m->len) {
            TAILQ_REMOVE(&c->out, m, link);
            pc_outmsg_free(m);
        }
    }
    event_del(c->wev);
    if (c->close_after)
        pc_conn_close(c); /* everything it was owed is sent */
    return 0;
}

/* Queue one message (consumed) with an optional fd (owned) and send what the
 * socket takes. Returns 0, or a negative code when the connection is closing
 * (the message and fd are then dropped). */
static int pc_conn_queue(pc_conn *c, json_t *msg, int fd)
{
    if (c->closing) {
        json_decref(msg);
        if (fd >= 0)
            close(fd);
        return -EPIPE;
    }
    char *line = NULL;
    size_t len = 0;
    int rc = msg ? pc_json_line(msg, &line, &len) : -ENOMEM;
    json_decref(msg);
    if (rc < 0) {
        pc_err("connection %llu: cannot encode an answer: %s", (unsigned long long)c->id,
               portco_strerror(rc));
        if (fd >= 0)
            close(fd);
        json_t *e = pc_answer_error(0, false, PORTCO_EINTERNAL, "the answer could not be encoded");
        if (!e || pc_json_line(e, &line, &len) < 0) {
            json_decref(e);
            pc_conn_close(c);
            return -ENOMEM;
        }
        json_decref(e);
        fd = -1;
    }
    pc_outmsg *m = calloc(1, sizeof(*m));
    if (!m) {
        free(line);
        if (fd >= 0)
            close(fd);
        pc_conn_close(c);
        return -ENOMEM;
    }
    m->data = line;
    m->len = len;
    m->fd = fd;
    TAILQ_INSERT_TAIL(&c->out, m, link);
    c->out_bytes += len;
    if (c->out_bytes > PC_CONN_MAX_OUT) {
        pc_warn("connection %llu: client does not read its answers; closing it",
                (unsigned long long)c->id);
        pc_conn_close(c);
        return -ENOBUFS;
    }
    return pc_conn_flush(c);
}

int pc_conn_send_event(pc_conn *c, json_t *ev)
{
    return pc_conn_queue(c, ev, -1);
}

int pc_conn_finish(pc_conn *c, pc_creq *r, json_t *answer, int fd)
{
    r->done = true;
    r->answer = answer;
    r->fd = fd;
    /* Defer the sending to the run loop so answers keep their order. */
    pc_conn_run(c);
    return c->closing ? -EPIPE : 0;
}

int pc_conn_fail(pc_conn *c, pc_creq *r, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pc_conn_finish(c, r, pc_answer_error(r->req.id, r->req.has_id, code, msg), -1);
}

/* Start the request at the head of the queue. It may finish at once. */
static void pc_conn_dispatch(pc_conn *c, pc_creq *r)
{
    r->started = true;
    if (r->parse_rc) {
        pc_conn_finish(c, r, pc_answer_error(r->req.id, r->req.has_id, r->parse_rc, r->perr.msg),
                       -1);
        return;
    }
    if (c->agent->stopping) {
        pc_conn_fail(c, r, PORTCO_ESHUTDOWN, "the agent is shutting down; retry with the next one");
        return;
    }
    /* The parser accepts only the operations of this table. */
    static void (*const handlers[])(pc_conn *, pc_creq *) = {
        [PC_OP_ACQUIRE] = pc_claims_acquire,
        [PC_OP_RELEASE] = pc_release_req,
        [PC_OP_LIST] = pc_listing_list,
        [PC_OP_STATUS] = pc_listing_status,
    };
    unsigned op = (unsigned)r->req.op;
    if (op < sizeof(handlers) / sizeof(handlers[0]) && handlers[op])
        handlers[op](c, r);
}

/*
 * Send finished answers at the head of the queue, then start the next
 * request. Re-entrant calls (a request finishing inside dispatch) only mark
 * the work; the outermost call loops.
 */
static void pc_conn_run(pc_conn *c)
{
    pc_agent *a = c->agent;
    if (c->closing)
        return; /* its requests are freed with it */
    if (a->conn_running == c) {
        a->conn_again = true;
        return;
    }
    pc_conn *saved = a->conn_running;
    bool saved_again = a->conn_again;
    a->conn_running = c;
    do {
        a->conn_again = false;
        pc_creq *r;
        while ((r = TAILQ_FIRST(&c->reqs)) && r->done) {
            TAILQ_REMOVE(&c->reqs, r, link);
            c->nreqs--;
            json_t *ans = r->answer;
            int fd = r->fd;
            r->answer = NULL;
            r->fd = -1;
            pc_creq_free(r);
            if (pc_conn_queue(c, ans, fd) < 0)
                goto out; /* closing: nothing more to send or start */
        }
        if (r && !r->started) {
            pc_conn_dispatch(c, r);
            a->conn_again = true;
        }
    } while (a->conn_again && !c->closing);
    if (!c->closing && !c->reading && c->nreqs < PC_CONN_MAX_QUEUED / 2 && !c->close_after) {
        event_add(c->rev, NULL);
        c->reading = true;
    }
out:
    a->conn_running = saved;
    a->conn_again = saved_again;
}

static void pc_conn_too_big(pc_conn *c)
{
    pc_warn("connection %llu: request longer than %d bytes; closing it", (unsigned long long)c->id,
            PC_PROTO_MAX_LINE);
    event_del(c->rev);
    c->reading = false;
    c->close_after = true;
    pc_creq *r = calloc(1, sizeof(*r));
    if (!r) {
        pc_conn_close(c);
        return;
    }
    r->fd = -1;
    r->parse_rc = PORTCO_ETOOBIG;
    pc_error_set(&r->perr, PORTCO_ETOOBIG,
                 "a request line is longer than %d bytes (newline included); the connection "
                 "is closed: send smaller requests",
                 PC_PROTO_MAX_LINE);
    TAILQ_INSERT_TAIL(&c->reqs, r, link);
    c->nreqs++;
    pc_conn_run(c);
}

static void pc_conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    pc_conn *c = arg;
    for (int i = 0; i < PC_CONN_READS_PER_WAKE; i++) {
        ssize_t n = pc_linebuf_read(&c->in, c->fd);
        if (n == -EAGAIN)
            break;
        if (n == 0 || (n < 0 && n != PORTCO_ETOOBIG)) {
            pc_conn_close(c);
            return;
        }
        char *line;
        size_t len;
        int rc;
        while ((rc = pc_linebuf_next(&c->in, &line, &len)) == 1) {
            if (len == 0)
                continue; /* blank lines are ignored */
            pc_creq *r = calloc(1, sizeof(*r));
            if (!r) {
                pc_conn_close(c);
                return;
            }
            r->fd = -1;
            r->parse_rc = pc_request_parse(line, len, &r->req, &r->perr);
            TAILQ_INSERT_TAIL(&c->reqs, r, link);
            c->nreqs++;
        }
        if (rc == PORTCO_ETOOBIG) {
            pc_conn_too_big(c);
            return;
        }
        if (c->nreqs >= PC_CONN_MAX_QUEUED) {
            event_del(c->rev);
            c->reading = false;
            break;
        }
    }
    pc_conn_run(c);
}

static void pc_conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    pc_conn_flush(arg);
}
