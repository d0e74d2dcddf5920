/* session.h - ZooKeeper session changes: resume after a connection loss, re-assert after expiry. */
#ifndef PC_SESSION_H
#define PC_SESSION_H

#include "acq.h"
#include "agent.h"

/* The ZooKeeper session is connected again: resume operations that lost
 * their connection; after a new session, re-assert every held claim. */
void pc_session_on_connected(pc_agent *a, bool new_session);

/*
 * The connection to ZooKeeper is lost (the session may still come back).
 * Acquires blocked on ZooKeeper get ZK_UNAVAILABLE if the connection is not
 * back within PC_DISCONNECT_ANSWER_MS; their nodes, if any were created, are
 * found by uuid and withdrawn once it is. PC_ZK_CONNECTED disarms it.
 */
#define PC_DISCONNECT_ANSWER_MS 5000
void pc_session_on_disconnected(pc_agent *a);

/* The session expired: operations in flight fail, held claims wait for the
 * next session to be re-asserted. */
void pc_session_on_expired(pc_agent *a);

/* Re-create h's claim node through the claim protocol (h->reasserting is
 * set): the answer is a "reasserted" or a "conflict" event. */
void pc_session_reassert(pc_agent *a, pc_hold *h);

/* The ZooKeeper handle was replaced within the same session (lib/zk
 * re-attaches after a silent connection drop): watches set on the old
 * handle are gone, so operations waiting on a predecessor list again. */
void pc_session_rewatch(pc_agent *a);

/* A re-assertion found its node owning the port (owned) or not: tell the
 * claimant, and on a conflict free the claim. q is finished with (freed, or
 * withdrawn when its claim is gone). */
void pc_session_reassert_done(pc_acq *q, bool owned);

#endif
