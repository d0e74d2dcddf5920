/* probeq.c - the probe queue: runs queued operations a few milliseconds per loop turn. */
#include "probeq.h"

#include <errno.h>

#include "batch.h"
#include "candidate.h"

static void pc_probeq_cb(evutil_socket_t fd, short what, void *arg)
{
    pc_agent *a = arg;
    int64_t end = pc_mono_ms() + PC_PROBE_BUDGET_MS;
    pc_acq *q;
    while ((q = TAILQ_FIRST(&a->ready)) && pc_mono_ms() < end) {
        pc_probeq_remove(q);
        pc_candidate_run(q);
    }
    if (!TAILQ_EMPTY(&a->ready)) {
        struct timeval tv = {0, 0};
        evtimer_add(a->ready_ev, &tv); /* after a pass through poll: I/O goes first */
    }
    pc_batch_flush(a); /* this pass's claims, in one transaction */
    pc_zk_kick(a->zk);
}

void pc_probeq_defer(pc_acq *q, pc_acq_step step)
{
    pc_agent *a = q->agent;
    if (!a->ready_ev)
        a->ready_ev = evtimer_new(a->base, pc_probeq_cb, a);
    if (!a->ready_ev) {
        pc_acq_fail(q, -ENOMEM, "out of memory");
        return;
    }
    q->step = step;
    q->state = PC_ST_QUEUED;
    TAILQ_INSERT_TAIL(&a->ready, q, ready_link);
    if (!evtimer_pending(a->ready_ev, NULL)) {
        struct timeval tv = {0, 0};
        evtimer_add(a->ready_ev, &tv);
    }
}

void pc_probeq_remove(pc_acq *q)
{
    if (q->state == PC_ST_QUEUED) {
        TAILQ_REMOVE(&q->agent->ready, q, ready_link);
        q->state = PC_ST_IDLE;
    }
}
