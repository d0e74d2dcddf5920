/* release.c - ending claims: release requests, closed connections, shutdown. */
#include "release.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "hold.h"
#include "lifetime.h"
#include "log.h"
#include "pools.h"
#include "state.h"

void pc_hold_free(pc_hold *h)
{
    pc_agent *a = h->agent;
    pc_lifetime_unwatch(h);
    pc_holdset_close(&h->holds);
    TAILQ_REMOVE(&a->holds, h, link);
    pc_state_dirty(a);
    a->nholds--;
    if (!pc_port_busy_locally(a, h->pool, h->port, NULL))
        pc_pool_set_inflight(h->pool, h->port, false);
    /* An operation re-asserting this claim has nothing left to do. */
    pc_acq *q;
    TAILQ_FOREACH(q, &a->acqs, link)
    {
        if (q->hold == h) {
            q->hold = NULL;
            q->cancelled = true;
        }
    }
    free(h);
}

static void pc_release_answering(pc_hold *h, pc_conn *c, pc_creq *r)
{
    pc_agent *a = h->agent;
    char port_dir[PC_ZKP_PATH_MAX];
    snprintf(port_dir, sizeof(port_dir), "%s", h->path);
    char *slash = strrchr(port_dir, '/');
    if (slash)
        *slash = '\0';
    pc_info("releasing %s:%u (%s)", h->pool->name, h->port, h->name);
    a->counters.releases++;
    char node[PC_ZKP_PATH_MAX];
    snprintf(node, sizeof(node), "%s", h->path);
    pc_apool *p = h->pool;
    bool reasserting = h->reasserting;
    pc_hold_free(h);
    if (reasserting && c && r) {
        pc_conn_finish(c, r, pc_answer_ok(r->req.id), -1);
        return;
    }
    pc_delete_claim(a, p, node, port_dir, c, r);
    pc_hold_poll_update(a);
}

void pc_release_hold(pc_hold *h)
{
    pc_release_answering(h, NULL, NULL);
}

void pc_release_req(pc_conn *c, pc_creq *r)
{
    pc_agent *a = c->agent;
    pc_apool *p = pc_pools_find(a, r->req.pool);
    pc_hold *h;
    TAILQ_FOREACH(h, &a->holds, link)
    {
        if (strcmp(h->pool->name, r->req.pool) == 0 && h->port == r->req.port)
            break;
    }
    if (h && r->req.claim[0] && strcmp(h->name, r->req.claim) != 0) {
        /* The named claim ended; a successor's must not go in its place. */
        pc_conn_fail(c, r, PORTCO_ENOTOWNER,
                     "claim %s on port %d of pool %s has ended; the port is held by claim %s "
                     "now, which was not released",
                     r->req.claim, r->req.port, r->req.pool, h->name);
        return;
    }
    if (!h) {
        if (!p && a->pools_ready) {
            pc_conn_fail(c, r, PORTCO_ENOPOOL, "no pool named \"%s\" is published", r->req.pool);
            return;
        }
        pc_conn_fail(c, r, PORTCO_ENOTOWNER, "this agent (%s) holds no claim on port %d of pool %s",
                     a->opts.host_id, r->req.port, r->req.pool);
        return;
    }
    if (h->lifetime == PORTCO_LIFETIME_CONNECTION && h->conn != c) {
        pc_conn_fail(c, r, PORTCO_ENOTOWNER,
                     "port %d of pool %s is bound to another connection; it is released when "
                     "that connection closes",
                     r->req.port, r->req.pool);
        return;
    }
    if (h->lifetime != PORTCO_LIFETIME_CONNECTION && c->uid != 0 && c->uid != h->uid) {
        pc_conn_fail(c, r, PORTCO_ENOTOWNER,
                     "port %d of pool %s was claimed by uid %u; only that user or root may "
                     "release it",
                     r->req.port, r->req.pool, (unsigned)h->uid);
        return;
    }
    if (pc_zk_get_state(a->zk) != PC_ZK_CONNECTED) {
        /* Deleted once connected again; the claim ends here and now. */
        pc_release_answering(h, NULL, NULL);
        pc_conn_finish(c, r, pc_answer_ok(r->req.id), -1);
        return;
    }
    pc_release_answering(h, c, r);
}

void pc_release_conn_closed(pc_conn *c)
{
    pc_agent *a = c->agent;
    pc_acq *q, *qn;
    PC_TAILQ_FOREACH_SAFE(q, &a->acqs, link, qn)
    {
        if (q->conn != c)
            continue;
        q->conn = NULL;
        q->creq = NULL;
        if (q->kind == PC_ACQ_DELETE)
            continue; /* the delete goes on, unanswered */
        q->cancelled = true;
        if (q->state == PC_ST_WAIT || q->state == PC_ST_IDLE || q->state == PC_ST_RECOVER ||
            q->state == PC_ST_QUEUED)
            pc_acq_withdraw(q);
    }
    pc_hold *h, *hn;
    PC_TAILQ_FOREACH_SAFE(h, &a->holds, link, hn)
    {
        if (h->conn != c)
            continue;
        h->conn = NULL;
        if (h->lifetime == PORTCO_LIFETIME_CONNECTION)
            pc_release_hold(h);
    }
}

