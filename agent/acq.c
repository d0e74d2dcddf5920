/* acq.c - claim-engine operations: lifecycle, answers, and node deletes that survive connection
 * loss. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acq.h"
#include "batch.h"
#include "claims.h"
#include "hold.h"
#include "lifetime.h"
#include "log.h"
#include "pools.h"

/* The agent, for predecessor watchers (they carry an operation id only). */
static pc_agent *pc_watch_agent;

pc_agent *pc_acq_agent(void)
{
    return pc_watch_agent;
}

int64_t pc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
    pc_watch_agent = a;
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

void pc_acq_unqueue(pc_acq *q)
{
    if (q->state == PC_ST_QUEUED) {
        TAILQ_REMOVE(&q->agent->ready, q, ready_link);
        q->state = PC_ST_IDLE;
    }
}

void pc_acq_free(pc_acq *q)
{
    pc_acq_unqueue(q);
    pc_acq_unmark(q);
    pc_holdset_close(&q->holds);
    if (q->pidfd >= 0)
        close(q->pidfd);
    if (q->timer)
        event_free(q->timer);
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

/* ------------------------------------------------------------------------ */
/* deleting a claim node (and then its port node)                           */

static void pc_del_dir_cb(int rc, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    q->agent->zk_pending--;
    /* ZNOTEMPTY (another claim arrived) and ZNONODE are both fine. */
    pc_acq_answer(q, q->creq ? pc_answer_ok(q->creq->req.id) : NULL, -1);
    pc_acq_free(q);
}

void pc_del_node_cb(int rc, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    pc_agent *a = q->agent;
    a->zk_pending--;
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
        zoo_adelete(pc_zk_handle(a->zk), q->port_dir, -1, pc_del_dir_cb, q) == ZOK) {
        a->zk_pending++;
        return;
    }
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
    pc_agent *a = q->agent;
    if (rc == ZOK) {
        a->zk_pending--;
        q->node[0] = '\0';
        pc_acq_answer(q, q->creq ? pc_answer_ok(q->creq->req.id) : NULL, -1);
        pc_acq_free(q);
        return;
    }
    if (pc_acq_zk_lost(rc) || rc == ZCLOSING) {
        pc_del_node_cb(rc, data); /* the same recovery as a single delete */
        return;
    }
    a->zk_pending--;
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
        if (pc_batch_multi(a, 2, ops, q->mres, pc_del_multi_cb, q) == ZOK) {
            a->zk_pending++;
            return;
        }
    }
    int rc = zoo_adelete(pc_zk_handle(a->zk), q->node, -1, pc_del_node_cb, q);
    if (rc == ZOK) {
        a->zk_pending++;
        return;
    }
    /* Not connected now: the session either comes back (retry) or expires
     * (the ephemeral node goes with it). */
    q->state = PC_ST_REDELETE;
}

/*
 * Delete `node` and then `port_dir` when empty, as an operation of its own
 * that survives connection losses. When c/r are given, the release request
 * is answered once the node is gone.
 */
void pc_delete_claim(pc_agent *a, pc_apool *p, uint16_t port, const char *node,
                     const char *port_dir, pc_conn *c, pc_creq *r)
{
    pc_acq *d = pc_acq_new(a, PC_ACQ_DELETE);
    if (!d) {
        pc_err("out of memory deleting %s", node);
        if (c && r)
            pc_conn_fail(c, r, -ENOMEM, "out of memory");
        return;
    }
    d->pool = p;
    (void)port;
    d->conn = c;
    d->creq = r;
    snprintf(d->node, sizeof(d->node), "%s", node);
    snprintf(d->port_dir, sizeof(d->port_dir), "%s", port_dir);
    pc_del_issue(d);
}

/* Give up q: hand its node (if any) to a delete operation and free q. */
void pc_acq_withdraw(pc_acq *q)
{
    if (q->node[0]) {
        pc_delete_claim(q->agent, q->pool, q->port, q->node, q->port_dir, NULL, NULL);
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
