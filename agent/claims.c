/* claims.c - the claim protocol: validate, sequential node, lowest owns, wait, grant. */
#include "claims.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "candidate.h"
#include "grant.h"
#include "hold.h"
#include "lifetime.h"
#include "log.h"
#include "pools.h"
#include "probeq.h"
#include "release.h"
#include "session.h"
#include "state.h"

/*
 * How one acquire runs, and why in this order:
 *
 * 1. pc_claims_acquire (below) checks the request against ZooKeeper's state
 *    and the pool, makes the operation (acq.c, pc_acq_new) and queues it
 *    (probeq.c, pc_probeq_defer): probes are slow and run a few
 *    milliseconds per loop turn.
 * 2. On its turn, candidate.c picks the port (pc_candidate_run: the named
 *    port, or the next of the scan, statics first) and probes it on this
 *    host; the probe's sockets stay in q->holds, so that no local process
 *    takes the port while ZooKeeper is asked.
 * 3. pc_acq_create names a claim node by a fresh uuid. When the pool's cache
 *    shows no port node for the port (cluster pools), pc_acq_try_multi
 *    creates the port node and the claim in one transaction (batch.c joins
 *    those of one loop turn): on success the claim is the port's only one
 *    and owns it (pc_acq_multi_cb).
 * 4. Otherwise the claim is a sequential node under the existing port node
 *    (pc_acq_create_cb), and pc_acq_list reads the port's children: the
 *    lowest sequence owns the port (pc_acq_children_cb). A request that may
 *    wait watches only its predecessor (pc_acq_wait_on), so that a release
 *    wakes one waiter; a request for a named port that may not wait fails
 *    with TAKEN; a request for any port withdraws its node and tries the
 *    next candidate (step 2).
 * 5. The owner probes again when it waited (pc_acq_owned); then grant.c,
 *    pc_acq_grant, turns the operation into a held claim (pc_hold), hands
 *    the bound socket over and answers through conn.c.
 *
 * A lost connection leaves an operation in PC_ST_RECOVER: session.c lists
 * the port again once connected and finds a node whose create answer was
 * lost by its uuid. Releases and withdrawn nodes are deletes (release.c).
 */

static void pc_acq_owned(pc_acq *q);

/* Validate the request against the pool and start it. */
void pc_claims_acquire(pc_conn *c, pc_creq *r)
{
    pc_agent *a = c->agent;
    const pc_acquire_req *rq = &r->req.acquire;
    if (pc_zk_get_state(a->zk) != PC_ZK_CONNECTED) {
        pc_conn_fail(c, r, PORTCO_EZKUNAVAIL,
                     "the agent is not connected to ZooKeeper (%s); retry in a moment",
                     pc_zk_state_name(pc_zk_get_state(a->zk)));
        return;
    }
    if (!a->pools_ready) {
        pc_conn_fail(c, r, PORTCO_ENOTREADY,
                     "the agent has not loaded the pools from ZooKeeper yet; is the "
                     "coordinator publishing under %s/config/pools?",
                     a->opts.root);
        return;
    }
    pc_apool *p = pc_pools_find(a, rq->pool);
    if (!p) {
        pc_conn_fail(c, r, PORTCO_ENOPOOL,
                     "no pool named \"%s\" is published; `portco status` lists the pools",
                     rq->pool);
        return;
    }
    if (rq->port) {
        if (pc_pool_index(p, (uint16_t)rq->port) < 0) {
            pc_conn_fail(c, r, PORTCO_EOUTOFPOOL,
                         "port %d is not part of pool %s; ask for a port "
                         "of the pool or for any port (port 0)",
                         rq->port, p->name);
            return;
        }
        const char *owner = pc_pool_static_service(p, (uint16_t)rq->port);
        if (owner && strcmp(owner, rq->service) != 0) {
            pc_conn_fail(c, r, PORTCO_ESTATIC,
                         "port %d of pool %s is statically assigned to service \"%s\"", rq->port,
                         p->name, owner);
            return;
        }
    }
    pc_acq *q = pc_acq_new(a, PC_ACQ_ACQUIRE);
    if (!q) {
        pc_conn_fail(c, r, -ENOMEM, "out of memory");
        return;
    }
    q->conn = c;
    q->creq = r;
    q->req = *rq;
    q->peer_pid = c->pid;
    q->peer_uid = c->uid;
    q->pool = p;
    if (rq->lifetime == PORTCO_LIFETIME_PID) {
        pc_error err;
        int rc = pc_lifetime_open_pid(rq->hold_pid, &q->pidfd, &err);
        if (rc < 0) {
            pc_acq_fail(q, rc == PORTCO_EBADREQ ? PORTCO_EBADREQ : PORTCO_EINTERNAL, "%s", err.msg);
            return;
        }
    }
    if (rq->port) {
        q->specific = true;
        pc_probeq_defer(q, PC_STEP_SPECIFIC);
        return;
    }
    pc_pool_scan_begin(p, &q->scan);
    q->static_first = pc_pool_static_port(p, rq->service);
    pc_probeq_defer(q, PC_STEP_NEXT);
}

