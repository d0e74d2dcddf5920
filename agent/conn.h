/* conn.h - one client connection on the agent's Unix socket: framing, ordering, answers. */
#ifndef PC_CONN_H
#define PC_CONN_H

#include <jansson.h>
#include <sys/queue.h>

#include "agent.h"

/* One request of a connection, answered in arrival order. */
typedef struct pc_creq {
    pc_request req;
    int parse_rc; /* 0, or the code of a request refused by the parser */
    pc_error perr;
    bool started;
    bool done;
    json_t *answer; /* owned once done */
    int fd;         /* descriptor to send with the answer, owned; -1 when none */
    TAILQ_ENTRY(pc_creq) link;
} pc_creq;
TAILQ_HEAD(pc_creq_list, pc_creq);

/* One buffered outgoing line. */
typedef struct pc_outmsg {
    char *data;
    size_t len, off;
    int fd; /* sent with the first byte, then closed; -1 when none */
    TAILQ_ENTRY(pc_outmsg) link;
} pc_outmsg;
TAILQ_HEAD(pc_outmsg_list, pc_outmsg);

struct pc_conn {
    pc_agent *agent;
    int fd;
    uint64_t id;
    pid_t pid; /* SO_PEERCRED */
    uid_t uid;
    gid_t gid;
    struct event *rev, *wev;
    pc_linebuf in;
    struct pc_creq_list reqs;
    size_t nreqs;
    struct pc_outmsg_list out;
    size_t out_bytes;
    bool reading;          /* read event armed */
    bool close_after;      /* close once the output is flushed (after MESSAGE_TOO_BIG) */
    bool closing;          /* closed: nothing is read or sent; freed by free_ev */
    struct event *free_ev; /* made active on close: frees the connection from the loop */
    TAILQ_ENTRY(pc_conn) link;
};

/*
 * Take over an accepted socket (already non-blocking and close-on-exec):
 * read its peer credentials and start serving it. Returns 0 or -errno (the
 * socket is closed on failure).
 */
int pc_conn_start(pc_agent *a, int fd);

/*
 * Sends never free anything: a connection that fails while sending is only
 * closed (see pc_conn_close), so `c`, `r`, and whatever the caller holds stay
 * valid until the caller returns to the loop.
 */

/*
 * Answer request `r` of connection `c`: `answer` is consumed; `fd` (owned,
 * -1 for none) rides with the first byte of the answer and is closed after
 * sending. Answers go out in request order; the next request starts after.
 * Returns 0 when the answer is sent or queued, or -EPIPE when the connection
 * is closing (before or after this answer): the client may not get it, and
 * what is not sent is dropped with the connection.
 */
int pc_conn_finish(pc_conn *c, pc_creq *r, json_t *answer, int fd);

/* Shorthand: answer with an error (code, printf message). Returns as
 * pc_conn_finish(). */
int pc_conn_fail(pc_conn *c, pc_creq *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Send an event line now (between answers). `ev` is consumed. Returns 0 when
 * the event is sent or queued, or a negative code when the connection is
 * closing, before or because of this send (-EPIPE, -ECONNRESET, -ENOBUFS for
 * a client that does not read, -ENOMEM): the event is dropped.
 */
int pc_conn_send_event(pc_conn *c, json_t *ev);

/*
 * Close a connection: it stops reading and sending at once, and is freed
 * from the loop after the running callback returns; its pending operations
 * are detached and its connection-lifetime claims released then. Until then
 * `c` stays valid (sends to it fail). Closing twice is harmless.
 */
void pc_conn_close(pc_conn *c);

/* Free every connection now, closing or not (shutdown: no caller holds one). */
void pc_conn_close_all(pc_agent *a);

#endif
