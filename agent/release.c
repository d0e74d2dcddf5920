/* release.c - ending claims: release requests, closed connections, shutdown. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acq.h"
#include "claims.h"
#include "hold.h"
#include "lifetime.h"
#include "log.h"
#include "pools.h"
#include "state.h"

/* ------------------------------------------------------------------------ */
/* release                                                                  */

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
    uint16_t port = h->port;
    bool reasserting = h->reasserting;
    pc_hold_free(h);
    if (reasserting && c && r) {
        pc_conn_finish(c, r, pc_answer_ok(r->req.id), -1);
        return;
    }
    pc_delete_claim(a, p, port, node, port_dir, c, r);
    pc_hold_poll_update(a);
}

void pc_claims_release(pc_hold *h)
{
    pc_release_answering(h, NULL, NULL);
}

void pc_claims_release_req(pc_conn *c, pc_creq *r)
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

void pc_claims_conn_closed(pc_conn *c)
{
    pc_agent *a = c->agent;
    pc_acq *q, *qn;
    for (q = TAILQ_FIRST(&a->acqs); q; q = qn) {
        qn = TAILQ_NEXT(q, link);
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
    for (h = TAILQ_FIRST(&a->holds); h; h = hn) {
        hn = TAILQ_NEXT(h, link);
        if (h->conn != c)
            continue;
        h->conn = NULL;
        if (h->lifetime == PORTCO_LIFETIME_CONNECTION)
            pc_claims_release(h);
    }
}

void pc_claims_release_all(pc_agent *a)
{
    pc_acq *q, *qn;
    for (q = TAILQ_FIRST(&a->acqs); q; q = qn) {
        qn = TAILQ_NEXT(q, link);
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
        pc_claims_release(h);
}

void pc_claims_free_all(pc_agent *a)
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

void pc_claims_mark_inflight(pc_agent *a, pc_apool *p)
{
    pc_hold *h;
    TAILQ_FOREACH(h, &a->holds, link)
    {
        if (h->pool == p)
            pc_pool_set_inflight(p, h->port, true);
    }
    pc_acq *q;
    TAILQ_FOREACH(q, &a->acqs, link)
    {
        if (q->pool == p && q->port && q->kind != PC_ACQ_DELETE)
            pc_pool_set_inflight(p, q->port, true);
    }
}
