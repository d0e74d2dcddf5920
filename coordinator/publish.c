/* publish.c - read <root>/config, diff it against the cluster file, write the difference. */
#include "publish.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "zkpath.h"

#define PC_PUB_RETRY_MS 1000
/* Ops per multi besides the fence check; keeps each request far below jute.maxbuffer. */
#define PC_PUB_BATCH 500

typedef enum { PC_NODE_POOL, PC_NODE_STATIC_DIR, PC_NODE_STATIC, PC_NODE_PARENT } pc_node_kind;

/* What a write does, for the counters. */
typedef enum {
    PC_CH_NONE,
    PC_CH_POOL_NEW,
    PC_CH_POOL_SET,
    PC_CH_POOL_DEL,
    PC_CH_STATIC_NEW,
    PC_CH_STATIC_SET,
    PC_CH_STATIC_DEL
} pc_change;

/* A znode read from ZooKeeper. */
typedef struct pc_node {
    char *path;
    char *data; /* NULL: no data */
    int len;
    int version;
    pc_node_kind kind;
} pc_node;

/* A write to make, kept until its multi completes. */
typedef struct pc_write {
    int type; /* ZOO_CREATE_OP, ZOO_SETDATA_OP, ZOO_DELETE_OP */
    char *path;
    char *data;
    int version;
    pc_change change;
} pc_write;

typedef struct pc_pub_cycle {
    pc_pub *p;
    bool abandoned; /* publishing stopped: free once nothing is pending */
    int pending;    /* requests in flight */
    int fail_zrc;   /* first failure of the read phase */
    char fail_path[PC_ZKP_PATH_MAX];

    pc_node *cur; /* what ZooKeeper holds */
    size_t ncur, capcur;
    json_t *index; /* path -> position in cur */

    pc_write *w;
    size_t nw, capw;
    size_t next;        /* first write of the batch in flight */
    size_t batch;       /* writes in the batch in flight */
    unsigned unchanged; /* pools and statics already right */

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
    for (size_t i = 0; i < c->ncur; i++) {
        free(c->cur[i].path);
        free(c->cur[i].data);
    }
    free(c->cur);
    for (size_t i = 0; i < c->nw; i++) {
        free(c->w[i].path);
        free(c->w[i].data);
    }
    free(c->w);
    json_decref(c->index);
    free(c);
}

