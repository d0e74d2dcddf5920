/* claims.h - the claim protocol: validate an acquire, create the claim node, wait, grant. */
#ifndef PC_CLAIMS_H
#define PC_CLAIMS_H

#include "acq.h"
#include "agent.h"
#include "conn.h"

/* Handle an acquire request (docs/protocol.md); answers through pc_conn_finish(). */
void pc_claims_acquire(pc_conn *c, pc_creq *r);

/* Create q's claim node under q->port_dir (in one transaction with the port
 * node when the port has none yet), then find out whether it owns the port. */
void pc_acq_create(pc_acq *q);

/* List the children of q->port_dir: the lowest claim owns the port, a
 * waiting request watches its predecessor. */
void pc_acq_list(pc_acq *q);

#endif
