/* publish.c - read <root>/config, diff it against the cluster file, write the difference. */
#include "publish.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "publish_plan.h"
#include "zkpath.h"

#define PC_PUB_RETRY_MS 1000

typedef struct pc_pub_cycle {
    pc_pub *p;
    pc_zk_reqs reqs; /* requests in flight; an abandoned cycle renews the
                        generation and is freed when nothing is pending */
    pc_zk_req write; /* the multi-op in flight (one at a time) */
    int fail_zrc;    /* first failure of the read phase */
    char fail_path[PC_ZKP_PATH_MAX];

    pc_pub_nodes cur; /* what ZooKeeper holds */
    pc_pub_plan plan; /* the writes that make it match the file */
    size_t next;      /* first write of the batch in flight */
    size_t batch;     /* writes in the batch in flight */

    zoo_op_t ops[PC_PUB_BATCH + 1];
    zoo_op_result_t results[PC_PUB_BATCH + 1];
    char pathbuf[PC_ZKP_PATH_MAX];
    struct Stat statbuf;
} pc_pub_cycle;

struct pc_pub {
    struct event_base *base;
    pc_zk *zk;
    char root[PC_ZKP_PATH_MAX];
    char pools_cfg[PC_ZKP_PATH_MAX];  /* <root>/config/pools */
    char static_cfg[PC_ZKP_PATH_MAX]; /* <root>/config/static */
    char pools_dir[PC_ZKP_PATH_MAX];  /* <root>/pools */
    char fence[PC_ZKP_PATH_MAX];
    pc_cluster cfg;
    bool have_cfg;
    bool on;    /* leading: publish */
    bool dirty; /* config or session changed since the cycle in flight began */
    pc_pub_cycle *cycle;
    struct event *retry;
    pc_pub_stats stats;
    pc_pub_cb cb;
    void *ud;
};

static void pc_pub_run(pc_pub *p);

/* ---- cycle bookkeeping ---- */

static void pc_cycle_free(pc_pub_cycle *c)
{
    pc_pub_nodes_free(&c->cur);
    pc_pub_plan_free(&c->plan);
    free(c);
}

/* Leave c to its pending requests (their answers are stale now): free it
 * now when none is pending, else when the last one is taken back. */
static void pc_cycle_abandon(pc_pub_cycle *c)
{
    if (c->reqs.pending == 0)
        pc_cycle_free(c);
    else
        pc_zk_reqs_renew(&c->reqs);
}

/* A request of c was taken back (pc_zk_req_take() said whether it is
 * `current`): false when c was abandoned (and maybe freed). */
static bool pc_cycle_back(pc_pub_cycle *c, bool current)
{
    if (current)
        return true;
    if (c->reqs.pending == 0)
        pc_cycle_free(c);
    return false;
}

static void pc_pub_schedule_retry(pc_pub *p)
{
    struct timeval tv = {PC_PUB_RETRY_MS / 1000, (PC_PUB_RETRY_MS % 1000) * 1000};
    evtimer_add(p->retry, &tv);
}

/* End the cycle in flight; ok false schedules a retry. */
static void pc_cycle_end(pc_pub_cycle *c, bool ok)
{
    pc_pub *p = c->p;
    p->cycle = NULL;
    pc_cycle_abandon(c);
    if (!ok) {
        p->stats.failures++;
        pc_pub_schedule_retry(p);
        return;
    }
    p->stats.cycles++;
    if (p->cb)
        p->cb(p, p->ud);
    if (p->dirty && p->on)
        pc_pub_run(p);
}

static void pc_cycle_fail(pc_pub_cycle *c, int zrc, const char *what, const char *path)
{
    if (zrc != ZCLOSING)
        pc_warn("publish: %s %s: %s; retrying in %d ms", what, path, zerror(zrc), PC_PUB_RETRY_MS);
    pc_cycle_end(c, false);
}

/* Context of one read: the cycle and the node it fills. */
typedef struct pc_read {
    pc_zk_req req; /* its completion's data */
    pc_pub_cycle *c;
    int node;
    pc_node_kind child_kind; /* for listings: the kind of the children */
} pc_read;

static void pc_cycle_diff(pc_pub_cycle *c);

/* One read finished: record a failure, and diff when it was the last. */
static void pc_read_finished(pc_pub_cycle *c, int zrc, const char *path)
{
    if (zrc != ZOK && c->fail_zrc == ZOK) {
        c->fail_zrc = zrc;
        snprintf(c->fail_path, sizeof(c->fail_path), "%s", path);
    }
    if (c->reqs.pending > 0)
        return;
    if (c->fail_zrc != ZOK)
        pc_cycle_fail(c, c->fail_zrc, "read", c->fail_path);
    else
        pc_cycle_diff(c);
}