/* A request of c completed: false when c was abandoned (and maybe freed). */
static bool pc_cycle_back(pc_pub_cycle *c)
{
    c->pending--;
    if (!c->abandoned)
        return true;
    if (c->pending == 0)
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
    if (c->pending == 0)
        pc_cycle_free(c);
    else
        c->abandoned = true;
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

static int pc_cycle_add_node(pc_pub_cycle *c, const char *path, pc_node_kind kind)
{
    if (c->ncur == c->capcur) {
        size_t cap = c->capcur ? c->capcur * 2 : 32;
        pc_node *v = realloc(c->cur, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        c->cur = v;
        c->capcur = cap;
    }
    pc_node *n = &c->cur[c->ncur];
    memset(n, 0, sizeof(*n));
    n->path = strdup(path);
    n->kind = kind;
    n->version = -1;
    n->len = -1;
    if (!n->path || json_object_set_new(c->index, path, json_integer((json_int_t)c->ncur)) < 0) {
        free(n->path);
        return -ENOMEM;
    }
    return (int)c->ncur++;
}

static pc_node *pc_cycle_find(pc_pub_cycle *c, const char *path)
{
    json_t *i = json_object_get(c->index, path);
    return i ? &c->cur[json_integer_value(i)] : NULL;
}

/* Context of one read: the cycle and the node it fills. */
typedef struct pc_read {
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
    if (c->pending > 0)
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
    pc_read *r = (pc_read *)data;
    pc_pub_cycle *c = r->c;
    int node = r->node;
    free(r);
    if (!pc_cycle_back(c))
        return;
    pc_node *n = &c->cur[node];
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
    r->c = c;
    r->node = node;
    int zrc = zoo_aget(pc_zk_handle(c->p->zk), c->cur[node].path, 0, pc_read_got, r);
    if (zrc != ZOK)
        free(r);
    else
        c->pending++;
    return zrc;
}

/*
 * Children of a listed directory: pools and statics are read (data and
 * version); static directories and pool directories are listed further.
 */
static void pc_read_listed(int zrc, const struct String_vector *kids, const void *data)
{
    pc_read *r = (pc_read *)data;
    pc_pub_cycle *c = r->c;
    pc_node_kind kind = r->child_kind;
    int node = r->node;
    free(r);
    if (!pc_cycle_back(c))
        return;
    const char *dir = node >= 0 ? c->cur[node].path : NULL;
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
        int at = pc_cycle_add_node(c, path, kind);
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
    pc_node *n = pc_cycle_find(c, path);
    r->c = c;
    r->node = n ? (int)(n - c->cur) : -1;
    r->child_kind = child_kind;
    int zrc = zoo_aget_children(pc_zk_handle(c->p->zk), path, 0, pc_read_listed, r);
    if (zrc != ZOK)
        free(r);
    else
        c->pending++;
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

typedef struct pc_mk {
    pc_pub_cycle *c;
} pc_mk;

static void pc_read_dirs_made(int rc, void *ud)
{
    pc_mk *m = ud;
    pc_pub_cycle *c = m->c;
    free(m);
    if (!pc_cycle_back(c))
        return;
    if (rc < 0 && c->fail_zrc == ZOK) {
        c->fail_zrc = rc == PORTCO_EZKUNAVAIL ? ZCONNECTIONLOSS : ZAPIERROR;
        snprintf(c->fail_path, sizeof(c->fail_path), "%s", c->p->root);
    }
    if (c->pending > 0)
        return;
    if (c->fail_zrc != ZOK)
        pc_cycle_fail(c, c->fail_zrc, "create", c->fail_path);
    else
        pc_read_top(c);
}

/* ---- diff and write ---- */

static int pc_cycle_add_write(pc_pub_cycle *c, int type, const char *path, const char *data,
                              int version, pc_change change)
{
    if (c->nw == c->capw) {
        size_t cap = c->capw ? c->capw * 2 : 32;
        pc_write *v = realloc(c->w, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        c->w = v;
        c->capw = cap;
    }
    pc_write *w = &c->w[c->nw];
    w->type = type;
    w->path = strdup(path);
    w->data = data ? strdup(data) : NULL;
    w->version = version;
    w->change = change;
    if (!w->path || (data && !w->data)) {
        free(w->path);
        free(w->data);
        return -ENOMEM;
    }
    c->nw++;
    return 0;
}

/* Create or update `path` to hold `json`; count it unchanged when it does. */
static int pc_cycle_upsert(pc_pub_cycle *c, json_t *want, const char *path, const char *json,
                           pc_change create, pc_change update)
{
    if (json_object_set_new(want, path, json_true()) < 0)
        return -ENOMEM;
    pc_node *n = pc_cycle_find(c, path);
    size_t len = strlen(json);
    if (!n)
        return pc_cycle_add_write(c, ZOO_CREATE_OP, path, json, -1, create);
    if (n->data && n->len >= 0 && (size_t)n->len == len && memcmp(n->data, json, len) == 0) {
        c->unchanged++;
        return 0;
    }
    return pc_cycle_add_write(c, ZOO_SETDATA_OP, path, json, n->version, update);
}

/* Create a directory node (empty data) unless it exists. */
static int pc_cycle_ensure_dir(pc_pub_cycle *c, json_t *want, const char *path)
{
    if (json_object_get(want, path))
        return 0; /* already planned (several statics share a directory) */
    if (json_object_set_new(want, path, json_true()) < 0)
        return -ENOMEM;
    if (pc_cycle_find(c, path))
        return 0;
    return pc_cycle_add_write(c, ZOO_CREATE_OP, path, "", -1, PC_CH_NONE);
}

/* Delete every node of `kind` that is not wanted. */
static int pc_cycle_prune(pc_pub_cycle *c, json_t *want, pc_node_kind kind, pc_change change)
{
    for (size_t i = 0; i < c->ncur; i++) {
        pc_node *n = &c->cur[i];
        if (n->kind != kind || json_object_get(want, n->path))
            continue;
        int version = kind == PC_NODE_STATIC_DIR ? -1 : n->version;
        if (pc_cycle_add_write(c, ZOO_DELETE_OP, n->path, NULL, version, change) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Build the ordered list of writes that makes ZooKeeper match the file. */
static int pc_cycle_plan(pc_pub_cycle *c)
{
    pc_pub *p = c->p;
    const pc_cluster *cfg = &p->cfg;
    json_t *want = json_object();
    if (!want)
        return -ENOMEM;
    char path[PC_ZKP_PATH_MAX];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cfg->npools; i++) {
        char *json = pc_pool_to_json_str(&cfg->pools[i]);
        rc = json ? pc_zkp_pool_config(path, sizeof(path), p->root, cfg->pools[i].name) : -ENOMEM;
        if (rc == 0)
            rc = pc_cycle_upsert(c, want, path, json, PC_CH_POOL_NEW, PC_CH_POOL_SET);
        free(json);
    }
    for (size_t i = 0; rc == 0 && i < cfg->nstatics; i++) {
        const pc_static *s = &cfg->statics[i];
        rc = pc_zkp_static_dir(path, sizeof(path), p->root, s->pool);
        if (rc == 0)
            rc = pc_cycle_ensure_dir(c, want, path);
        char *json = rc == 0 ? pc_static_to_json_str(s) : NULL;
        if (rc == 0 && !json)
            rc = -ENOMEM;
        if (rc == 0)
            rc = pc_zkp_static_port(path, sizeof(path), p->root, s->pool, s->port);
        if (rc == 0)
            rc = pc_cycle_upsert(c, want, path, json, PC_CH_STATIC_NEW, PC_CH_STATIC_SET);
        free(json);
    }
    if (rc == 0)
        rc = pc_cycle_prune(c, want, PC_NODE_STATIC, PC_CH_STATIC_DEL);
    if (rc == 0)
        rc = pc_cycle_prune(c, want, PC_NODE_STATIC_DIR, PC_CH_NONE);
    if (rc == 0)
        rc = pc_cycle_prune(c, want, PC_NODE_POOL, PC_CH_POOL_DEL);
    /* Parents of the claims, so agents can create claims under them. */
    for (size_t i = 0; rc == 0 && i < cfg->npools; i++) {
        const char *name = cfg->pools[i].name;
        rc = pc_zkp_pool_dir(path, sizeof(path), p->root, name);
        if (rc == 0)
            rc = pc_cycle_ensure_dir(c, want, path);
        if (rc == 0)
            rc = pc_zkp_ports_dir(path, sizeof(path), p->root, name, NULL);
        if (rc == 0)
            rc = pc_cycle_ensure_dir(c, want, path);
        if (rc == 0)
            rc = pc_zkp_pool_hosts_dir(path, sizeof(path), p->root, name);
        if (rc == 0)
            rc = pc_cycle_ensure_dir(c, want, path);
    }
    json_decref(want);
    return rc;
}

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
    pc_cycle_count(&d, c->w, c->nw);
    const pc_cluster *cfg = &c->p->cfg;
    if (c->nw == 0) {
        pc_info("publish: ZooKeeper already matches the file (%zu pools, %zu statics)", cfg->npools,
                cfg->nstatics);
        return;
    }
    pc_info("publish: pools +%lu ~%lu -%lu, statics +%lu ~%lu -%lu, %u unchanged; %zu writes "
            "(now %zu pools, %zu statics)",
            d.pools_created, d.pools_updated, d.pools_removed, d.statics_created, d.statics_updated,
            d.statics_removed, c->unchanged, c->nw, cfg->npools, cfg->nstatics);
}

static void pc_cycle_send(pc_pub_cycle *c);

static void pc_cycle_written(int zrc, const void *data)
{
    pc_pub_cycle *c = (pc_pub_cycle *)data;
    if (!pc_cycle_back(c))
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
                path = i == 0 ? p->fence : c->w[c->next + i - 1].path;
                break;
            }
        }
        pc_cycle_fail(c, zrc, what, path);
        return;
    }
    p->stats.writes++;
    pc_cycle_count(&p->stats, c->w + c->next, c->batch);
    c->next += c->batch;
    if (c->next < c->nw) {
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
    size_t n = c->nw - c->next;
    if (n > PC_PUB_BATCH)
        n = PC_PUB_BATCH;
    c->batch = n;
    zoo_check_op_init(&c->ops[0], p->fence, -1);
    for (size_t i = 0; i < n; i++) {
        const pc_write *w = &c->w[c->next + i];
        zoo_op_t *op = &c->ops[i + 1];
        if (w->type == ZOO_CREATE_OP)
            zoo_create_op_init(op, w->path, w->data, w->data ? (int)strlen(w->data) : -1,
                               &ZOO_OPEN_ACL_UNSAFE, 0, c->pathbuf, sizeof(c->pathbuf));
        else if (w->type == ZOO_SETDATA_OP)
            zoo_set_op_init(op, w->path, w->data, (int)strlen(w->data), w->version, &c->statbuf);
        else
            zoo_delete_op_init(op, w->path, w->version);
    }
    memset(c->results, 0, sizeof(c->results));
    int zrc = zoo_amulti(pc_zk_handle(p->zk), (int)n + 1, c->ops, c->results, pc_cycle_written, c);
    if (zrc != ZOK) {
        pc_cycle_fail(c, zrc, "multi under", p->root);
        return;
    }
    c->pending++;
}

static void pc_cycle_diff(pc_pub_cycle *c)
{
    if (pc_cycle_plan(c) < 0) {
        pc_err("publish: out of memory while comparing");
        pc_cycle_end(c, false);
        return;
    }
    if (c->nw == 0) {
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
    if (c)
        c->index = json_object();
    if (!c || !c->index) {
        free(c);
        pc_err("publish: out of memory");
        pc_pub_schedule_retry(p);
        return;
    }
    c->p = p;
    c->fail_zrc = ZOK;
    p->cycle = c;
    const char *dirs[] = {p->pools_cfg, p->static_cfg, p->pools_dir};
    c->pending++; /* guard while issuing */
    for (size_t i = 0; i < 3; i++) {
        pc_mk *m = malloc(sizeof(*m));
        if (!m)
            break;
        m->c = c;
        if (pc_zk_mkdirs(p->zk, dirs[i], pc_read_dirs_made, m) < 0) {
            free(m);
            break;
        }
        c->pending++;
    }
    c->pending--;
    if (c->pending == 0) {
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
        if (c->pending == 0)
            pc_cycle_free(c);
        else
            c->abandoned = true;
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
