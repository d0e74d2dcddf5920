/* probeq.h - the probe queue: operations wait here for their turn to probe a port. */
#ifndef PC_PROBEQ_H
#define PC_PROBEQ_H

#include "acq.h"

/*
 * The local probe reads /proc/net, which costs milliseconds per call on a
 * busy host. A burst of acquires must not starve the loop (ZooKeeper pings
 * included), so every probe runs from a queue drained at most
 * PC_PROBE_BUDGET_MS per loop iteration.
 */
#define PC_PROBE_BUDGET_MS 20

/* What an operation runs when its turn comes (candidate.c, pc_candidate_run). */
typedef enum pc_acq_step {
    PC_STEP_NEXT = 0,         /* take the next candidate of the scan */
    PC_STEP_SPECIFIC = 1,     /* probe and claim the port the request named */
    PC_STEP_PROBE_CREATE = 2, /* probe the current candidate, then create the claim node */
} pc_acq_step;

/*
 * Queue q (state PC_ST_QUEUED) to run `step` on a later loop turn. On
 * ENOMEM q fails (pc_acq_fail) and may be freed: the caller must not touch
 * q after this call.
 */
void pc_probeq_defer(pc_acq *q, pc_acq_step step);

/* Take q out of the queue when it is there (its state becomes PC_ST_IDLE). */
void pc_probeq_remove(pc_acq *q);

#endif