/* ---- read phase ---- */

static void pc_read_got(int zrc, const char *value, int len, const struct Stat *stat,
                        const void *data)
{
    bool current;
    pc_read *r = pc_zk_req_take(data, &current);
    pc_pub_cycle *c = r->c;
    int node = r->node;
    free(r);
    if (!pc_cycle_back(c, current))
        return;
    pc_node *n = &c->cur.v[node];
    if (zrc == ZOK) {
        n->version = stat ? stat->version : -1;
        n->len = value ? len : -1;
        if (value && len >= 0) {
            n->data = malloc((size_t)len + 1);
            if (!n->data)
                zrc = ZSYSTEMERROR;
            else {
                memcpy(n->data, value, (size_t)len);
                n->data[len] = '\0';
            }
        }
    }
    pc_read_finished(c, zrc, n->path);
}

static int pc_read_list(pc_pub_cycle *c, const char *path, pc_node_kind child_kind);

static int pc_read_get(pc_pub_cycle *c, int node)
{
    pc_read *r = malloc(sizeof(*r));
    if (!r)
        return ZSYSTEMERROR;
    pc_zk_req_init(&r->req, &c->reqs, r);
    r->c = c;
    r->node = node;
    int zrc = zoo_aget(pc_zk_handle(c->p->zk), c->cur.v[node].path, 0, pc_read_got, &r->req);
    if (pc_zk_req_sent(&r->req, zrc) != 0)
        free(r);
    return zrc;
}

/*
 * Children of a listed directory: pools and statics are read (data and
 * version); static directories and pool directories are listed further.
 */
static void pc_read_listed(int zrc, const struct String_vector *kids, const void *data)
{
    bool current;
    pc_read *r = pc_zk_req_take(data, &current);
    pc_pub_cycle *c = r->c;
    pc_node_kind kind = r->child_kind;
    int node = r->node;
    free(r);
    if (!pc_cycle_back(c, current))
        return;
    const char *dir = node >= 0 ? c->cur.v[node].path : NULL;
    char dirbuf[PC_ZKP_PATH_MAX];
    if (!dir) {
        /* A top-level listing: which one follows from the kind of its children. */
        dir = kind == PC_NODE_POOL         ? c->p->pools_cfg
              : kind == PC_NODE_STATIC_DIR ? c->p->static_cfg
                                           : c->p->pools_dir;
    }
    snprintf(dirbuf, sizeof(dirbuf), "%s", dir);
    if (zrc == ZNONODE && node >= 0)
        zrc = ZOK; /* a directory removed meanwhile: nothing below it */
    for (int i = 0; zrc == ZOK && kids && i < kids->count; i++) {
        char path[PC_ZKP_PATH_MAX];
        if (pc_zkp_join(path, sizeof(path), dirbuf, kids->data[i]) < 0)
            continue; /* not a name we could have written */
        int at = pc_pub_nodes_add(&c->cur, path, kind);
        if (at < 0) {
            zrc = ZSYSTEMERROR;
            break;
        }
        if (kind == PC_NODE_POOL || kind == PC_NODE_STATIC)
            zrc = pc_read_get(c, at);
        else if (kind == PC_NODE_STATIC_DIR)
            zrc = pc_read_list(c, path, PC_NODE_STATIC);
        else if (node < 0) /* <root>/pools/<pool>: list its ports/hosts */
            zrc = pc_read_list(c, path, PC_NODE_PARENT);
    }
    pc_read_finished(c, zrc, dirbuf);
}

/* List `path` (a directory node already in cur, or a top-level one). */
static int pc_read_list(pc_pub_cycle *c, const char *path, pc_node_kind child_kind)
{
    pc_read *r = malloc(sizeof(*r));
    if (!r)
        return ZSYSTEMERROR;
    pc_node *n = pc_pub_nodes_find(&c->cur, path);
    pc_zk_req_init(&r->req, &c->reqs, r);
    r->c = c;
    r->node = n ? (int)(n - c->cur.v) : -1;
    r->child_kind = child_kind;
    int zrc = zoo_aget_children(pc_zk_handle(c->p->zk), path, 0, pc_read_listed, &r->req);
    if (pc_zk_req_sent(&r->req, zrc) != 0)
        free(r);
    return zrc;
}

static void pc_read_top(pc_pub_cycle *c)
{
    pc_pub *p = c->p;
    /* A listing that cannot be queued is recorded; the queued ones finish the phase. */
    int zrc = pc_read_list(c, p->pools_cfg, PC_NODE_POOL);
    if (zrc == ZOK)
        zrc = pc_read_list(c, p->static_cfg, PC_NODE_STATIC_DIR);
    if (zrc == ZOK)
        zrc = pc_read_list(c, p->pools_dir, PC_NODE_PARENT);
    pc_read_finished(c, zrc, p->root);
}

