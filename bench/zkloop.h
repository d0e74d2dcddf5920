/* zkloop.h - a poll loop that drives one or more single-threaded ZooKeeper sessions. */
#ifndef PB_ZKLOOP_H
#define PB_ZKLOOP_H

#include <stdbool.h>

#include <zookeeper/zookeeper.h>

/*
 * The benchmarks drive libzookeeper_st directly, without libevent, so that
 * the raw figures include nothing but the C client and the server: each
 * pb_zk_pump() asks every handle for its interest, polls all of them once,
 * and lets each process what is ready. Completions run inside the pump.
 */

/* Quiet the C client's own logging (it prints to stderr by default). */
void pb_zk_quiet(void);

/*
 * Open a session to `hosts` and wait up to timeout_ms until it is connected.
 * *out is an owned handle, closed with pb_zk_close(). Returns 0, -ETIMEDOUT,
 * -ECONNREFUSED (zookeeper_init failed), or a negative ZooKeeper code.
 */
int pb_zk_connect(const char *hosts, int session_timeout_ms, int timeout_ms, zhandle_t **out);

/* Close the session (its ephemeral nodes go with it). Accepts NULL. */
void pb_zk_close(zhandle_t *zh);

/*
 * One round: poll every handle for at most max_wait_ms and process what is
 * ready. Returns 0, or the negative ZooKeeper code of a handle that failed
 * for good (session expired, auth failed); connection losses the client
 * recovers from are not errors here, the calls in flight report them.
 */
int pb_zk_pump(zhandle_t *const *zh, int n, int max_wait_ms);

/* Pump one handle until *done is true or timeout_ms passes. Returns 0 or -ETIMEDOUT. */
int pb_zk_wait(zhandle_t *zh, const bool *done, int timeout_ms);

/* Blocking helpers built on the pump, for setup and cleanup. Return a ZooKeeper code (ZOK = 0). */
int pb_zk_create(zhandle_t *zh, const char *path, int mode, int timeout_ms);
int pb_zk_delete(zhandle_t *zh, const char *path, int timeout_ms);

/* Create every missing ancestor of path and path itself as persistent nodes. */
int pb_zk_mkdirs(zhandle_t *zh, const char *path, int timeout_ms);

#endif
