/* zkloop.h - a ZooKeeper session (libzookeeper_st) driven from a libevent loop. */
#ifndef PC_ZKLOOP_H
#define PC_ZKLOOP_H

#include <event2/event.h>
#include <zookeeper/zookeeper.h>

#include "error.h"

/*
 * One pc_zk owns one zhandle_t of the single-threaded ZooKeeper client. The
 * handle's socket is watched by the loop: after every zookeeper_process() and
 * on every timer tick the module asks zookeeper_interest() for the fd, the
 * events and the timeout it wants, and re-arms its libevent events (the fd
 * changes on every reconnect). Every completion and watcher of zoo_a* calls
 * made on pc_zk_handle() therefore runs on the loop thread, inside
 * event_base_dispatch(): no locks anywhere.
 *
 * Requests made with zoo_a* are sent at once when the session is connected.
 * A caller that issues a request from outside a ZooKeeper callback (a timer,
 * a socket event) may call pc_zk_kick() so that a request the client could
 * not send completely is flushed without waiting for the next tick; the tick
 * is at most PC_ZK_MAX_TICK_MS anyway.
 *
 * The ZooKeeper client's own log lines are routed into lib/common/log.h:
 * its errors at info level, the rest at debug level (and only when the
 * portco log level is debug). State changes are logged by this module.
 */

#define PC_ZK_MAX_TICK_MS 250

typedef struct pc_zk pc_zk;

typedef enum {
    PC_ZK_CONNECTING = 1,  /* no usable connection; the client keeps trying */
    PC_ZK_CONNECTED = 2,   /* session established, requests are served */
    PC_ZK_EXPIRED = 3,     /* the server expired the session: ephemerals and
                              watches are gone; call pc_zk_reopen() */
    PC_ZK_AUTH_FAILED = 4, /* authentication failed; terminal, like EXPIRED */
    PC_ZK_CLOSED = 5       /* pc_zk_close() was called (never reported) */
} pc_zk_state;

/*
 * Called on the loop thread on every state change (only when the state
 * differs from the last one reported). The first report after pc_zk_open()
 * or pc_zk_reopen() is CONNECTING, delivered from the loop, never from inside
 * pc_zk_open() itself. The callback may call pc_zk_reopen() or pc_zk_close()
 * on this handle.
 */
typedef void (*pc_zk_state_cb)(pc_zk *zk, pc_zk_state state, void *ud);

/*
 * Open a session with `hosts` ("h1:p1,h2:p2[/chroot]"), asking for
 * session_timeout_ms (the server clamps it to its [2, 20] tick bounds; see
 * pc_zk_recv_timeout()). `resume` is a saved clientid_t to re-attach to an
 * existing session, or NULL for a new one. `base`, `hosts` and `resume` are
 * borrowed (hosts is copied). On success *out is an owned handle released
 * with pc_zk_close().
 * Returns 0, -EINVAL (NULL base/hosts/out, timeout <= 0), -ENOMEM, or the
 * -errno of zookeeper_init() (e.g. -EINVAL for an unparsable host list).
 */
int pc_zk_open(struct event_base *base, const char *hosts, int session_timeout_ms,
               const clientid_t *resume, pc_zk_state_cb cb, void *ud, pc_zk **out, pc_error *err);

/*
 * zookeeper_close() and free. Completions still pending run inside this call
 * with rc ZCLOSING (pc_zk_err() maps it to PORTCO_EZKUNAVAIL); the state
 * callback is not called again. Ephemeral nodes of the session go away at
 * once (the close is sent to the server when connected). Accepts NULL. When
 * called from inside one of this handle's callbacks, the close completes as
 * soon as the callback returns.
 */
void pc_zk_close(pc_zk *zk);

/*
 * The current zhandle_t, for zoo_a* calls. Borrowed: it changes on
 * pc_zk_reopen(), so do not cache it across callbacks. Completions and
 * watchers run on the loop thread.
 */
zhandle_t *pc_zk_handle(pc_zk *zk);

/*
 * The `ud` given to pc_zk_open() for a handle of a pc_zk (its current or a
 * replaced one: the handle's context is the pc_zk), so that a watcher can
 * find its owner without a global. `zh` must come from a pc_zk.
 */
void *pc_zk_owner(zhandle_t *zh);

/* Last state reported to (or about to be reported to) the callback. */
pc_zk_state pc_zk_get_state(const pc_zk *zk);

/*
 * Replace the session with a new one (resume NULL), or re-attach to `resume`.
 * Meant for after EXPIRED / AUTH_FAILED; the old handle is closed (pending
 * completions get ZCLOSING). The state goes back to CONNECTING.
 * Returns 0, -ENOMEM, or the -errno of zookeeper_init().
 */
int pc_zk_reopen(pc_zk *zk, const clientid_t *resume, pc_error *err);

/* Session id and password of the current handle (id 0 before CONNECTED). Borrowed. */
const clientid_t *pc_zk_client_id(const pc_zk *zk);

/* Negotiated session timeout in ms (the requested one before CONNECTED). */
int pc_zk_recv_timeout(const pc_zk *zk);

/* Flush requests queued from outside a ZooKeeper callback (see above). */
void pc_zk_kick(pc_zk *zk);

/* "connecting", "connected", "expired", "auth-failed", "closed". */
const char *pc_zk_state_name(pc_zk_state state);

/*
 * The client library resolves the server names again each time it computes
 * its interest, by default: a getaddrinfo() (a netlink socket and an address
 * dump) and a read of /dev/urandom per event-loop turn, the largest single
 * cost of a busy agent. With this delay it does so at most every 10 s, and
 * always after a connection loss, so a DNS change is still followed.
 */
#define PC_ZK_RESOLVE_DELAY_MS 10000

/*
 * zookeeper_init2() with this library's settings: its log through
 * pc_zk_log_line() and PC_ZK_RESOLVE_DELAY_MS. Returns 0 with *out set, or
 * a negative errno.
 */
int pc_zk_handle_new(const char *hosts, watcher_fn watcher, int session_timeout_ms,
                     const clientid_t *resume, void *ctx, zhandle_t **out, pc_error *err);

/* The parts of this library in files of their own. */
#include "zklog.h"
#include "zkmkdirs.h"
#include "zkreq.h"

#endif
