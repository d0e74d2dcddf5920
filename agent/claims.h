/* claims.h - the claim engine: acquire, wait, release, re-assert after a session loss. */
#ifndef PC_CLAIMS_H
#define PC_CLAIMS_H

#include "agent.h"
#include "conn.h"

/* Handle an acquire request (docs/protocol.md); answers through pc_conn_finish(). */
void pc_claims_acquire(pc_conn *c, pc_creq *r);

/* Handle a release request. */
void pc_claims_release_req(pc_conn *c, pc_creq *r);

/*
 * The connection is going away: its operations stop answering (a waiting
 * acquire withdraws its claim node) and its connection-lifetime claims are
 * released. Other claims it made stay.
 */
void pc_claims_conn_closed(pc_conn *c);

/*
 * Release a held claim: close its hold sockets and pid watch, delete its
 * claim node, then its port node when empty. `h` is freed.
 */
void pc_claims_release(pc_hold *h);

/* Release every claim and cancel every operation (shutdown). */
void pc_claims_release_all(pc_agent *a);

/* Free every operation left after the session was closed (exit). */
void pc_claims_free_all(pc_agent *a);

/* Set the in-flight bits of a pool from the claims and operations on it
 * (after its definition was (re)installed). */
void pc_claims_mark_inflight(pc_agent *a, pc_apool *p);

/* The ZooKeeper session is connected again: resume operations that lost
 * their connection; after a new session, re-assert every held claim. */
void pc_claims_on_connected(pc_agent *a, bool new_session);

/*
 * The connection to ZooKeeper is lost (the session may still come back).
 * Acquires blocked on ZooKeeper get ZK_UNAVAILABLE if the connection is not
 * back within PC_DISCONNECT_ANSWER_MS; their nodes, if any were created, are
 * found by uuid and withdrawn once it is. PC_ZK_CONNECTED disarms it.
 */
#define PC_DISCONNECT_ANSWER_MS 5000
void pc_claims_on_disconnected(pc_agent *a);

/* The session expired: operations in flight fail, held claims wait for the
 * next session to be re-asserted. */
void pc_claims_on_expired(pc_agent *a);

/* Re-create h's claim node through the claim protocol (h->reasserting is
 * set): the answer is a "reasserted" or a "conflict" event. */
void pc_claims_reassert(pc_agent *a, pc_hold *h);

/* The ZooKeeper handle was replaced within the same session (lib/zk
 * re-attaches after a silent connection drop): watches set on the old
 * handle are gone, so operations waiting on a predecessor list again. */
void pc_claims_rewatch(pc_agent *a);

/* Build the claim object of an answer or event for a held claim (new reference). */
json_t *pc_hold_to_json(const pc_hold *h);

#endif
