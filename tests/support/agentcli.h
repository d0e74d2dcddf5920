/* agentcli.h - a raw protocol connection to portco-agent for tests (lib/proto, not libportco). */
#ifndef PT_AGENTCLI_H
#define PT_AGENTCLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentctl.h"
#include "frame.h"
#include "message.h"
#include "portco.h"

/*
 * A connection that speaks the agent's line protocol directly, so a test can
 * send what libportco never would and see every event. Events that arrive
 * while an answer is awaited are counted in the connection.
 *
 * The pt_cli_* functions do not assert: they return codes and are safe in
 * client threads (one pt_cli per thread). The short forms at the end
 * (pt_connect(), pt_call(), ...) assert, for Criterion tests.
 *
 * File descriptors the agent passes with an answer stay queued in `in` for
 * the caller to take with pc_linebuf_take_fd(); pt_cli_close() closes the
 * ones left.
 */
typedef struct pt_cli {
    int fd;
    pc_linebuf in;
    int64_t next_id;
    int conflicts;  /* "conflict" events received */
    int reasserted; /* "reasserted" events received */
    char last_event[512];
    int conflict_ports[32]; /* ports named by the first conflict events */
    int nconflict_ports;
} pt_cli;

/* Connect to an agent socket. Returns 0 or -errno (c->fd is -1 then). */
int pt_cli_open(pt_cli *c, const char *sock);

/* Close the connection (the agent ends its connection claims). Idempotent. */
void pt_cli_close(pt_cli *c);

/* Send one line as it is (it must end with a newline). 0 or -errno. */
int pt_cli_send(pt_cli *c, const char *line, int timeout_ms);

/*
 * Read the next answer into *a (free with pc_answer_free), counting and
 * skipping events. Returns 1, 0 at end of stream, -ETIMEDOUT, or
 * PORTCO_EPROTO for a line that is not a protocol message.
 */
int pt_cli_next(pt_cli *c, pc_answer *a, int timeout_ms);

/*
 * Send req (consumed; "v" and "id" added) and wait for its answer into *a
 * (free with pc_answer_free). Returns 0, -ETIMEDOUT, -EPIPE (connection
 * closed), PORTCO_EPROTO (not a message, or the answer of another request).
 */
int pt_cli_call(pt_cli *c, json_t *req, pc_answer *a, int timeout_ms);

/*
 * acquire with the given lifetime ("connection", "explicit"); port 0 for
 * any. Returns the port granted, or a negative code (the agent's error code,
 * or a transport error of pt_cli_call). out (may be NULL) gets the claim,
 * msg (may be NULL) the error message.
 */
int pt_cli_acquire(pt_cli *c, const char *pool, const char *service, int port, const char *lifetime,
                   portco_claim *out, char *msg, size_t mlen);

/* release; 0 or a negative code. */
int pt_cli_release(pt_cli *c, const char *pool, int port);

/* status: *out gets the answer object (owned). Returns 0 or a negative code. */
int pt_cli_status(pt_cli *c, json_t **out);

/* A counter of status ("conflicts", ...) or an integer field of its own
 * ("claims", "holding"); -1 on error. */
long long pt_cli_counter(pt_cli *c, const char *name);

/* The "zookeeper" field of status into buf ("connected", ...). */
int pt_cli_zk_state(pt_cli *c, char *buf, size_t len);

/* True once status reports ZooKeeper `want` ("connected", "connecting",
 * ...), false when timeout_ms passed first. */
bool pt_cli_wait_zk_state(pt_cli *c, const char *want, int timeout_ms);

/* Read events for up to timeout_ms (stops early once `until` events of any
 * kind have arrived in total). Returns the number of events counted so far. */
int pt_cli_events(pt_cli *c, int timeout_ms, int until);

/* ---- asserting short forms, for Criterion tests ---- */

/* Connect to ag's socket. */
void pt_connect(pt_cli *c, const pt_agent *ag);

/* pt_cli_close(). */
void pt_close(pt_cli *c);

/* Send a raw line (with its newline). */
void pt_send_raw(pt_cli *c, const char *line);

/* pt_cli_next(), asserting that the line read is a protocol message. */
int pt_read_answer(pt_cli *c, pc_answer *a, int timeout_ms);

/* Read the next line, which must be an event (counted as pt_cli_next()
 * counts them): 1 with the event in *a, 0 at end of stream, -ETIMEDOUT. */
int pt_read_event(pt_cli *c, pc_answer *a, int timeout_ms);

/* Send a request object (consumed) and wait for its answer (20 s). */
void pt_call(pt_cli *c, json_t *req, pc_answer *a);

/* An acquire request for `port` of pool (0: any). */
json_t *pt_acq_req(const char *pool, const char *service, int port);

/* Send an acquire request: the port granted (its claim in *out), or the
 * agent's error code. */
int pt_acquire(pt_cli *c, json_t *req, portco_claim *out);

/* Send an acquire of `port` that may wait (wait_ms, -1: without limit) for
 * service "w"; its answer is read later with pt_read_grant(). */
void pt_send_acquire(pt_cli *c, const char *pool, int port, int wait_ms);

/* The answer to an acquire sent before: as pt_acquire(). */
int pt_read_grant(pt_cli *c, int timeout_ms, portco_claim *out);

/* release: 0 or the agent's error code. */
int pt_release(pt_cli *c, const char *pool, int port);

/* A counter of the agent's status (as pt_cli_counter()). */
json_int_t pt_counter(pt_cli *c, const char *name);

#endif
