/* listing.c - the `list` (owning claims of the cluster, from ZooKeeper) and `status` requests. */
#include "listing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "listpage.h"
#include "log.h"
#include "pools.h"
#include "portco_version.h"

/* One `list` request being gathered from ZooKeeper. */
typedef struct pc_listop {
    pc_agent *agent;
    pc_conn *conn; /* NULL once the connection is gone */
    pc_creq *creq;
    pc_listing_cb cb; /* for gathers not tied to a connection; NULL once cancelled */
    void *ud;
    int pending;
    int failed; /* first ZooKeeper error, 0 when none */
    json_t *claims;
    int limit;                /* a page of at most this many claims; 0: all in one answer */
    const pc_list_key *after; /* the page starts after this cursor; NULL: at the start */
    pc_list_key cursor;       /* storage of `after` */
    bool cut;                 /* a ports directory was read only up to `horizon` */
    pc_list_key horizon;      /* the lowest pool and port up to which every claim was read */
    struct pc_listop *next;
} pc_listop;

/* Ports read per ports directory for one page at most: a page of claims
 * fits in one message, so there are rarely more than this in one. */
#define PC_LIST_WALK 256

/* Bytes of a page's claims at most: the message limit less room for the
 * envelope and the "next" cursor. */
#define PC_LIST_BUDGET (PC_PROTO_MAX_LINE - 2048)

/* One step of the walk: which pool (and port) a completion belongs to. */
typedef struct pc_listitem {
    pc_zk_req req; /* the request of this step; its completion's data */
    pc_listop *op;
    char pool[PC_POOL_NAME_MAX + 1];
    char dir[PC_ZKP_PATH_MAX];
    uint16_t port;
    char name[160];
} pc_listitem;

static void pc_list_ports_dir(pc_listop *op, const char *pool, const char *dir);

/* The gathered claims in listing order (pool, port, host, claim). NULL on ENOMEM. */
static json_t *pc_listop_sorted(const pc_listop *op)
{
    json_t *sorted = json_copy(op->claims);
    if (sorted && pc_list_sort(sorted) != 0) {
        json_decref(sorted);
        sorted = NULL;
    }
    return sorted;
}

/*
 * The answer to a list request: a page when op->limit is set, else every
 * claim, refused with MESSAGE_TOO_BIG when they do not fit in one message.
 * Fills msg and returns a code when there is no answer.
 */
static int pc_listop_answer(pc_listop *op, json_t **ans, char *msg, size_t len)
{
    *ans = NULL;
    json_t *sorted = pc_listop_sorted(op);
    json_t *page = NULL;
    pc_list_key next;
    bool more = false;
    int rc = sorted ? 0 : -ENOMEM;
    if (rc == 0 && op->limit)
        rc = pc_list_page(sorted, op->after, op->cut ? &op->horizon : NULL, (size_t)op->limit,
                          PC_LIST_BUDGET, &page, &next, &more);
    else if (rc == 0)
        page = json_incref(sorted);
    json_decref(sorted);
    json_t *a = rc == 0 ? pc_answer_ok(op->creq->req.id) : NULL;
    if (a && json_object_set_new(a, "claims", page) == 0)
        page = NULL;
    else if (rc == 0)
        rc = -ENOMEM;
    json_decref(page);
    if (rc == 0 && more) {
        json_t *nj = pc_list_key_to_json(&next);
        if (!nj || json_object_set_new(a, "next", nj) != 0)
            rc = -ENOMEM;
    }
    if (rc == 0 && !op->limit && json_dumpb(a, NULL, 0, JSON_COMPACT) >= PC_PROTO_MAX_LINE) {
        snprintf(msg, len,
                 "the %zu claims do not fit in one message of %d bytes; ask for them in pages "
                 "(\"limit\" and \"after\", docs/protocol.md), as libportco and portco ls do",
                 json_array_size(op->claims), PC_PROTO_MAX_LINE);
        json_decref(a);
        return PORTCO_ETOOBIG;
    }
    if (rc != 0) {
        snprintf(msg, len, "%s",
                 rc == PORTCO_ETOOBIG ? "a claim is larger than a message" : "out of memory");
        json_decref(a);
        return rc == PORTCO_ETOOBIG ? PORTCO_EINTERNAL : rc;
    }
    *ans = a;
    return 0;
}