/* ------------------------------------------------------------------------ */
/* the claim protocol                                                       */

/*
 * The start of the completion of a create of q's claim node at `path`
 * (alone, or in a multi-op). Returns 1 when the node was created and q goes
 * on with it; 0 when the create failed with `rc`, which the caller handles;
 * -1 when this call has dealt with q (the answer was lost to a connection
 * loss: the node is looked for by its uuid once connected; or q was
 * cancelled and is withdrawn, maybe freed).
 */
static int pc_acq_create_done(pc_acq *q, int rc, const char *path)
{
    pc_acq_zk_done(q);
    if (rc == ZOK) {
        q->agent->counters.creates++;
        snprintf(q->node, sizeof(q->node), "%s", path);
        const char *slash = strrchr(path, '/');
        pc_zkp_claim_seq(slash ? slash + 1 : path, &q->seq);
    } else if (pc_acq_zk_lost(rc)) {
        q->agent->counters.lost_answers++;
        q->seq = -1;
        q->state = PC_ST_RECOVER;
        return -1;
    }
    if (pc_acq_withdrawn(q))
        return -1;
    return rc == ZOK ? 1 : 0;
}

static void pc_acq_exists_cb(int rc, const struct Stat *st, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    if (!pc_acq_zk_resume(q))
        return;
    if (pc_acq_zk_lost(rc)) {
        q->state = PC_ST_RECOVER;
        return;
    }
    if (rc != ZOK) {
        q->node[0] = rc == ZNONODE ? '\0' : q->node[0];
        pc_acq_fail(q, PORTCO_EZKUNAVAIL, "lost the claim node of port %u: %s", q->port,
                    zerror(rc));
        return;
    }
    q->czxid = st->czxid;
    if (q->sole)
        pc_acq_owned(q); /* created with its port node: nobody can precede it */
    else
        pc_acq_list(q);
}

/* We own the port: for a waiter the local probe runs again first. */
static void pc_acq_owned(pc_acq *q)
{
    if (q->czxid == 0) {
        /* Recovered after a connection loss: read the fencing token. */
        q->state = PC_ST_BUSY;
        if (pc_acq_zk_sent(
                q, zoo_aexists(pc_zk_handle(q->agent->zk), q->node, 0, pc_acq_exists_cb, q) == ZOK))
            return;
        q->state = PC_ST_RECOVER;
        return;
    }
    if (q->kind == PC_ACQ_REASSERT) {
        pc_session_reassert_done(q, true);
        return;
    }
    if (q->holds.n == 0) {
        pc_error err;
        pc_error_clear(&err);
        int rc = pc_candidate_probe(q, true, &err);
        if (rc < 0) {
            pc_acq_fail(q, rc == PORTCO_EUNUSABLE ? PORTCO_EUNUSABLE : PORTCO_EINTERNAL,
                        "port %u of pool %s is not usable on %s: %s", q->port, q->pool->name,
                        q->agent->opts.host_id, err.msg);
            return;
        }
    }
    pc_acq_grant(q);
}