static void pc_read_dirs_made(int rc, void *ud)
{
    bool current;
    pc_pub_cycle *c = pc_zk_req_take(ud, &current);
    if (!pc_cycle_back(c, current))
        return;
    if (rc < 0 && c->fail_zrc == ZOK) {
        c->fail_zrc = pc_zk_zrc(rc);
        snprintf(c->fail_path, sizeof(c->fail_path), "%s", c->p->root);
    }
    if (c->reqs.pending > 0)
        return;
    if (c->fail_zrc != ZOK)
        pc_cycle_fail(c, c->fail_zrc, "create", c->fail_path);
    else
        pc_read_top(c);
}

/* ---- diff and write ---- */

static void pc_cycle_count(pc_pub_stats *st, const pc_write *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (w[i].change) {
        case PC_CH_POOL_NEW:
            st->pools_created++;
            break;
        case PC_CH_POOL_SET:
            st->pools_updated++;
            break;
        case PC_CH_POOL_DEL:
            st->pools_removed++;
            break;
        case PC_CH_STATIC_NEW:
            st->statics_created++;
            break;
        case PC_CH_STATIC_SET:
            st->statics_updated++;
            break;
        case PC_CH_STATIC_DEL:
            st->statics_removed++;
            break;
        case PC_CH_NONE:
            break;
        }
    }
}

static void pc_cycle_log(const pc_pub_cycle *c)
{
    pc_pub_stats d = {0};
    pc_cycle_count(&d, c->plan.w, c->plan.nw);
    const pc_cluster *cfg = &c->p->cfg;
    if (c->plan.nw == 0) {
        pc_info("publish: ZooKeeper already matches the file (%zu pools, %zu statics)", cfg->npools,
                cfg->nstatics);
        return;
    }
    pc_info("publish: pools +%lu ~%lu -%lu, statics +%lu ~%lu -%lu, %u unchanged; %zu writes "
            "(now %zu pools, %zu statics)",
            d.pools_created, d.pools_updated, d.pools_removed, d.statics_created, d.statics_updated,
            d.statics_removed, c->plan.unchanged, c->plan.nw, cfg->npools, cfg->nstatics);
}

static void pc_cycle_send(pc_pub_cycle *c);

static void pc_cycle_written(int zrc, const void *data)
{
    bool current;
    pc_pub_cycle *c = pc_zk_req_take(data, &current);
    if (!pc_cycle_back(c, current))
        return;
    pc_pub *p = c->p;
    if (zrc != ZOK) {
        /* Name the op that failed: results[0] is the fence check. */
        const char *what = "write";
        const char *path = "";
        for (size_t i = 0; i <= c->batch; i++) {
            int e = c->results[i].err;
            if (e != ZOK && e != ZRUNTIMEINCONSISTENCY) {
                zrc = e;
                what = i == 0 ? "check of our election node" : "write";
                path = i == 0 ? p->fence : c->plan.w[c->next + i - 1].path;
                break;
            }
        }
        pc_cycle_fail(c, zrc, what, path);
        return;
    }
    p->stats.writes++;
    pc_cycle_count(&p->stats, c->plan.w + c->next, c->batch);
    c->next += c->batch;
    if (c->next < c->plan.nw) {
        pc_cycle_send(c);
        return;
    }
    pc_cycle_log(c);
    pc_cycle_end(c, true);
}

/* Send the next batch of writes as one multi-op behind the fence check. */
static void pc_cycle_send(pc_pub_cycle *c)
{
    pc_pub *p = c->p;
    size_t n = pc_pub_plan_batch(&c->plan, c->next);
    c->batch = n;
    zoo_check_op_init(&c->ops[0], p->fence, -1);
    for (size_t i = 0; i < n; i++) {
        const pc_write *w = &c->plan.w[c->next + i];
        zoo_op_t *op = &c->ops[i + 1];
        if (w->op == PC_WRITE_CREATE)
            zoo_create_op_init(op, w->path, w->data, w->data ? (int)strlen(w->data) : -1,
                               &ZOO_OPEN_ACL_UNSAFE, 0, c->pathbuf, sizeof(c->pathbuf));
        else if (w->op == PC_WRITE_SET)
            zoo_set_op_init(op, w->path, w->data, (int)strlen(w->data), w->version, &c->statbuf);
        else
            zoo_delete_op_init(op, w->path, w->version);
    }
    memset(c->results, 0, sizeof(c->results));
    pc_zk_req_init(&c->write, &c->reqs, c);
    int zrc = zoo_amulti(pc_zk_handle(p->zk), (int)n + 1, c->ops, c->results, pc_cycle_written,
                         &c->write);
    if (pc_zk_req_sent(&c->write, zrc) != 0)
        pc_cycle_fail(c, zrc, "multi under", p->root);
}