static void pc_listop_finish(pc_listop *op)
{
    pc_listop **pp = &op->agent->listops;
    while (*pp && *pp != op)
        pp = &(*pp)->next;
    if (*pp)
        *pp = op->next;
    if (op->conn) {
        pc_creq *r = op->creq;
        if (op->failed) {
            pc_conn_fail(op->conn, r, PORTCO_EZKUNAVAIL,
                         "cannot read the claims from ZooKeeper: %s; retry", zerror(op->failed));
        } else {
            json_t *ans;
            char msg[256];
            int code = pc_listop_answer(op, &ans, msg, sizeof(msg));
            if (code)
                pc_conn_fail(op->conn, r, code, "%s", msg);
            else
                pc_conn_finish(op->conn, r, ans, -1);
        }
    } else if (op->cb) {
        char msg[160];
        if (op->failed) {
            snprintf(msg, sizeof(msg), "cannot read the claims from ZooKeeper: %s; retry",
                     zerror(op->failed));
            op->cb(op->agent, PORTCO_EZKUNAVAIL, msg, NULL, op->ud);
        } else {
            json_t *sorted = pc_listop_sorted(op);
            op->cb(op->agent, sorted ? 0 : -ENOMEM, sorted ? "" : "out of memory", sorted, op->ud);
        }
    }
    json_decref(op->claims);
    free(op);
}

static void pc_listop_done_one(pc_listop *op)
{
    if (--op->pending == 0)
        pc_listop_finish(op);
}

static void pc_listop_error(pc_listop *op, int rc)
{
    if (rc != ZOK && rc != ZNONODE && !op->failed)
        op->failed = rc;
}

static pc_listitem *pc_listitem_new(pc_listop *op, const char *pool, const char *dir)
{
    pc_listitem *it = calloc(1, sizeof(*it));
    if (!it)
        return NULL;
    pc_zk_req_init(&it->req, &op->agent->zk_reqs, it);
    it->op = op;
    snprintf(it->pool, sizeof(it->pool), "%s", pool);
    snprintf(it->dir, sizeof(it->dir), "%s", dir);
    return it;
}

/* Count a request as outstanding in op, or drop the item when it could not be sent. */
static void pc_list_issued(pc_listop *op, pc_listitem *it, int rc)
{
    if (pc_zk_req_sent(&it->req, rc) == 0) {
        op->pending++;
    } else {
        pc_listop_error(op, rc);
        free(it);
    }
}

/* The first step of each listing completion: the item back, its answer's error noted in its op. */
static pc_listitem *pc_listitem_back(const void *data, int rc)
{
    pc_listitem *it = pc_zk_req_take(data, NULL);
    pc_listop_error(it->op, rc);
    return it;
}

/* The last step of each listing completion: the item is done with, one answer fewer to wait for. */
static void pc_listitem_done(pc_listitem *it)
{
    pc_listop *op = it->op;
    free(it);
    pc_listop_done_one(op);
}

/* The owning claim's data: build the claim object from what the node says. */
static void pc_list_data_cb(int rc, const char *value, int len, const struct Stat *st,
                            const void *data)
{
    pc_listitem *it = pc_listitem_back(data, rc);
    pc_listop *op = it->op;
    if (rc == ZOK) {
        json_t *d = value && len > 0 ? json_loadb(value, (size_t)len, 0, NULL) : NULL;
        portco_claim c;
        if (!json_is_object(d) || pc_claim_from_json(d, &c, NULL) < 0) {
            memset(&c, 0, sizeof(c)); /* a foreign lock node: report what is known */
        }
        snprintf(c.pool, sizeof(c.pool), "%s", it->pool);
        c.port = it->port;
        snprintf(c.claim, sizeof(c.claim), "%s", it->name);
        c.czxid = st->czxid;
        portco_lifetime lt;
        const json_t *ltj = json_object_get(d, "lifetime");
        int lifetime = json_is_string(ltj) && pc_lifetime_parse(json_string_value(ltj), &lt) == 0
                           ? (int)lt
                           : -1;
        const json_t *uidj = json_object_get(d, "uid");
        long long uid = json_is_integer(uidj) ? json_integer_value(uidj) : -1;
        json_t *cj = pc_claim_to_json(&c, lifetime, uid);
        if (cj)
            json_array_append_new(op->claims, cj);
        json_decref(d);
    }
    pc_listitem_done(it);
}

