/* release.h - ending claims: release requests, closed connections, shutdown, node deletes. */
#ifndef PC_RELEASE_H
#define PC_RELEASE_H

#include "acq.h"
#include "agent.h"
#include "conn.h"

/* Handle a release request (docs/protocol.md); answers through pc_conn_finish(). */
void pc_release_req(pc_conn *c, pc_creq *r);

/*
 * The connection is going away: its operations stop answering (a waiting
 * acquire withdraws its claim node) and its connection-lifetime claims are
 * released. Other claims it made stay.
 */
void pc_release_conn_closed(pc_conn *c);

/*
 * Release a held claim: close its hold sockets and pid watch, delete its
 * claim node, then its port node when empty. `h` is freed.
 */
void pc_release_hold(pc_hold *h);

/* Release every claim and cancel every operation (shutdown). */
void pc_release_all(pc_agent *a);

/* Free every operation and claim left after the session was closed (exit). */
void pc_release_free_all(pc_agent *a);

/* Free a held claim's local state (no ZooKeeper request). */
void pc_hold_free(pc_hold *h);

/*
 * Delete `node`, then `port_dir` when it is left empty, as an operation of
 * its own (PC_ACQ_DELETE) that survives connection losses. When c and r are
 * given, the release request r is answered once the node is gone.
 */
void pc_delete_claim(pc_agent *a, pc_apool *p, const char *node, const char *port_dir, pc_conn *c,
                     pc_creq *r);

/* Issue (again) the delete of a PC_ACQ_DELETE operation. */
void pc_del_issue(pc_acq *q);

/* Completion of a delete operation's node delete, with ZooKeeper's code and
 * the operation as data. It takes back the operation's pending request
 * (pc_acq_zk_back()), so it may also be called directly for a delete that
 * has no request pending. */
void pc_del_node_cb(int rc, const void *data);

#endif