static void pc_cycle_diff(pc_pub_cycle *c)
{
    pc_pub *p = c->p;
    if (pc_pub_plan_make(&c->plan, p->root, &p->cfg, &c->cur) < 0) {
        pc_err("publish: out of memory while comparing");
        pc_cycle_end(c, false);
        return;
    }
    if (c->plan.nw == 0) {
        pc_cycle_log(c);
        pc_cycle_end(c, true);
        return;
    }
    pc_cycle_send(c);
}

/* ---- driver ---- */

static void pc_pub_run(pc_pub *p)
{
    if (!p->on || !p->have_cfg)
        return;
    if (p->cycle) {
        p->dirty = true;
        return;
    }
    evtimer_del(p->retry);
    p->dirty = false;
    pc_pub_cycle *c = calloc(1, sizeof(*c));
    if (!c || pc_pub_nodes_init(&c->cur) < 0) {
        if (c)
            pc_cycle_free(c);
        pc_err("publish: out of memory");
        pc_pub_schedule_retry(p);
        return;
    }
    c->p = p;
    c->fail_zrc = ZOK;
    p->cycle = c;
    const char *dirs[] = {p->pools_cfg, p->static_cfg, p->pools_dir};
    c->reqs.pending++; /* held while issuing: no completion finds the count at 0 */
    for (size_t i = 0; i < 3; i++) {
        pc_zk_req *m = pc_zk_req_new(&c->reqs, c);
        int rc = m ? pc_zk_mkdirs(p->zk, dirs[i], pc_read_dirs_made, m) : -ENOMEM;
        if (pc_zk_req_sent(m, rc == 0 ? ZOK : ZSYSTEMERROR) != 0)
            break;
    }
    c->reqs.pending--;
    if (c->reqs.pending == 0) {
        pc_err("publish: cannot start a cycle");
        pc_cycle_end(c, false);
    }
}

static void pc_pub_on_retry(evutil_socket_t fd, short what, void *arg)
{
    pc_pub_run(arg);
}

int pc_pub_new(struct event_base *base, pc_zk *zk, const char *root, pc_pub_cb cb, void *ud,
               pc_pub **out, pc_error *err)
{
    if (!base || !zk || !out)
        return pc_error_set(err, -EINVAL, "publish: bad arguments");
    pc_pub *p = calloc(1, sizeof(*p));
    if (!p)
        return pc_error_set(err, -ENOMEM, "out of memory");
    p->base = base;
    p->zk = zk;
    p->cb = cb;
    p->ud = ud;
    if (pc_zkp_check_root(root) < 0 || strlen(root) >= sizeof(p->root) ||
        pc_zkp_config_pools_dir(p->pools_cfg, sizeof(p->pools_cfg), root) < 0 ||
        pc_zkp_static_root(p->static_cfg, sizeof(p->static_cfg), root) < 0 ||
        pc_zkp_pools_dir(p->pools_dir, sizeof(p->pools_dir), root) < 0) {
        free(p);
        return pc_error_set(err, -EINVAL, "publish: bad ZooKeeper root '%s'", root);
    }
    snprintf(p->root, sizeof(p->root), "%s", root);
    p->retry = evtimer_new(base, pc_pub_on_retry, p);
    if (!p->retry) {
        free(p);
        return pc_error_set(err, -ENOMEM, "out of memory");
    }
    *out = p;
    return 0;
}

void pc_pub_free(pc_pub *p)
{
    if (!p)
        return;
    pc_pub_stop(p);
    event_free(p->retry);
    pc_cluster_free(&p->cfg);
    free(p);
}

void pc_pub_set_config(pc_pub *p, pc_cluster *c)
{
    pc_cluster_free(&p->cfg);
    p->cfg = *c;
    memset(c, 0, sizeof(*c));
    p->have_cfg = true;
    p->dirty = true;
    pc_pub_run(p);
}

void pc_pub_start(pc_pub *p, const char *fence)
{
    snprintf(p->fence, sizeof(p->fence), "%s", fence ? fence : "");
    p->on = true;
    pc_pub_run(p);
}

void pc_pub_stop(pc_pub *p)
{
    p->on = false;
    evtimer_del(p->retry);
    if (p->cycle) {
        pc_pub_cycle *c = p->cycle;
        p->cycle = NULL;
        pc_cycle_abandon(c);
    }
}

void pc_pub_kick(pc_pub *p)
{
    pc_pub_run(p);
}

const pc_pub_stats *pc_pub_get_stats(const pc_pub *p)
{
    return &p->stats;
}