void pc_release_all(pc_agent *a)
{
    pc_acq *q, *qn;
    PC_TAILQ_FOREACH_SAFE(q, &a->acqs, link, qn)
    {
        if (q->kind == PC_ACQ_DELETE)
            continue;
        if (q->creq)
            pc_acq_answer(q,
                          pc_answer_error(q->creq->req.id, q->creq->req.has_id, PORTCO_ESHUTDOWN,
                                          "the agent is shutting down"),
                          -1);
        q->cancelled = true;
        if (q->state != PC_ST_BUSY)
            pc_acq_withdraw(q);
    }
    pc_hold *h;
    while ((h = TAILQ_FIRST(&a->holds)))
        pc_release_hold(h);
}

void pc_release_free_all(pc_agent *a)
{
    pc_acq *q;
    while ((q = TAILQ_FIRST(&a->acqs))) {
        q->conn = NULL;
        q->creq = NULL;
        pc_acq_free(q);
    }
    pc_hold *h;
    while ((h = TAILQ_FIRST(&a->holds)))
        pc_hold_free(h);
}

/* ------------------------------------------------------------------------ */
/* deleting a claim node (and then its port node)                           */

static void pc_del_dir_cb(int rc, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    pc_acq_zk_back(q);
    /* ZNOTEMPTY (another claim arrived) and ZNONODE are both fine. */
    pc_acq_answer(q, q->creq ? pc_answer_ok(q->creq->req.id) : NULL, -1);
    pc_acq_free(q);
}

void pc_del_node_cb(int rc, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    pc_agent *a = q->agent;
    pc_acq_zk_back(q);
    if (rc == ZCLOSING && (a->stopping || pc_zk_get_state(a->zk) == PC_ZK_CLOSED)) {
        pc_acq_free(q); /* the session closes: its ephemeral nodes go with it */
        return;
    }
    if (pc_acq_zk_lost(rc)) {
        /* The node may still exist: delete again once connected (no orphan). */
        q->state = PC_ST_REDELETE;
        return;
    }
    q->node[0] = '\0';
    if ((rc == ZOK || rc == ZNONODE) && q->port_dir[0] &&
        pc_acq_zk_sent(q,
                       zoo_adelete(pc_zk_handle(a->zk), q->port_dir, -1, pc_del_dir_cb, q) == ZOK))
        return;
    pc_acq_answer(q, q->creq ? pc_answer_ok(q->creq->req.id) : NULL, -1);
    pc_acq_free(q);
}

/*
 * The claim node and its port node went in one transaction. When that failed
 * (usually ZNOTEMPTY: another claim or waiter is on the port), delete the
 * claim node alone; the port node stays for the others.
 */
static void pc_del_multi_cb(int rc, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    pc_acq_zk_back(q);
    if (rc == ZOK) {
        q->node[0] = '\0';
        pc_acq_answer(q, q->creq ? pc_answer_ok(q->creq->req.id) : NULL, -1);
        pc_acq_free(q);
        return;
    }
    if (pc_acq_zk_lost(rc) || rc == ZCLOSING) {
        pc_del_node_cb(rc, data); /* the same recovery as a single delete */
        return;
    }
    q->multi_tried = true;
    pc_del_issue(q);
}

void pc_del_issue(pc_acq *q)
{
    pc_agent *a = q->agent;
    q->state = PC_ST_BUSY;
    if (!q->multi_tried && q->port_dir[0]) {
        zoo_op_t ops[2];
        zoo_delete_op_init(&ops[0], q->node, -1);
        zoo_delete_op_init(&ops[1], q->port_dir, -1);
        if (pc_acq_zk_sent(q, pc_batch_multi(a, 2, ops, q->mres, pc_del_multi_cb, q) == ZOK))
            return;
    }
    if (pc_acq_zk_sent(q, zoo_adelete(pc_zk_handle(a->zk), q->node, -1, pc_del_node_cb, q) == ZOK))
        return;
    /* Not connected now: the session either comes back (retry) or expires
     * (the ephemeral node goes with it). */
    q->state = PC_ST_REDELETE;
}

/*
 * Delete `node` and then `port_dir` when empty, as an operation of its own
 * that survives connection losses. When c/r are given, the release request
 * is answered once the node is gone.
 */
void pc_delete_claim(pc_agent *a, pc_apool *p, const char *node, const char *port_dir, pc_conn *c,
                     pc_creq *r)
{
    pc_acq *d = pc_acq_new(a, PC_ACQ_DELETE);
    if (!d) {
        pc_err("out of memory deleting %s", node);
        if (c && r)
            pc_conn_fail(c, r, -ENOMEM, "out of memory");
        return;
    }
    d->pool = p;
    d->conn = c;
    d->creq = r;
    snprintf(d->node, sizeof(d->node), "%s", node);
    snprintf(d->port_dir, sizeof(d->port_dir), "%s", port_dir);
    pc_del_issue(d);
}