/* A port's claim nodes: the lowest sequence owns the port. */
static void pc_list_port_cb(int rc, const struct String_vector *sv, const void *data)
{
    pc_listitem *it = pc_listitem_back(data, rc);
    pc_listop *op = it->op;
    int low = rc == ZOK ? pc_zkp_lowest(sv->data, sv->count, pc_zkp_claim_seq) : -1;
    if (low >= 0) {
        char path[PC_ZKP_PATH_MAX];
        if (pc_zkp_join(path, sizeof(path), it->dir, sv->data[low]) == 0) {
            pc_listitem *d = pc_listitem_new(op, it->pool, path);
            if (d) {
                d->port = it->port;
                snprintf(d->name, sizeof(d->name), "%s", sv->data[low]);
                pc_list_issued(
                    op, d,
                    zoo_aget(pc_zk_handle(op->agent->zk), path, 0, pc_list_data_cb, &d->req));
            }
        }
    }
    pc_listitem_done(it);
}

/* A port node of a ports directory: its number and its index in the children. */
typedef struct pc_portnode {
    uint16_t port;
    int idx;
} pc_portnode;

static int pc_port_cmp(const void *x, const void *y)
{
    uint16_t a = ((const pc_portnode *)x)->port, b = ((const pc_portnode *)y)->port;
    return (a > b) - (a < b);
}

/* True when every claim of port `port` of `pool` comes before the cursor. */
static bool pc_list_port_before(const pc_list_key *after, const char *pool, int port)
{
    int c = strcmp(pool, after->pool);
    if (c)
        return c < 0;
    return port < after->port || (port == after->port && after->whole_port);
}

/* A ports directory: one child per port with claims. */
static void pc_list_ports_cb(int rc, const struct String_vector *sv, const void *data)
{
    pc_listitem *it = pc_listitem_back(data, rc);
    pc_listop *op = it->op;
    int nports = 0;
    pc_portnode *ports =
        rc == ZOK && sv->count > 0 ? calloc((size_t)sv->count, sizeof(*ports)) : NULL;
    if (rc == ZOK && sv->count > 0 && !ports)
        pc_listop_error(op, ZSYSTEMERROR);
    for (int i = 0; ports && i < sv->count; i++) {
        char *end;
        long port = strtol(sv->data[i], &end, 10);
        if (*end || port < 1 || port > 65535)
            continue;
        if (op->after && pc_list_port_before(op->after, it->pool, (int)port))
            continue;
        ports[nports++] = (pc_portnode){.port = (uint16_t)port, .idx = i};
    }
    if (op->limit && nports > PC_LIST_WALK) {
        /* A page needs only the lowest ports after the cursor. */
        qsort(ports, (size_t)nports, sizeof(*ports), pc_port_cmp);
        nports = PC_LIST_WALK;
        pc_list_key h = {.port = ports[nports - 1].port};
        snprintf(h.pool, sizeof(h.pool), "%s", it->pool);
        if (!op->cut || pc_list_key_cmp(&h, &op->horizon) < 0)
            op->horizon = h;
        op->cut = true;
    }
    for (int i = 0; i < nports; i++) {
        char dir[PC_ZKP_PATH_MAX];
        if (pc_zkp_join(dir, sizeof(dir), it->dir, sv->data[ports[i].idx]) < 0)
            continue;
        pc_listitem *p = pc_listitem_new(op, it->pool, dir);
        if (!p)
            continue;
        p->port = ports[i].port;
        pc_list_issued(
            op, p,
            zoo_aget_children(pc_zk_handle(op->agent->zk), dir, 0, pc_list_port_cb, &p->req));
    }
    free(ports);
    pc_listitem_done(it);
}

