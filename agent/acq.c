/* acq.c - claim-engine operations: lifecycle, answers, withdrawal, claim data. */
#include "acq.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hold.h"
#include "lifetime.h"
#include "log.h"
#include "pools.h"
#include "probeq.h"
#include "release.h"

/* ------------------------------------------------------------------------ */
/* operation objects                                                        */

/* ZooKeeper completions carry the operation's id, not its pointer, when the
 * operation may be gone by then (watches); lookups are by id. */
pc_acq *pc_acq_find(pc_agent *a, uint64_t id)
{
    pc_acq *q;
    TAILQ_FOREACH(q, &a->acqs, link)
    {
        if (q->id == id)
            return q;
    }
    return NULL;
}

pc_acq *pc_acq_new(pc_agent *a, pc_acq_kind kind)
{
    pc_acq *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->agent = a;
    q->id = ++a->next_op_id;
    q->kind = kind;
    q->pidfd = -1;
    pc_holdset_init(&q->holds);
    TAILQ_INSERT_TAIL(&a->acqs, q, link);
    return q;
}

/* Is the port taken by a claim or an operation of this agent (other than q)? */
bool pc_port_busy_locally(pc_agent *a, pc_apool *p, uint16_t port, const pc_acq *q)
{
    pc_hold *h;
    TAILQ_FOREACH(h, &a->holds, link)
    {
        if (h->pool == p && h->port == port)
            return true;
    }
    pc_acq *o;
    TAILQ_FOREACH(o, &a->acqs, link)
    {
        if (o != q && o->pool == p && o->port == port && o->kind != PC_ACQ_DELETE)
            return true;
    }
    return false;
}

/* Drop q's mark on its candidate port. */
void pc_acq_unmark(pc_acq *q)
{
    if (q->pool && q->port) {
        uint16_t port = q->port;
        q->port = 0;
        if (!pc_port_busy_locally(q->agent, q->pool, port, q))
            pc_pool_set_inflight(q->pool, port, false);
    }
    q->port = 0;
}

void pc_acq_free(pc_acq *q)
{
    pc_probeq_remove(q);
    pc_acq_unmark(q);
    pc_holdset_close(&q->holds);
    if (q->pidfd >= 0)
        close(q->pidfd);
    pc_event_clear(&q->timer);
    TAILQ_REMOVE(&q->agent->acqs, q, link);
    free(q);
}

/* Answer the client (when still attached) and detach. */
void pc_acq_answer(pc_acq *q, json_t *ans, int fd)
{
    pc_conn *c = q->conn;
    pc_creq *r = q->creq;
    q->conn = NULL;
    q->creq = NULL;
    if (c && r)
        pc_conn_finish(c, r, ans, fd);
    else {
        json_decref(ans);
        if (fd >= 0)
            close(fd);
    }
}

/* Fail the operation: answer the error, withdraw our node if any, free. */
void pc_acq_fail(pc_acq *q, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (q->creq)
        pc_acq_answer(q, pc_answer_error(q->creq->req.id, q->creq->req.has_id, code, msg), -1);
    q->cancelled = true;
    pc_acq_withdraw(q);
}

bool pc_acq_zk_sent(pc_acq *q, bool sent)
{
    pc_zk_req_init(&q->zreq, &q->agent->zk_reqs, q);
    return pc_zk_req_sent(&q->zreq, sent ? ZOK : ZAPIERROR) == 0;
}

void pc_acq_zk_back(pc_acq *q)
{
    pc_zk_req_take(&q->zreq, NULL);
}

void pc_acq_zk_done(pc_acq *q)
{
    pc_acq_zk_back(q);
    q->state = PC_ST_IDLE;
}

bool pc_acq_withdrawn(pc_acq *q)
{
    if (!q->cancelled)
        return false;
    pc_acq_withdraw(q);
    return true;
}

bool pc_acq_zk_resume(pc_acq *q)
{
    pc_acq_zk_done(q);
    return !pc_acq_withdrawn(q);
}

bool pc_acq_zk_lost(int rc)
{
    /*
     * ZCLOSING: lib/zk replaced the handle to re-attach to the same session
     * (when the agent itself closes, its operations are freed anyway).
     * ZRUNTIMEINCONSISTENCY: the client read an answer out of order and
     * dropped the connection. Either way the request may or may not have
     * been applied, exactly as after a connection loss.
     */
    return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZCLOSING ||
           rc == ZRUNTIMEINCONSISTENCY;
}

/* Give up q: hand its node (if any) to a delete operation and free q. */
void pc_acq_withdraw(pc_acq *q)
{
    if (q->node[0]) {
        pc_delete_claim(q->agent, q->pool, q->node, q->port_dir, NULL, NULL);
        q->node[0] = '\0';
    }
    if (q->state == PC_ST_BUSY) {
        /* A completion is outstanding and will see `cancelled`. */
        q->cancelled = true;
        return;
    }
    pc_acq_answer(q, NULL, -1);
    pc_acq_free(q);
}

/* ------------------------------------------------------------------------ */
/* claim data and answers                                                   */

char *pc_claim_data(const pc_acq *q, pc_apool *p, const pc_hold *h, int *len)
{
    pc_agent *a = q->agent;
    time_t secs = (time_t)(q->since_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char since[32];
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *service = h ? h->service : q->req.service;
    const char *instance = h ? h->instance : q->req.instance;
    long long pid = h ? h->pid : q->peer_pid;
    long long uid = h ? h->uid : q->peer_uid;
    portco_lifetime lt = h ? h->lifetime : q->req.lifetime;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:s}", "host",
                          a->opts.host_id, "address", p->def.address, "proto",
                          pc_proto_name(p->def.proto), "service", service, "instance", instance,
                          "pid", (json_int_t)pid, "uid", (json_int_t)uid, "since", since,
                          "since_ms", (json_int_t)q->since_ms, "lifetime", pc_lifetime_name(lt));
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s)
        *len = (int)strlen(s);
    return s;
}

json_t *pc_hold_to_json(const pc_hold *h)
{
    portco_claim c;
    memset(&c, 0, sizeof(c));
    snprintf(c.pool, sizeof(c.pool), "%s", h->pool->name);
    c.port = h->port;
    snprintf(c.proto, sizeof(c.proto), "%s", pc_proto_name(h->pool->def.proto));
    snprintf(c.address, sizeof(c.address), "%s", h->pool->def.address);
    snprintf(c.host, sizeof(c.host), "%s", h->agent->opts.host_id);
    snprintf(c.service, sizeof(c.service), "%s", h->service);
    snprintf(c.instance, sizeof(c.instance), "%s", h->instance);
    snprintf(c.claim, sizeof(c.claim), "%s", h->name);
    c.czxid = h->czxid;
    c.pid = h->pid;
    c.since_ms = h->since_ms;
    return pc_claim_to_json(&c, (int)h->lifetime, (long long)h->uid);
}

void pc_acq_mark_inflight(pc_agent *a, pc_apool *p)
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
