/* batch.h - the claim and release multi-ops of one loop turn, sent as one. */
#ifndef PC_BATCH_H
#define PC_BATCH_H

#include <zookeeper/zookeeper.h>

#include "agent.h"

/* Operations in one combined multi-op at most; more go in the next. */
#define PC_BATCH_MAX_OPS 192

/*
 * Like zoo_amulti(), but sent at the end of the loop turn (or once
 * PC_BATCH_MAX_OPS are waiting) together with the turn's other multi-ops, as
 * one transaction: one request, one log write on the server. The ops' paths
 * and data are copied; `results` (count entries) and the buffers and stats the
 * ops point to must live until `done` runs. `done` gets the transaction's
 * answer, so each caller's operations were applied exactly when the others'
 * were. A caller's failure path must therefore hold for a refusal caused by
 * another caller's operation (it is the same as for its own: nothing was
 * applied). The caller counts the request in a->zk_reqs as for
 * zoo_amulti(). Returns ZOK, or ZSYSTEMERROR when out of memory.
 */
int pc_batch_multi(pc_agent *a, int count, const zoo_op_t *ops, zoo_op_result_t *results,
                   void_completion_t done, const void *data);

/* Send what is waiting now: the end of a loop turn, or the session closes. */
void pc_batch_flush(pc_agent *a);

/* Free the batcher; call after the session is closed. */
void pc_batch_free(pc_agent *a);

#endif