/* A host-scope pool: one ports directory per host. */
static void pc_list_hosts_cb(int rc, const struct String_vector *sv, const void *data)
{
    pc_listitem *it = pc_listitem_back(data, rc);
    pc_listop *op = it->op;
    for (int i = 0; rc == ZOK && i < sv->count; i++) {
        char dir[PC_ZKP_PATH_MAX];
        if (pc_zkp_ports_dir(dir, sizeof(dir), op->agent->opts.root, it->pool, sv->data[i]) == 0)
            pc_list_ports_dir(op, it->pool, dir);
    }
    pc_listitem_done(it);
}

static void pc_list_ports_dir(pc_listop *op, const char *pool, const char *dir)
{
    pc_listitem *it = pc_listitem_new(op, pool, dir);
    if (!it)
        return;
    pc_list_issued(
        op, it, zoo_aget_children(pc_zk_handle(op->agent->zk), dir, 0, pc_list_ports_cb, &it->req));
}

static void pc_list_pool(pc_listop *op, const pc_apool *p)
{
    pc_agent *a = op->agent;
    char dir[PC_ZKP_PATH_MAX];
    if (op->after && strcmp(p->name, op->after->pool) < 0)
        return; /* the whole pool comes before the page */
    if (p->def.scope == PC_SCOPE_HOST) {
        if (pc_zkp_pool_hosts_dir(dir, sizeof(dir), a->opts.root, p->name) < 0)
            return;
        pc_listitem *it = pc_listitem_new(op, p->name, dir);
        if (it)
            pc_list_issued(
                op, it, zoo_aget_children(pc_zk_handle(a->zk), dir, 0, pc_list_hosts_cb, &it->req));
        return;
    }
    if (pc_zkp_ports_dir(dir, sizeof(dir), a->opts.root, p->name, NULL) == 0)
        pc_list_ports_dir(op, p->name, dir);
}

/*
 * Check that a listing can run now; fills msg and returns a code when not:
 * ZK_UNAVAILABLE, NOT_READY, NO_SUCH_POOL. *one gets the pool asked for.
 */
static int pc_listing_check(pc_agent *a, const char *pool, const pc_apool **one, char *msg,
                            size_t len)
{
    *one = NULL;
    if (pc_zk_get_state(a->zk) != PC_ZK_CONNECTED) {
        snprintf(msg, len, "the agent is not connected to ZooKeeper (%s); retry in a moment",
                 pc_zk_state_name(pc_zk_get_state(a->zk)));
        return PORTCO_EZKUNAVAIL;
    }
    if (!a->pools_ready) {
        snprintf(msg, len, "the agent has not loaded the pools yet");
        return PORTCO_ENOTREADY;
    }
    if (pool && pool[0]) {
        *one = pc_pools_find(a, pool);
        if (!*one) {
            snprintf(msg, len, "no pool named \"%s\" is published", pool);
            return PORTCO_ENOPOOL;
        }
    }
    return 0;
}

/* Start the walk of op (registered, pending held); one: a single pool. */
static void pc_listing_walk(pc_listop *op, const pc_apool *one)
{
    pc_agent *a = op->agent;
    op->next = a->listops;
    a->listops = op;
    op->pending = 1; /* held while the walk starts */
    if (one) {
        pc_list_pool(op, one);
    } else {
        pc_apool *p;
        TAILQ_FOREACH(p, &a->pools, link)
        {
            if (p->defined && p->loaded)
                pc_list_pool(op, p);
        }
    }
    pc_listop_done_one(op);
}

static pc_listop *pc_listop_new(pc_agent *a)
{
    pc_listop *op = calloc(1, sizeof(*op));
    json_t *claims = json_array();
    if (!op || !claims) {
        free(op);
        json_decref(claims);
        return NULL;
    }
    op->agent = a;
    op->claims = claims;
    return op;
}

