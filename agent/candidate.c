/* candidate.c - choosing the port an acquire tries next, and probing it on this host. */
#include "candidate.h"

#include "claims.h"
#include "hold.h"
#include "log.h"
#include "pools.h"
#include "probeq.h"

static void pc_acq_next(pc_acq *q);
static void pc_acq_start_specific(pc_acq *q);

void pc_candidate_run(pc_acq *q)
{
    pc_error err;
    switch (q->step) {
    case PC_STEP_SPECIFIC:
        pc_acq_start_specific(q);
        break;
    case PC_STEP_PROBE_CREATE:
        pc_error_clear(&err);
        if (pc_candidate_probe(q, false, &err) == 0) {
            pc_acq_create(q);
            return;
        }
        pc_holdset_close(&q->holds);
        pc_acq_unmark(q);
        pc_acq_next(q);
        break;
    default:
        pc_acq_next(q);
        break;
    }
}

/* Check a candidate from the second pass: claim it only when its port node
 * has no lock node left (a stale, empty port node). */
static void pc_acq_check_cb(int rc, const struct String_vector *sv, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    if (!pc_acq_zk_resume(q))
        return;
    bool empty =
        rc == ZNONODE || (rc == ZOK && pc_zkp_lowest(sv->data, sv->count, pc_zkp_claim_seq) < 0);
    if (rc == ZOK || rc == ZNONODE) {
        if (empty) {
            pc_probeq_defer(q, PC_STEP_PROBE_CREATE);
            return;
        }
        pc_acq_unmark(q);
        pc_probeq_defer(q, PC_STEP_NEXT);
        return;
    }
    pc_acq_fail(q, PORTCO_EZKUNAVAIL, "cannot list port %u: %s", q->port, zerror(rc));
}

/* Run the local probe on q->port, keeping its hold sockets in q. */
int pc_candidate_probe(pc_acq *q, bool owners, pc_error *err)
{
    int rc = pc_hold_probe(q->agent, q->pool, q->port, owners, &q->holds, err);
    if (rc < 0) {
        q->agent->counters.probe_refused++;
        return rc;
    }
    if (q->req.socket &&
        (rc = pc_holdset_prepare(&q->holds, q->req.listen, q->req.v6only, q->req.backlog, err)) < 0)
        pc_holdset_close(&q->holds);
    return rc;
}

/*
 * Make `port` q's candidate: mark it in flight and compute its port node.
 * Returns 1 when this agent already has a claim or an attempt on it (the
 * claim protocol decides then: the probe would only see our own hold), else
 * 0, after probing when `probe` is set, or the probe's refusal.
 */
static int pc_acq_take_candidate(pc_acq *q, uint16_t port, bool probe, bool owners, pc_error *err)
{
    pc_agent *a = q->agent;
    /* The in-flight bit is set while any claim or attempt of this agent is on
     * the port: test it first (O(1)), the lists only when it is set. */
    long idx = pc_pool_index(q->pool, port);
    bool local = idx >= 0 && pc_bit_get(q->pool->inflight, (size_t)idx) &&
                 pc_port_busy_locally(a, q->pool, port, q);
    q->port = port;
    pc_pool_set_inflight(q->pool, port, true);
    q->node[0] = '\0';
    q->seq = 0;
    q->czxid = 0;
    q->mkdirs = 0;
    q->multi_tried = false;
    q->sole = false;
    int rc = pc_zkp_port_dir(q->port_dir, sizeof(q->port_dir), a->opts.root, q->pool->name,
                             q->pool->def.scope == PC_SCOPE_HOST ? a->opts.host_id : NULL, port);
    if (rc < 0)
        return pc_error_set(err, PORTCO_EINTERNAL, "bad path for port %u", port);
    if (local)
        return 1;
    return probe ? pc_candidate_probe(q, owners, err) : 0;
}

static void pc_acq_next(pc_acq *q)
{
    pc_error err;
    for (;;) {
        bool second = false;
        uint16_t port;
        if (q->static_first) {
            port = q->static_first;
            q->static_first = 0;
        } else {
            port = pc_pool_scan_next(q->pool, &q->scan, q->req.service, &second);
        }
        if (port == 0) {
            pc_acq_fail(q, PORTCO_EEXHAUSTED,
                        "pool %s: all %zu ports are claimed or unusable on %s; release ports "
                        "or widen the pool",
                        q->pool->name, q->pool->nports, q->agent->opts.host_id);
            return;
        }
        pc_error_clear(&err);
        int rc = pc_acq_take_candidate(q, port, !second, false, &err);
        if (rc == 1) { /* held here: not a candidate for "any port" */
            pc_acq_unmark(q);
            continue;
        }
        if (rc < 0) {
            pc_debug("pool %s: skipping port %u: %s", q->pool->name, port, err.msg);
            pc_holdset_close(&q->holds);
            pc_acq_unmark(q);
            pc_probeq_defer(q, PC_STEP_NEXT); /* one probe per turn */
            return;
        }
        if (second) {
            q->state = PC_ST_BUSY;
            if (pc_acq_zk_sent(q, zoo_aget_children(pc_zk_handle(q->agent->zk), q->port_dir, 0,
                                                    pc_acq_check_cb, q) == ZOK))
                return;
            q->state = PC_ST_IDLE;
            pc_acq_fail(q, PORTCO_EZKUNAVAIL, "ZooKeeper is not reachable; retry later");
            return;
        }
        pc_acq_create(q);
        return;
    }
}

/* A specific port: probe it (unless this agent holds it), then claim it. */
static void pc_acq_start_specific(pc_acq *q)
{
    pc_error err;
    pc_error_clear(&err);
    int rc = pc_acq_take_candidate(q, (uint16_t)q->req.port, true, true, &err);
    if (rc < 0) {
        pc_acq_fail(q, rc == PORTCO_EUNUSABLE ? PORTCO_EUNUSABLE : PORTCO_EINTERNAL,
                    "port %d of pool %s is not usable on %s: %s", q->req.port, q->pool->name,
                    q->agent->opts.host_id, err.msg);
        return;
    }
    pc_acq_create(q);
}