static void pc_acq_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
    pc_acq *q = arg;
    pc_acq_fail(q, PORTCO_EWAITTIMEOUT,
                "port %u of pool %s was not released within %d ms; retry or wait longer", q->port,
                q->pool->name, q->req.wait_ms);
}

static void pc_pred_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    if (type == ZOO_SESSION_EVENT)
        return;
    pc_agent *a = pc_agent_of(zh);
    if (!a)
        return;
    a->counters.watch_wakeups++;
    pc_acq *q = pc_acq_find(a, (uint64_t)(uintptr_t)ctx);
    if (q && q->state == PC_ST_WAIT)
        pc_acq_list(q);
}

static void pc_pred_exists_cb(int rc, const struct Stat *st, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    if (!pc_acq_zk_resume(q))
        return;
    if (rc == ZOK) {
        q->state = PC_ST_WAIT; /* the watcher wakes us */
        return;
    }
    if (rc == ZNONODE) {
        pc_acq_list(q); /* gone already: look again */
        return;
    }
    if (pc_acq_zk_lost(rc)) {
        q->state = PC_ST_RECOVER;
        return;
    }
    pc_acq_fail(q, PORTCO_EZKUNAVAIL, "cannot watch the claim before ours: %s", zerror(rc));
}

/* Watch only the next-lower node, so a release wakes exactly one waiter. */
static void pc_acq_wait_on(pc_acq *q, const char *pred)
{
    pc_agent *a = q->agent;
    pc_holdset_close(&q->holds); /* do not block the holder's service while waiting */
    if (!q->timer && q->req.wait_ms > 0) {
        /* A wait without its deadline would outlast what the client asked. */
        struct timeval tv = {q->req.wait_ms / 1000, (q->req.wait_ms % 1000) * 1000};
        q->timer = evtimer_new(a->base, pc_acq_wait_timeout, q);
        if (!q->timer || evtimer_add(q->timer, &tv) < 0) {
            pc_acq_fail(q, -ENOMEM, "cannot arm the deadline of the wait for port %u", q->port);
            return;
        }
    }
    char path[PC_ZKP_PATH_MAX];
    if (pc_zkp_join(path, sizeof(path), q->port_dir, pred) < 0) {
        pc_acq_fail(q, PORTCO_EINTERNAL, "bad claim node name %s", pred);
        return;
    }
    q->state = PC_ST_BUSY;
    int rc = zoo_awexists(pc_zk_handle(a->zk), path, pc_pred_watcher, (void *)(uintptr_t)q->id,
                          pc_pred_exists_cb, q);
    if (pc_acq_zk_sent(q, rc == ZOK))
        return;
    q->state = PC_ST_RECOVER;
}