void pc_listing_list(pc_conn *c, pc_creq *r)
{
    pc_agent *a = c->agent;
    const pc_apool *one;
    char msg[256];
    int code = pc_listing_check(a, r->req.pool, &one, msg, sizeof(msg));
    if (code) {
        pc_conn_fail(c, r, code, "%s", msg);
        return;
    }
    pc_listop *op = pc_listop_new(a);
    if (!op) {
        pc_conn_fail(c, r, -ENOMEM, "out of memory");
        return;
    }
    op->conn = c;
    op->creq = r;
    op->limit = r->req.limit;
    if (r->req.has_after) {
        op->cursor = r->req.after;
        op->after = &op->cursor;
    }
    pc_listing_walk(op, one);
}

void pc_listing_gather(pc_agent *a, const char *pool, pc_listing_cb cb, void *ud)
{
    const pc_apool *one;
    char msg[256];
    int code = pc_listing_check(a, pool, &one, msg, sizeof(msg));
    if (code) {
        cb(a, code, msg, NULL, ud);
        return;
    }
    pc_listop *op = pc_listop_new(a);
    if (!op) {
        cb(a, -ENOMEM, "out of memory", NULL, ud);
        return;
    }
    op->cb = cb;
    op->ud = ud;
    pc_listing_walk(op, one);
}

void pc_listing_cancel(pc_agent *a, void *ud)
{
    for (pc_listop *op = a->listops; op; op = op->next)
        if (!op->conn && op->ud == ud)
            op->cb = NULL;
}

void pc_listing_conn_closed(pc_conn *c)
{
    for (pc_listop *op = c->agent->listops; op; op = op->next)
        if (op->conn == c) {
            op->conn = NULL;
            op->creq = NULL;
        }
}

/* Fill `ans` with the status fields; false when it could not. */
static bool pc_listing_status_fill(pc_agent *a, json_t *ans)
{
    json_t *pools = json_array();
    pc_apool *p;
    TAILQ_FOREACH(p, &a->pools, link)
    {
        if (p->defined && p->loaded)
            json_array_append_new(pools, json_string(p->name));
    }
    const clientid_t *cid = pc_zk_client_id(a->zk);
    char session[32];
    snprintf(session, sizeof(session), "0x%llx", cid ? (unsigned long long)cid->client_id : 0ULL);
    json_t *counters = json_object();
#define PC_COUNTER_JSON(field, metric, help)                                                       \
    if (counters &&                                                                                \
        json_object_set_new(counters, #field, json_integer((json_int_t)a->counters.field)) < 0) {  \
        json_decref(counters);                                                                     \
        counters = NULL;                                                                           \
    }
    PC_AGENT_COUNTERS(PC_COUNTER_JSON)
#undef PC_COUNTER_JSON
    size_t holding = pc_agent_holding(a);
    if (ans) {
        json_object_set_new(ans, "host", json_string(a->opts.host_id));
        json_object_set_new(ans, "version", json_string(PORTCO_VERSION_STRING));
        json_object_set_new(ans, "zookeeper",
                            json_string(pc_zk_state_name(pc_zk_get_state(a->zk))));
        json_object_set_new(ans, "ready", json_boolean(a->pools_ready));
        json_object_set_new(ans, "pools", pools ? pools : json_array());
        json_object_set_new(ans, "claims", json_integer((json_int_t)a->nholds));
        json_object_set_new(ans, "holding", json_integer((json_int_t)holding));
        json_object_set_new(ans, "session", json_string(session));
        json_object_set_new(ans, "counters", counters ? counters : json_object());
    } else {
        json_decref(pools);
        json_decref(counters);
    }
    return ans != NULL;
}

bool pc_listing_serving(const pc_agent *a)
{
    return a->pools_ready && a->zk && pc_zk_get_state(a->zk) == PC_ZK_CONNECTED;
}

json_t *pc_listing_status_json(pc_agent *a)
{
    json_t *o = json_object();
    pc_listing_status_fill(a, o);
    return o;
}

void pc_listing_status(pc_conn *c, pc_creq *r)
{
    json_t *ans = pc_answer_ok(r->req.id);
    pc_listing_status_fill(c->agent, ans);
    pc_conn_finish(c, r, ans, -1);
}
