/* claims.c - the claim protocol: candidate, probe, sequential node, lowest owns, wait, release. */
#include "claims.h"

#include <errno.h>
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

typedef enum pc_acq_kind {
    PC_ACQ_ACQUIRE = 0,  /* a client's acquire */
    PC_ACQ_REASSERT = 1, /* re-create a held claim's node after a session expiry */
    PC_ACQ_DELETE = 2,   /* delete a claim node, then its port node */
} pc_acq_kind;

typedef enum pc_acq_state {
    PC_ST_IDLE = 0, /* between steps, nothing outstanding */
    PC_ST_BUSY,     /* a ZooKeeper request is outstanding */
    PC_ST_WAIT,     /* watching the predecessor */
    PC_ST_RECOVER,  /* connection lost: list the port's children when connected */
    PC_ST_REDELETE, /* connection lost during a delete: delete again when connected */
} pc_acq_state;

struct pc_acq {
    pc_agent *agent;
    uint64_t id;
    pc_acq_kind kind;
    pc_acq_state state;
    pc_conn *conn; /* who to answer; NULL once detached */
    pc_creq *creq;
    pc_acquire_req req;
    pid_t peer_pid;
    uid_t peer_uid;
    pc_apool *pool;
    pc_scan scan;
    bool specific;
    uint16_t static_first;
    uint16_t port; /* current candidate, 0 when none */
    pc_holdset holds;
    char port_dir[PC_ZKP_PATH_MAX];
    char uuid[PC_ZKP_UUID_LEN + 1];
    char node[PC_ZKP_PATH_MAX]; /* our claim node, "" when none */
    int64_t seq;
    int64_t czxid;
    int64_t since_ms;
    int pidfd;
    struct event *timer; /* wait_ms deadline */
    bool cancelled;      /* nobody to grant to any more: withdraw */
    bool mkdirs_done;
    pc_hold *hold; /* PC_ACQ_REASSERT */
    TAILQ_ENTRY(pc_acq) link;
};

static void pc_acq_next(pc_acq *q);
static void pc_acq_create(pc_acq *q);
static int pc_acq_probe(pc_acq *q, bool owners, pc_error *err);

/* The agent, for predecessor watchers (they carry an operation id only). */
static pc_agent *pc_watch_agent;
static void pc_acq_list(pc_acq *q);
static void pc_acq_withdraw(pc_acq *q);

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
static pc_acq *pc_acq_find(pc_agent *a, uint64_t id)
{
    pc_acq *q;
    TAILQ_FOREACH(q, &a->acqs, link)
    if (q->id == id)
        return q;
    return NULL;
}

static pc_acq *pc_acq_new(pc_agent *a, pc_acq_kind kind)
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
static bool pc_port_busy_locally(pc_agent *a, pc_apool *p, uint16_t port, const pc_acq *q)
{
    pc_hold *h;
    TAILQ_FOREACH(h, &a->holds, link)
    if (h->pool == p && h->port == port)
        return true;
    pc_acq *o;
    TAILQ_FOREACH(o, &a->acqs, link)
    if (o != q && o->pool == p && o->port == port && o->kind != PC_ACQ_DELETE)
        return true;
    return false;
}

/* Drop q's mark on its candidate port. */
static void pc_acq_unmark(pc_acq *q)
{
    if (q->pool && q->port) {
        uint16_t port = q->port;
        q->port = 0;
        if (!pc_port_busy_locally(q->agent, q->pool, port, q))
            pc_pool_set_inflight(q->pool, port, false);
    }
    q->port = 0;
}