static void pc_acq_children_cb(int rc, const struct String_vector *sv, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    pc_agent *a = q->agent;
    pc_acq_zk_done(q);
    if (pc_acq_zk_lost(rc)) {
        q->state = PC_ST_RECOVER;
        return;
    }
    bool recovering = q->node[0] == '\0' && q->uuid[0] && q->seq < 0;
    if (rc != ZOK && rc != ZNONODE) {
        pc_acq_fail(q, PORTCO_EZKUNAVAIL, "cannot list the claims of port %u: %s", q->port,
                    zerror(rc));
        return;
    }
    int n = rc == ZOK ? sv->count : 0;
    char *const *names = rc == ZOK ? sv->data : NULL;
    if (recovering) {
        /* The create's answer was lost: our node exists when its name has our uuid. */
        for (int i = 0; i < n; i++)
            if (pc_zkp_claim_is_ours(names[i], q->uuid)) {
                pc_zkp_join(q->node, sizeof(q->node), q->port_dir, names[i]);
                pc_zkp_claim_seq(names[i], &q->seq);
                q->czxid = 0;
                a->counters.found_by_uuid++;
            }
        if (!q->node[0]) {
            q->seq = 0;
            if (!pc_acq_withdrawn(q))
                pc_acq_create(q); /* it was never created */
            return;
        }
    }
    if (pc_acq_withdrawn(q))
        return;
    const char *ours = strrchr(q->node, '/');
    ours = ours ? ours + 1 : q->node;
    bool present = false;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], ours) == 0)
            present = true;
    if (!present) {
        /* Our ephemeral node is gone (session lost): start this port over. */
        q->node[0] = '\0';
        q->seq = 0;
        pc_acq_create(q);
        return;
    }
    int low = pc_zkp_lowest(names, n, pc_zkp_claim_seq);
    if (low >= 0 && strcmp(names[low], ours) == 0) {
        pc_acq_owned(q);
        return;
    }
    a->counters.lost_races++;
    if (q->kind == PC_ACQ_REASSERT) {
        pc_session_reassert_done(q, false);
        return;
    }
    if (q->specific && q->req.wait_ms != 0) {
        int pred = pc_zkp_predecessor(names, n, pc_zkp_claim_seq, q->seq);
        if (pred >= 0) {
            pc_acq_wait_on(q, names[pred]);
            return;
        }
    }
    /* Someone else owns it: withdraw ours. */
    pc_delete_claim(a, q->pool, q->node, q->port_dir, NULL, NULL);
    q->node[0] = '\0';
    if (q->specific) {
        pc_acq_fail(q, PORTCO_ETAKEN,
                    "port %u of pool %s is claimed by another owner (%s); pick another port, "
                    "or ask to wait for it (portco acquire --wait SECS, or wait_ms in the "
                    "request)",
                    q->port, q->pool->name, low >= 0 ? names[low] : "?");
        return;
    }
    pc_holdset_close(&q->holds);
    pc_acq_unmark(q);
    pc_probeq_defer(q, PC_STEP_NEXT);
}

void pc_acq_list(pc_acq *q)
{
    pc_agent *a = q->agent;
    q->state = PC_ST_BUSY;
    if (pc_acq_zk_sent(q, zoo_aget_children(pc_zk_handle(a->zk), q->port_dir, 0, pc_acq_children_cb,
                                            q) == ZOK))
        return;
    q->state = PC_ST_RECOVER;
}

static void pc_acq_mkdirs_cb(int rc, void *ud)
{
    pc_acq *q = ud;
    if (!pc_acq_zk_resume(q))
        return;
    if (rc == -ENOENT && q->mkdirs < 5) {
        /* Another agent's release removed a node of the path meanwhile: again. */
        pc_acq_create(q);
        return;
    }
    if (rc < 0) {
        pc_acq_fail(q, rc == PORTCO_EZKUNAVAIL ? PORTCO_EZKUNAVAIL : PORTCO_EINTERNAL,
                    "cannot create %s: %s", q->port_dir, portco_strerror(rc));
        return;
    }
    pc_acq_create(q);
}

static void pc_acq_create_cb(int rc, const char *path, const struct Stat *st, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    pc_agent *a = q->agent;
    int done = pc_acq_create_done(q, rc, path);
    if (done < 0)
        return;
    if (done > 0) {
        q->czxid = st ? st->czxid : 0;
        pc_acq_list(q);
        return;
    }
    if (rc == ZNONODE && q->mkdirs < 5) {
        q->mkdirs++;
        q->state = PC_ST_BUSY;
        if (pc_acq_zk_sent(q, pc_zk_mkdirs(a->zk, q->port_dir, pc_acq_mkdirs_cb, q) == 0))
            return;
        q->state = PC_ST_IDLE;
        rc = ZCONNECTIONLOSS;
    }
    pc_acq_fail(q, pc_zk_err(rc) == PORTCO_EZKUNAVAIL ? PORTCO_EZKUNAVAIL : PORTCO_EINTERNAL,
                "cannot create a claim node under %s: %s", q->port_dir, zerror(rc));
}

