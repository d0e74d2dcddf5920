/* election.h - leader election among coordinators through ZooKeeper. */
#ifndef PC_ELECTION_H
#define PC_ELECTION_H

#include <stdbool.h>

#include "error.h"
#include "zkloop.h"

/*
 * Each candidate creates <root>/coordinator/election/n_<seq> (EPHEMERAL_SEQUENTIAL)
 * and lists the directory: the lowest sequence leads; every other candidate
 * watches only the node just below its own (no herd when the leader goes).
 * The leader then writes <root>/coordinator/leader (EPHEMERAL, JSON
 * {"id","host","pid","since","since_ms"}).
 *
 * A create whose answer was lost with the connection may still have made a
 * node: before creating, a candidate that lost such an answer looks for a
 * candidate node owned by its own session (ephemeralOwner) and adopts it.
 *
 * Everything runs on the loop thread of the pc_zk. The election object must
 * outlive the pc_zk it uses: close the pc_zk first (its pending completions
 * run with ZCLOSING), then free the election.
 */

typedef struct pc_elect pc_elect;

/* Leadership changed: leader true once this candidate leads (the leader node
 * is written), false when it stopped leading (session expired). */
typedef void (*pc_elect_cb)(pc_elect *e, bool leader, void *ud);

/*
 * A candidate named `id` (copied; shown in the leader node) under `root`.
 * Failed steps are retried on a timer of `base`. Nothing happens until
 * pc_elect_on_connected().
 * Returns 0, -EINVAL (bad root or id), -ENOMEM.
 */
int pc_elect_new(struct event_base *base, pc_zk *zk, const char *root, const char *id,
                 pc_elect_cb cb, void *ud, pc_elect **out, pc_error *err);

/* Free. Call after pc_zk_close(). Accepts NULL. */
void pc_elect_free(pc_elect *e);

/* The session is connected (first time, again after a disconnection, or a
 * new session after pc_elect_on_expired()): enter the election or re-check. */
void pc_elect_on_connected(pc_elect *e);

/* The session expired: the candidate node is gone; leadership (if any) is
 * lost at once and cb(false) runs. */
void pc_elect_on_expired(pc_elect *e);

bool pc_elect_is_leader(const pc_elect *e);

/* Full path of this candidate's node, or NULL while it has none. Borrowed. */
const char *pc_elect_node(const pc_elect *e);

#endif
