/* client.h - libportco internals: the connection, its lock, and one request/answer exchange. */
#ifndef PC_CLIENT_H
#define PC_CLIENT_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "error.h"
#include "frame.h"
#include "message.h"
#include "portco.h"

/*
 * One connection to the agent. `mu` guards every field below it. A call
 * holds `mu` from sending its request until its answer is read, so calls
 * from several threads are serialised; the agent answers in order anyway.
 * Callbacks never run with `mu` held, except the log callback (see
 * portco_set_log_cb in portco.h).
 */
struct portco_client {
    pthread_mutex_t mu;
    int fd;
    int timeout_ms;  /* bound of each call, -1 for none; atomic, read without mu */
    char path[108];  /* socket path, for messages */
    int64_t next_id; /* last request id used */
    bool broken;     /* the stream is unusable: every call fails with ENOAGENT */
    pc_linebuf lb;   /* bytes and descriptors read from the agent */
    portco_event_cb event_cb;
    void *event_ud;
    portco_log_cb log_cb;
    void *log_ud;
};

/* Send a diagnostic to the log callback, if any. Call with c->mu held. */
void pc_client_log(portco_client *c, portco_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Send `req` (borrowed request object with "op" and its fields; "v" and "id"
 * are set here) and read until its answer. Events that arrive meanwhile are
 * delivered to the event callback before this returns, without the lock.
 * The exchange is bounded by the client's timeout plus `extra_ms` (the time
 * the agent is asked to wait; -1: no bound at all), counted from when the
 * lock is taken.
 *
 * Returns 0 with *ans filled (release it with pc_answer_free(); ans->ok may
 * be false: the agent's refusal is not a transport failure) and, when the
 * answer said "fd": true, *fd_out set to the received descriptor (owned by
 * the caller; else -1). Returns PORTCO_ENOAGENT (connection lost or closed
 * earlier), PORTCO_EPROTO (unparsable or oversize answer, missing
 * descriptor), PORTCO_EVERSION, -ETIMEDOUT, -ENOMEM, PORTCO_ETOOBIG (request
 * too long), or another -errno, with err filled. After PORTCO_EPROTO,
 * PORTCO_EVERSION, -ETIMEDOUT or a failed send or receive the connection is
 * shut down, since the stream cannot be trusted any more.
 */
int pc_client_call(portco_client *c, json_t *req, int extra_ms, pc_answer *ans, int *fd_out,
                   pc_error *err);

/* Copy err into the caller's status (may be NULL) and return err->code. */
int pc_client_status(portco_status *st, const pc_error *err);

#endif