/*
 * The port node and our claim were created in one transaction, or not at all.
 * On success ours is the port's only claim, so it owns the port without
 * listing the children. Its fencing token (czxid) is the transaction's zxid,
 * which the multi-op's empty write to the port node returned as that node's
 * czxid: no read is needed either.
 */
static void pc_acq_multi_cb(int rc, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    int done = pc_acq_create_done(q, rc, q->mpath);
    if (done < 0)
        return;
    if (done > 0) {
        q->sole = true;
        q->czxid = q->mstat.czxid;
        pc_acq_owned(q);
        return;
    }
    /* Usually ZNODEEXISTS (the port node is there: the cache was behind) or
     * ZNONODE (a parent is missing): the claim protocol's ordinary path. */
    pc_acq_create(q);
}

static bool pc_acq_try_multi(pc_acq *q, const char *path, const char *data, int len)
{
    pc_agent *a = q->agent;
    long idx = pc_pool_index(q->pool, q->port);
    if (q->multi_tried || idx < 0 || q->pool->def.scope != PC_SCOPE_CLUSTER ||
        pc_bit_get(q->pool->claimed, (size_t)idx))
        return false;
    q->multi_tried = true;
    zoo_op_t ops[3];
    zoo_create_op_init(&ops[0], q->port_dir, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL,
                       0);
    zoo_create_op_init(&ops[1], path, data, len, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL,
                       q->mpath, sizeof(q->mpath));
    /* The C client's create op returns no stat; this write does. Every node a
     * multi-op creates has the transaction's zxid as its czxid. */
    memset(&q->mstat, 0, sizeof(q->mstat));
    zoo_set_op_init(&ops[2], q->port_dir, NULL, -1, 0, &q->mstat);
    q->state = PC_ST_BUSY;
    q->seq = 0;
    if (pc_acq_zk_sent(q, pc_batch_multi(a, 3, ops, q->mres, pc_acq_multi_cb, q) == ZOK))
        return true;
    q->state = PC_ST_IDLE;
    return false;
}

void pc_acq_create(pc_acq *q)
{
    pc_agent *a = q->agent;
    char path[PC_ZKP_PATH_MAX];
    if (pc_zkp_new_uuid(q->uuid, sizeof(q->uuid)) < 0 ||
        pc_zkp_claim_path(path, sizeof(path), q->port_dir, q->uuid) < 0) {
        pc_acq_fail(q, PORTCO_EINTERNAL, "cannot name a claim node under %s", q->port_dir);
        return;
    }
    /* A re-asserted claim keeps the time it was first granted. */
    q->since_ms = q->hold ? q->hold->since_ms : pc_now_ms();
    int len = 0;
    char *data = pc_claim_data(q, q->pool, q->hold, &len);
    if (!data) {
        pc_acq_fail(q, -ENOMEM, "out of memory");
        return;
    }
    if (pc_acq_try_multi(q, path, data, len)) {
        free(data);
        return;
    }
    q->sole = false;
    q->state = PC_ST_BUSY;
    q->seq = 0;
    int rc = zoo_acreate2(pc_zk_handle(a->zk), path, data, len, &ZOO_OPEN_ACL_UNSAFE,
                          ZOO_EPHEMERAL_SEQUENTIAL, pc_acq_create_cb, q);
    free(data);
    if (pc_acq_zk_sent(q, rc == ZOK))
        return;
    q->state = PC_ST_IDLE;
    pc_acq_fail(q, PORTCO_EZKUNAVAIL, "ZooKeeper is not reachable (%s); retry later", zerror(rc));
}