static void pc_acq_free(pc_acq *q)
{
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
static void pc_acq_answer(pc_acq *q, json_t *ans, int fd)
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

static void pc_acq_fail(pc_acq *q, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fail the operation: answer the error, withdraw our node if any, free. */
static void pc_acq_fail(pc_acq *q, int code, const char *fmt, ...)
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

static bool pc_zk_lost(int rc)
{
    return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT;
}

/* ------------------------------------------------------------------------ */
/* deleting a claim node (and then its port node)                           */

static void pc_del_issue(pc_acq *q);

static void pc_del_dir_cb(int rc, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    q->agent->zk_pending--;
    /* ZNOTEMPTY (another claim arrived) and ZNONODE are both fine. */
    pc_acq_answer(q, q->creq ? pc_answer_ok(q->creq->req.id) : NULL, -1);
    pc_acq_free(q);
}

static void pc_del_node_cb(int rc, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    pc_agent *a = q->agent;
    a->zk_pending--;
    if (rc == ZCLOSING) {
        pc_acq_free(q); /* the session closes: its ephemeral nodes go with it */
        return;
    }
    if (pc_zk_lost(rc)) {
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

static void pc_del_issue(pc_acq *q)
{
    pc_agent *a = q->agent;
    q->state = PC_ST_BUSY;
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
static void pc_delete_claim(pc_agent *a, pc_apool *p, uint16_t port, const char *node,
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
static void pc_acq_withdraw(pc_acq *q)
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

static char *pc_claim_data(const pc_acq *q, pc_apool *p, const pc_hold *h, int *len)
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

/* ------------------------------------------------------------------------ */
/* granting                                                                 */

static void pc_acq_grant(pc_acq *q)
{
    pc_agent *a = q->agent;
    if (q->cancelled || !q->conn) {
        pc_acq_withdraw(q);
        return;
    }
    pc_hold *h = calloc(1, sizeof(*h));
    if (!h) {
        pc_acq_fail(q, -ENOMEM, "out of memory");
        return;
    }
    h->agent = a;
    h->pool = q->pool;
    h->port = q->port;
    snprintf(h->path, sizeof(h->path), "%s", q->node);
    const char *slash = strrchr(q->node, '/');
    pc_strlcpy(h->name, slash ? slash + 1 : q->node, sizeof(h->name));
    snprintf(h->uuid, sizeof(h->uuid), "%s", q->uuid);
    h->czxid = q->czxid;
    h->since_ms = q->since_ms;
    snprintf(h->service, sizeof(h->service), "%s", q->req.service);
    snprintf(h->instance, sizeof(h->instance), "%s", q->req.instance);
    h->pid = q->peer_pid;
    h->uid = q->peer_uid;
    h->lifetime = q->req.lifetime;
    h->hold_pid = q->req.hold_pid;
    h->pidfd = q->pidfd;
    q->pidfd = -1;
    h->conn = q->conn;
    h->holds = q->holds;
    pc_holdset_init(&q->holds);

    int fd = -1;
    pc_error err;
    if (q->req.socket) {
        fd = pc_holdset_handover(&h->holds, q->req.listen, q->req.backlog, &err);
        if (fd < 0) {
            /* Keep the claim consistent: nothing granted, node withdrawn. */
            pc_holdset_close(&h->holds);
            if (h->pidfd >= 0)
                close(h->pidfd);
            free(h);
            pc_acq_fail(q, PORTCO_EINTERNAL, "cannot hand over the socket of port %u: %s",
                        q->port, err.msg);
            return;
        }
    }
    if (h->lifetime == PORTCO_LIFETIME_PID && pc_lifetime_watch(h) < 0)
        pc_warn("cannot watch pid %d for port %u", (int)h->hold_pid, h->port);
    TAILQ_INSERT_TAIL(&a->holds, h, link);
    a->nholds++;
    a->counters.grants++;
    pc_pool_advance(q->pool, q->port);
    q->node[0] = '\0'; /* the node belongs to the claim now */
    pc_info("granted %s:%u to %s (pid %d) as %s", q->pool->name, h->port, h->service,
            (int)h->pid, h->name);
    json_t *ans = pc_answer_ok(q->creq->req.id);
    json_object_set_new(ans, "claim", pc_hold_to_json(h));
    if (fd >= 0)
        json_object_set_new(ans, "fd", json_true());
    /* q->port stays marked: the claim holds it now. */
    q->port = 0;
    pc_acq_answer(q, ans, fd);
    pc_acq_free(q);
    pc_hold_poll_update(a);
}

/* ------------------------------------------------------------------------ */
/* the claim protocol                                                       */

static void pc_acq_exists_cb(int rc, const struct Stat *st, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    q->agent->zk_pending--;
    q->state = PC_ST_IDLE;
    if (q->cancelled) {
        pc_acq_withdraw(q);
        return;
    }
    if (pc_zk_lost(rc)) {
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
    pc_acq_list(q);
}

static void pc_reassert_done(pc_acq *q, bool owned);

/* We own the port: for a waiter the local probe runs again first. */
static void pc_acq_owned(pc_acq *q)
{
    if (q->czxid == 0) {
        /* Recovered after a connection loss: read the fencing token. */
        q->state = PC_ST_BUSY;
        if (zoo_aexists(pc_zk_handle(q->agent->zk), q->node, 0, pc_acq_exists_cb, q) == ZOK) {
            q->agent->zk_pending++;
            return;
        }
        q->state = PC_ST_RECOVER;
        return;
    }
    if (q->kind == PC_ACQ_REASSERT) {
        pc_reassert_done(q, true);
        return;
    }
    if (q->holds.n == 0) {
        pc_error err;
        pc_error_clear(&err);
        int rc = pc_acq_probe(q, true, &err);
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
                "port %u of pool %s was not released within %d ms; retry or wait longer",
                q->port, q->pool->name, q->req.wait_ms);
}

static void pc_pred_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    if (type == ZOO_SESSION_EVENT)
        return;
    pc_agent *a = pc_watch_agent;
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
    q->agent->zk_pending--;
    q->state = PC_ST_IDLE;
    if (q->cancelled) {
        pc_acq_withdraw(q);
        return;
    }
    if (rc == ZOK) {
        q->state = PC_ST_WAIT; /* the watcher wakes us */
        return;
    }
    if (rc == ZNONODE) {
        pc_acq_list(q); /* gone already: look again */
        return;
    }
    if (pc_zk_lost(rc)) {
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
        q->timer = evtimer_new(a->base, pc_acq_wait_timeout, q);
        struct timeval tv = {q->req.wait_ms / 1000, (q->req.wait_ms % 1000) * 1000};
        if (q->timer)
            evtimer_add(q->timer, &tv);
    }
    char path[PC_ZKP_PATH_MAX];
    if (pc_zkp_join(path, sizeof(path), q->port_dir, pred) < 0) {
        pc_acq_fail(q, PORTCO_EINTERNAL, "bad claim node name %s", pred);
        return;
    }
    q->state = PC_ST_BUSY;
    int rc = zoo_awexists(pc_zk_handle(a->zk), path, pc_pred_watcher,
                          (void *)(uintptr_t)q->id, pc_pred_exists_cb, q);
    if (rc == ZOK) {
        a->zk_pending++;
        return;
    }
    q->state = PC_ST_RECOVER;
}

static void pc_acq_children_cb(int rc, const struct String_vector *sv, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    pc_agent *a = q->agent;
    a->zk_pending--;
    q->state = PC_ST_IDLE;
    if (pc_zk_lost(rc)) {
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
            }
        if (!q->node[0]) {
            q->seq = 0;
            if (q->cancelled)
                pc_acq_withdraw(q);
            else
                pc_acq_create(q); /* it was never created */
            return;
        }
    }
    if (q->cancelled) {
        pc_acq_withdraw(q);
        return;
    }
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
        pc_reassert_done(q, false);
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
    pc_delete_claim(a, q->pool, q->port, q->node, q->port_dir, NULL, NULL);
    q->node[0] = '\0';
    if (q->specific) {
        pc_acq_fail(q, PORTCO_ETAKEN,
                    "port %u of pool %s is claimed by another owner (%s); pick another port, "
                    "or set wait_ms to wait for it",
                    q->port, q->pool->name, low >= 0 ? names[low] : "?");
        return;
    }
    pc_holdset_close(&q->holds);
    pc_acq_unmark(q);
    pc_acq_next(q);
}

static void pc_acq_list(pc_acq *q)
{
    pc_agent *a = q->agent;
    q->state = PC_ST_BUSY;
    if (zoo_aget_children(pc_zk_handle(a->zk), q->port_dir, 0, pc_acq_children_cb, q) == ZOK) {
        a->zk_pending++;
        return;
    }
    q->state = PC_ST_RECOVER;
}

static void pc_acq_mkdirs_cb(int rc, void *ud)
{
    pc_acq *q = ud;
    q->agent->zk_pending--;
    q->state = PC_ST_IDLE;
    if (q->cancelled) {
        pc_acq_withdraw(q);
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
    a->zk_pending--;
    q->state = PC_ST_IDLE;
    if (rc == ZOK) {
        a->counters.creates++;
        snprintf(q->node, sizeof(q->node), "%s", path);
        const char *slash = strrchr(path, '/');
        pc_zkp_claim_seq(slash ? slash + 1 : path, &q->seq);
        q->czxid = st ? st->czxid : 0;
        if (q->cancelled) {
            pc_acq_withdraw(q);
            return;
        }
        pc_acq_list(q);
        return;
    }
    if (pc_zk_lost(rc)) {
        /* The node may exist though the answer was lost: find it by uuid later. */
        q->seq = -1;
        q->state = PC_ST_RECOVER;
        return;
    }
    if (q->cancelled) {
        pc_acq_withdraw(q);
        return;
    }
    if (rc == ZNONODE && !q->mkdirs_done) {
        q->mkdirs_done = true;
        q->state = PC_ST_BUSY;
        int mrc = pc_zk_mkdirs(a->zk, q->port_dir, pc_acq_mkdirs_cb, q);
        if (mrc == 0) {
            a->zk_pending++;
            return;
        }
        q->state = PC_ST_IDLE;
        rc = ZCONNECTIONLOSS;
    }
    pc_acq_fail(q, pc_zk_err(rc) == PORTCO_EZKUNAVAIL ? PORTCO_EZKUNAVAIL : PORTCO_EINTERNAL,
                "cannot create a claim node under %s: %s", q->port_dir, zerror(rc));
}

static void pc_acq_create(pc_acq *q)
{
    pc_agent *a = q->agent;
    char path[PC_ZKP_PATH_MAX];
    if (pc_zkp_new_uuid(q->uuid, sizeof(q->uuid)) < 0 ||
        pc_zkp_claim_path(path, sizeof(path), q->port_dir, q->uuid) < 0) {
        pc_acq_fail(q, PORTCO_EINTERNAL, "cannot name a claim node under %s", q->port_dir);
        return;
    }
    q->since_ms = pc_now_ms();
    int len = 0;
    char *data = pc_claim_data(q, q->pool, q->hold, &len);
    if (!data) {
        pc_acq_fail(q, -ENOMEM, "out of memory");
        return;
    }
    q->state = PC_ST_BUSY;
    q->seq = 0;
    int rc = zoo_acreate2(pc_zk_handle(a->zk), path, data, len, &ZOO_OPEN_ACL_UNSAFE,
                          ZOO_EPHEMERAL_SEQUENTIAL, pc_acq_create_cb, q);
    free(data);
    if (rc == ZOK) {
        a->zk_pending++;
        return;
    }
    q->state = PC_ST_IDLE;
    pc_acq_fail(q, PORTCO_EZKUNAVAIL, "ZooKeeper is not reachable (%s); retry later",
                zerror(rc));
}

/* Check a candidate from the second pass: claim it only when its port node
 * has no lock node left (a stale, empty port node). */
static void pc_acq_check_cb(int rc, const struct String_vector *sv, const void *data)
{
    pc_acq *q = (pc_acq *)data;
    q->agent->zk_pending--;
    q->state = PC_ST_IDLE;
    if (q->cancelled) {
        pc_acq_withdraw(q);
        return;
    }
    bool empty = rc == ZNONODE || (rc == ZOK && pc_zkp_lowest(sv->data, sv->count,
                                                              pc_zkp_claim_seq) < 0);
    if (rc == ZOK || rc == ZNONODE) {
        pc_error err;
        pc_error_clear(&err);
        if (empty && pc_acq_probe(q, false, &err) == 0) {
            pc_acq_create(q);
            return;
        }
        pc_holdset_close(&q->holds);
        pc_acq_unmark(q);
        pc_acq_next(q);
        return;
    }
    pc_acq_fail(q, PORTCO_EZKUNAVAIL, "cannot list port %u: %s", q->port, zerror(rc));
}

/* Run the local probe on q->port, keeping its hold sockets in q. */
static int pc_acq_probe(pc_acq *q, bool owners, pc_error *err)
{
    int rc = pc_hold_probe(q->agent, q->pool, q->port, owners, &q->holds, err);
    if (rc < 0)
        q->agent->counters.probe_refused++;
    return rc;
}

/*
 * Make `port` q's candidate: mark it in flight and compute its port node.
 * Returns 1 when this agent already has a claim or an attempt on it (the
 * claim protocol decides then: the probe would only see our own hold), else
 * 0, after probing when `probe` is set, or the probe's refusal.
 */
static int pc_acq_take_candidate(pc_acq *q, uint16_t port, bool probe, bool owners,
                                 pc_error *err)
{
    pc_agent *a = q->agent;
    bool local = pc_port_busy_locally(a, q->pool, port, q);
    q->port = port;
    pc_pool_set_inflight(q->pool, port, true);
    q->node[0] = '\0';
    q->seq = 0;
    q->czxid = 0;
    q->mkdirs_done = false;
    int rc = pc_zkp_port_dir(q->port_dir, sizeof(q->port_dir), a->opts.root, q->pool->name,
                             q->pool->def.scope == PC_SCOPE_HOST ? a->opts.host_id : NULL, port);
    if (rc < 0)
        return pc_error_set(err, PORTCO_EINTERNAL, "bad path for port %u", port);
    if (local)
        return 1;
    return probe ? pc_acq_probe(q, owners, err) : 0;
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
            port = pc_scan_next(q->pool, &q->scan, q->req.service, &second);
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
            continue;
        }
        if (second) {
            q->state = PC_ST_BUSY;
            if (zoo_aget_children(pc_zk_handle(q->agent->zk), q->port_dir, 0, pc_acq_check_cb,
                                  q) == ZOK) {
                q->agent->zk_pending++;
                return;
            }
            q->state = PC_ST_IDLE;
            pc_acq_fail(q, PORTCO_EZKUNAVAIL, "ZooKeeper is not reachable; retry later");
            return;
        }
        pc_acq_create(q);
        return;
    }
}

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
        pc_conn_fail(c, r, PORTCO_ENOPOOL, "no pool named \"%s\" is published; see `portco ls`",
                     rq->pool);
        return;
    }
    if (rq->port) {
        if (pc_pool_index(p, (uint16_t)rq->port) < 0) {
            pc_conn_fail(c, r, PORTCO_EOUTOFPOOL, "port %d is not part of pool %s; ask for a port "
                         "of the pool or for any port (port 0)", rq->port, p->name);
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
            pc_acq_fail(q, rc == PORTCO_EBADREQ ? PORTCO_EBADREQ : PORTCO_EINTERNAL, "%s",
                        err.msg);
            return;
        }
    }
    if (rq->port) {
        q->specific = true;
        pc_error err;
        pc_error_clear(&err);
        int rc = pc_acq_take_candidate(q, (uint16_t)rq->port, true, true, &err);
        if (rc < 0) {
            pc_acq_fail(q, rc == PORTCO_EUNUSABLE ? PORTCO_EUNUSABLE : PORTCO_EINTERNAL,
                        "port %d of pool %s is not usable on %s: %s", rq->port, p->name,
                        a->opts.host_id, err.msg);
            return;
        }
        pc_acq_create(q);
        return;
    }
    pc_scan_begin(p, &q->scan);
    q->static_first = pc_pool_static_port(p, rq->service);
    pc_acq_next(q);
}

/* ------------------------------------------------------------------------ */
/* release                                                                  */

static void pc_hold_free(pc_hold *h)
{
    pc_agent *a = h->agent;
    pc_lifetime_unwatch(h);
    pc_holdset_close(&h->holds);
    TAILQ_REMOVE(&a->holds, h, link);
    a->nholds--;
    if (!pc_port_busy_locally(a, h->pool, h->port, NULL))
        pc_pool_set_inflight(h->pool, h->port, false);
    /* An operation re-asserting this claim has nothing left to do. */
    pc_acq *q;
    TAILQ_FOREACH(q, &a->acqs, link)
    if (q->hold == h) {
        q->hold = NULL;
        q->cancelled = true;
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
    if (strcmp(h->pool->name, r->req.pool) == 0 && h->port == r->req.port)
        break;
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
        if (q->state == PC_ST_WAIT || q->state == PC_ST_IDLE || q->state == PC_ST_RECOVER)
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
            pc_acq_answer(q, pc_answer_error(q->creq->req.id, q->creq->req.has_id,
                                             PORTCO_ESHUTDOWN, "the agent is shutting down"),
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
    if (h->pool == p)
        pc_pool_set_inflight(p, h->port, true);
    pc_acq *q;
    TAILQ_FOREACH(q, &a->acqs, link)
    if (q->pool == p && q->port && q->kind != PC_ACQ_DELETE)
        pc_pool_set_inflight(p, q->port, true);
}

/* ------------------------------------------------------------------------ */
/* session changes                                                          */

static void pc_reassert_done(pc_acq *q, bool owned)
{
    pc_agent *a = q->agent;
    pc_hold *h = q->hold;
    if (!h) {
        pc_acq_withdraw(q);
        return;
    }
    h->reasserting = false;
    json_t *claim;
    if (owned) {
        snprintf(h->path, sizeof(h->path), "%s", q->node);
        const char *slash = strrchr(q->node, '/');
        pc_strlcpy(h->name, slash ? slash + 1 : q->node, sizeof(h->name));
        snprintf(h->uuid, sizeof(h->uuid), "%s", q->uuid);
        h->czxid = q->czxid;
        q->node[0] = '\0';
        a->counters.reasserted++;
        pc_info("re-asserted %s:%u as %s", h->pool->name, h->port, h->name);
        claim = pc_hold_to_json(h);
        if (h->conn)
            pc_conn_send_event(h->conn, pc_event_new("reasserted", claim,
                                                     "claim re-created after a session loss"));
        else
            json_decref(claim);
        q->port = 0;
        pc_acq_free(q);
        return;
    }
    a->counters.conflicts++;
    char msg[256];
    snprintf(msg, sizeof(msg),
             "port %u of pool %s was taken by another owner while this agent's session was lost",
             h->port, h->pool->name);
    pc_warn("conflict: %s", msg);
    claim = pc_hold_to_json(h);
    if (h->conn)
        pc_conn_send_event(h->conn, pc_event_new("conflict", claim, msg));
    else
        json_decref(claim);
    q->hold = NULL;
    pc_hold_free(h);
    q->cancelled = true;
    pc_acq_withdraw(q);
}

static void pc_reassert(pc_agent *a, pc_hold *h)
{
    pc_acq *q = pc_acq_new(a, PC_ACQ_REASSERT);
    if (!q)
        return;
    h->reasserting = true;
    q->hold = h;
    q->pool = h->pool;
    q->port = h->port;
    q->peer_pid = h->pid;
    q->peer_uid = h->uid;
    snprintf(q->port_dir, sizeof(q->port_dir), "%s", h->path);
    char *slash = strrchr(q->port_dir, '/');
    if (slash)
        *slash = '\0';
    pc_acq_create(q);
}

void pc_claims_on_connected(pc_agent *a, bool new_session)
{
    pc_acq *q, *qn;
    for (q = TAILQ_FIRST(&a->acqs); q; q = qn) {
        qn = TAILQ_NEXT(q, link);
        if (q->state == PC_ST_RECOVER) {
            pc_acq_list(q);
        } else if (q->state == PC_ST_REDELETE) {
            if (new_session) {
                a->zk_pending++; /* pc_del_node_cb() accounts for one request */
                pc_del_node_cb(ZNONODE, q); /* the node went with the old session */
            } else
                pc_del_issue(q);
        }
    }
    if (new_session) {
        pc_hold *h;
        TAILQ_FOREACH(h, &a->holds, link)
        if (h->reasserting)
            pc_reassert(a, h);
    }
}

void pc_claims_on_expired(pc_agent *a)
{
    pc_acq *q, *qn;
    for (q = TAILQ_FIRST(&a->acqs); q; q = qn) {
        qn = TAILQ_NEXT(q, link);
        if (q->kind == PC_ACQ_DELETE) {
            if (q->state == PC_ST_REDELETE)
                q->state = PC_ST_REDELETE; /* handled on the next connect */
            continue;
        }
        if (q->state == PC_ST_BUSY)
            continue; /* its completion reports the expiry */
        q->node[0] = '\0'; /* ephemeral: gone with the session */
        if (q->kind == PC_ACQ_REASSERT) {
            q->cancelled = true;
            if (q->hold)
                q->hold->reasserting = true;
            q->hold = NULL;
            pc_acq_withdraw(q);
            continue;
        }
        pc_acq_fail(q, PORTCO_EZKUNAVAIL,
                    "the ZooKeeper session expired while claiming port %u; retry", q->port);
    }
    pc_hold *h;
    TAILQ_FOREACH(h, &a->holds, link)
    h->reasserting = true;
}
