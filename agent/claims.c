/* claims.c - the claim protocol: candidate, probe, sequential node, lowest owns, wait, grant. */
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
#include "state.h"

static void pc_acq_next(pc_acq *q);
static int pc_acq_probe(pc_acq *q, bool owners, pc_error *err);
static void pc_acq_start_specific(pc_acq *q);
static void pc_acq_owned(pc_acq *q);

/*
 * The local probe reads /proc/net, which costs milliseconds per call on a
 * busy host. A burst of acquires must not starve the loop (ZooKeeper pings
 * included), so every probe runs from a queue drained at most
 * PC_PROBE_BUDGET_MS per loop iteration.
 */
#define PC_PROBE_BUDGET_MS 20

enum { PC_STEP_NEXT = 0, PC_STEP_SPECIFIC = 1, PC_STEP_PROBE_CREATE = 2 };

static void pc_acq_defer(pc_acq *q, int step);

static long long pc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pc_acq_run_step(pc_acq *q)
{
    pc_error err;
    switch (q->step) {
    case PC_STEP_SPECIFIC:
        pc_acq_start_specific(q);
        break;
    case PC_STEP_PROBE_CREATE:
        pc_error_clear(&err);
        if (pc_acq_probe(q, false, &err) == 0) {
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

static void pc_ready_cb(evutil_socket_t fd, short what, void *arg)
{
    pc_agent *a = arg;
    long long end = pc_mono_ms() + PC_PROBE_BUDGET_MS;
    pc_acq *q;
    while ((q = TAILQ_FIRST(&a->ready)) && pc_mono_ms() < end) {
        pc_acq_unqueue(q);
        pc_acq_run_step(q);
    }
    if (!TAILQ_EMPTY(&a->ready)) {
        struct timeval tv = {0, 0};
        evtimer_add(a->ready_ev, &tv); /* after a pass through poll: I/O goes first */
    }
    pc_batch_flush(a); /* this pass's claims, in one transaction */
    pc_zk_kick(a->zk);
}

static void pc_acq_defer(pc_acq *q, int step)
{
    pc_agent *a = q->agent;
    if (!a->ready_ev)
        a->ready_ev = evtimer_new(a->base, pc_ready_cb, a);
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

/* ------------------------------------------------------------------------ */
/* granting                                                                 */

static void pc_acq_grant(pc_acq *q)
{
    pc_agent *a = q->agent;
    if (q->cancelled || !q->conn || q->conn->closing) {
        pc_acq_withdraw(q); /* nobody to grant to: a closing connection is gone */
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

    /* A pid claim that nothing would end is refused: nothing granted, node
     * withdrawn. */
    int wrc = h->lifetime == PORTCO_LIFETIME_PID ? pc_lifetime_watch(h) : 0;
    if (wrc < 0) {
        pc_holdset_close(&h->holds);
        pc_lifetime_unwatch(h);
        free(h);
        pc_acq_fail(q, PORTCO_EINTERNAL, "cannot watch process %d, whose exit ends the claim: %s",
                    (int)q->req.hold_pid, portco_strerror(wrc));
        return;
    }
    int fd = -1;
    pc_error err;
    if (q->req.socket) {
        fd = pc_holdset_handover(&h->holds, &err);
        if (fd < 0) {
            /* Keep the claim consistent: nothing granted, node withdrawn. */
            pc_holdset_close(&h->holds);
            pc_lifetime_unwatch(h);
            free(h);
            pc_acq_fail(q, PORTCO_EINTERNAL, "cannot hand over the socket of port %u: %s", q->port,
                        err.msg);
            return;
        }
    }
    TAILQ_INSERT_TAIL(&a->holds, h, link);
    /* A claim that outlives its connection is on disk before it is granted,
     * so a crash right after the answer cannot lose it. */
    if (h->lifetime == PORTCO_LIFETIME_CONNECTION)
        pc_state_dirty(a);
    else
        pc_state_flush(a);
    a->nholds++;
    a->counters.grants++;
    pc_pool_advance(q->pool, q->port);
    q->node[0] = '\0'; /* the node belongs to the claim now */
    pc_info("granted %s:%u to %s (pid %d) as %s", q->pool->name, h->port, h->service, (int)h->pid,
            h->name);
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
                "port %u of pool %s was not released within %d ms; retry or wait longer", q->port,
                q->pool->name, q->req.wait_ms);
}

static void pc_pred_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    if (type == ZOO_SESSION_EVENT)
        return;
    pc_agent *a = pc_acq_agent();
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
                    "or ask to wait for it (portco acquire --wait SECS, or wait_ms in the "
                    "request)",
                    q->port, q->pool->name, low >= 0 ? names[low] : "?");
        return;
    }
    pc_holdset_close(&q->holds);
    pc_acq_unmark(q);
    pc_acq_defer(q, PC_STEP_NEXT);
}

void pc_acq_list(pc_acq *q)
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
    if (pc_acq_zk_lost(rc)) {
        /* The node may exist though the answer was lost: find it by uuid later. */
        a->counters.lost_answers++;
        q->seq = -1;
        q->state = PC_ST_RECOVER;
        return;
    }
    if (q->cancelled) {
        pc_acq_withdraw(q);
        return;
    }
    if (rc == ZNONODE && q->mkdirs < 5) {
        q->mkdirs++;
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
    pc_agent *a = q->agent;
    a->zk_pending--;
    q->state = PC_ST_IDLE;
    if (rc == ZOK) {
        a->counters.creates++;
        snprintf(q->node, sizeof(q->node), "%s", q->mpath);
        const char *slash = strrchr(q->mpath, '/');
        pc_zkp_claim_seq(slash ? slash + 1 : q->mpath, &q->seq);
        q->sole = true;
        q->czxid = q->mstat.czxid;
        if (q->cancelled) {
            pc_acq_withdraw(q);
            return;
        }
        pc_acq_owned(q);
        return;
    }
    if (pc_acq_zk_lost(rc)) {
        a->counters.lost_answers++;
        q->seq = -1; /* applied or not: find our node by uuid once connected */
        q->state = PC_ST_RECOVER;
        return;
    }
    if (q->cancelled) {
        pc_acq_withdraw(q);
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
    if (pc_batch_multi(a, 3, ops, q->mres, pc_acq_multi_cb, q) == ZOK) {
        a->zk_pending++;
        return true;
    }
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
    if (rc == ZOK) {
        a->zk_pending++;
        return;
    }
    q->state = PC_ST_IDLE;
    pc_acq_fail(q, PORTCO_EZKUNAVAIL, "ZooKeeper is not reachable (%s); retry later", zerror(rc));
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
    bool empty =
        rc == ZNONODE || (rc == ZOK && pc_zkp_lowest(sv->data, sv->count, pc_zkp_claim_seq) < 0);
    if (rc == ZOK || rc == ZNONODE) {
        if (empty) {
            pc_acq_defer(q, PC_STEP_PROBE_CREATE);
            return;
        }
        pc_acq_unmark(q);
        pc_acq_defer(q, PC_STEP_NEXT);
        return;
    }
    pc_acq_fail(q, PORTCO_EZKUNAVAIL, "cannot list port %u: %s", q->port, zerror(rc));
}

/* Run the local probe on q->port, keeping its hold sockets in q. */
static int pc_acq_probe(pc_acq *q, bool owners, pc_error *err)
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
            pc_acq_defer(q, PC_STEP_NEXT); /* one probe per turn */
            return;
        }
        if (second) {
            q->state = PC_ST_BUSY;
            if (zoo_aget_children(pc_zk_handle(q->agent->zk), q->port_dir, 0, pc_acq_check_cb, q) ==
                ZOK) {
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
        pc_acq_defer(q, PC_STEP_SPECIFIC);
        return;
    }
    pc_pool_scan_begin(p, &q->scan);
    q->static_first = pc_pool_static_port(p, rq->service);
    pc_acq_defer(q, PC_STEP_NEXT);
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
