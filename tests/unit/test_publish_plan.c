/* test_publish_plan.c - the coordinator's publish plan: which writes, in which order, in which
 * batches. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_json.h"
#include "publish_plan.h"

static void load(const char *yaml, pc_cluster *c, const char *row)
{
    pc_diags d = PC_DIAGS_INIT;
    int rc = pc_cluster_load_string("test.yaml", yaml, strlen(yaml), c, &d);
    cr_assert_eq(rc, 0, "%s: the cluster file does not load", row);
    pc_diags_free(&d);
}

/* The kinds of node under root that the plan decides about. */
typedef enum { K_POOL, K_STATIC_DIR, K_STATIC, K_OTHER } path_kind;

/* What `path` is; the pool it belongs to goes to pool (for the first three kinds). */
static path_kind classify(const pc_cluster *c, const char *path, char *pool)
{
    size_t nroot = strlen(c->root);
    if (strncmp(path, c->root, nroot) != 0)
        return K_OTHER;
    path += nroot;
    unsigned port;
    int end = -1;
    if (sscanf(path, "/config/static/%63[^/]/%u%n", pool, &port, &end) == 2 && path[end] == '\0')
        return K_STATIC;
    end = -1;
    if (sscanf(path, "/config/static/%63[^/]%n", pool, &end) == 1 && path[end] == '\0')
        return K_STATIC_DIR;
    end = -1;
    if (sscanf(path, "/config/pools/%63[^/]%n", pool, &end) == 1 && path[end] == '\0')
        return K_POOL;
    return K_OTHER;
}

/* What the file gives for a pool or static node, malloc'd; NULL when it gives none. */
static char *file_data(const pc_cluster *c, const char *path)
{
    char pool[PC_POOL_NAME_MAX + 1];
    path_kind k = classify(c, path, pool);
    if (k == K_STATIC) {
        const pc_static *s = pc_cluster_static_for(c, pool, (uint32_t)atoi(strrchr(path, '/') + 1));
        return s ? pc_static_to_json_str(s) : NULL;
    }
    if (k == K_POOL) {
        const pc_pool *p = pc_cluster_find_pool(c, pool);
        return p ? pc_pool_to_json_str(p) : NULL;
    }
    return NULL;
}

static bool pool_has_statics(const pc_cluster *c, const char *pool)
{
    for (size_t i = 0; i < c->nstatics; i++)
        if (strcmp(c->statics[i].pool, pool) == 0)
            return true;
    return false;
}

/*
 * Nodes read, "kind path version data; ...": kind is pool, sdir, static or
 * parent; data is '=' (what the file gives), '<' (that less its last byte),
 * '>' (that and one byte more), 'x' (something else) or '-' (none).
 */
static void read_nodes(pc_pub_nodes *ns, const pc_cluster *c, const char *spec, const char *row)
{
    cr_assert_eq(pc_pub_nodes_init(ns), 0);
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        char kind[8], path[256], data[4];
        int version;
        cr_assert_eq(sscanf(tok, " %7s %255s %d %3s", kind, path, &version, data), 4,
                     "%s: bad node '%s'", row, tok);
        pc_node_kind k = strcmp(kind, "pool") == 0     ? PC_NODE_POOL
                         : strcmp(kind, "sdir") == 0   ? PC_NODE_STATIC_DIR
                         : strcmp(kind, "static") == 0 ? PC_NODE_STATIC
                                                       : PC_NODE_PARENT;
        int at = pc_pub_nodes_add(ns, path, k);
        cr_assert_geq(at, 0);
        pc_node *n = &ns->v[at];
        n->version = version;
        if (data[0] == '-')
            continue;
        n->data = data[0] == 'x' ? strdup("{\"other\":true}") : file_data(c, path);
        cr_assert_not_null(n->data, "%s: the file has no data for %s", row, path);
        if (data[0] == '<')
            n->data[strlen(n->data) - 1] = '\0';
        if (data[0] == '>') {
            size_t len = strlen(n->data);
            n->data = realloc(n->data, len + 2);
            memcpy(n->data + len, " ", 2);
        }
        n->len = (int)strlen(n->data);
    }
}

static const char *change_tag(pc_change ch)
{
    static const char *tags[] = {
        [PC_CH_NONE] = "",
        [PC_CH_POOL_NEW] = " pool+",
        [PC_CH_POOL_SET] = " pool~",
        [PC_CH_POOL_DEL] = " pool-",
        [PC_CH_STATIC_NEW] = " static+",
        [PC_CH_STATIC_SET] = " static~",
        [PC_CH_STATIC_DEL] = " static-",
    };
    return tags[ch];
}

/* The plan as text, a line per write: "C path tag", "S path @version tag", "D path @version tag".
 */
static void plan_text(const pc_pub_plan *plan, char *out, size_t len)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < plan->nw && at < len; i++) {
        const pc_write *w = &plan->w[i];
        if (w->op == PC_WRITE_CREATE)
            at += (size_t)snprintf(out + at, len - at, "C %s%s\n", w->path, change_tag(w->change));
        else
            at += (size_t)snprintf(out + at, len - at, "%c %s @%d%s\n",
                                   w->op == PC_WRITE_SET ? 'S' : 'D', w->path, w->version,
                                   change_tag(w->change));
    }
}

/* The parent of a path, in place. */
static void parent_of(char *path)
{
    char *slash = strrchr(path, '/');
    *slash = '\0';
}

/*
 * Apply the plan, write by write, to a model of ZooKeeper holding the nodes
 * read, and check after each write what ZooKeeper and the agents require: a
 * create's parent exists and the node does not, a set's and a delete's node
 * exists, a deleted node has no children, and every static present has its
 * pool. At the end the model must hold exactly what the file gives.
 */
static void check_plan(const pc_pub_plan *plan, const pc_cluster *c, const pc_pub_nodes *cur,
                       const char *row)
{
    json_t *zk = json_object(); /* path -> data ("" for none) */
    char top[3][256];
    snprintf(top[0], sizeof(top[0]), "%s/config/pools", c->root);
    snprintf(top[1], sizeof(top[1]), "%s/config/static", c->root);
    snprintf(top[2], sizeof(top[2]), "%s/pools", c->root);
    for (int i = 0; i < 3; i++)
        json_object_set_new(zk, top[i], json_string(""));
    for (size_t i = 0; i < cur->n; i++)
        json_object_set_new(zk, cur->v[i].path, json_string(cur->v[i].data ? cur->v[i].data : ""));
    for (size_t i = 0; i < plan->nw; i++) {
        const pc_write *w = &plan->w[i];
        char parent[256], pool[PC_POOL_NAME_MAX + 1];
        snprintf(parent, sizeof(parent), "%s", w->path);
        parent_of(parent);
        bool exists = json_object_get(zk, w->path) != NULL;
        char *want = file_data(c, w->path);
        if (w->op == PC_WRITE_CREATE) {
            cr_assert_not(exists, "%s: write %zu creates %s, which exists", row, i, w->path);
            cr_assert(json_object_get(zk, parent), "%s: write %zu creates %s before its parent",
                      row, i, w->path);
        } else {
            cr_assert(exists, "%s: write %zu changes %s, which does not exist", row, i, w->path);
        }
        if (w->op == PC_WRITE_DELETE) {
            cr_assert_null(w->data, "%s: a delete with data", row);
            const char *k;
            json_t *v;
            size_t n = strlen(w->path);
            json_object_foreach(zk, k, v)
            {
                cr_assert(strncmp(k, w->path, n) != 0 || k[n] != '/',
                          "%s: write %zu deletes %s before its child %s", row, i, w->path, k);
            }
            json_object_del(zk, w->path);
        } else {
            cr_assert_str_eq(w->data, want ? want : "", "%s: write %zu to %s", row, i, w->path);
            json_object_set_new(zk, w->path, json_string(w->data));
        }
        free(want);
        const char *k;
        json_t *v;
        json_object_foreach(zk, k, v)
        {
            if (classify(c, k, pool) != K_STATIC)
                continue;
            char pool_path[512];
            snprintf(pool_path, sizeof(pool_path), "%s/config/pools/%s", c->root, pool);
            cr_assert(json_object_get(zk, pool_path), "%s: after write %zu, %s has no pool", row, i,
                      k);
        }
    }
    /* The end state: what the file gives, claim trees kept. */
    const char *k;
    json_t *v;
    json_object_foreach(zk, k, v)
    {
        char pool[PC_POOL_NAME_MAX + 1];
        path_kind pk = classify(c, k, pool);
        char *want = file_data(c, k);
        if (pk == K_POOL || pk == K_STATIC)
            cr_assert(want && strcmp(json_string_value(v), want) == 0,
                      "%s: %s holds '%s' at the end; the file gives '%s'", row, k,
                      json_string_value(v), want ? want : "nothing");
        else if (pk == K_STATIC_DIR)
            cr_assert(pool_has_statics(c, pool), "%s: %s is left without statics", row, k);
        free(want);
    }
    for (size_t i = 0; i < c->npools; i++) {
        const char *sub[] = {"", "/ports", "/hosts"};
        for (int j = 0; j < 3; j++) {
            char path[512];
            snprintf(path, sizeof(path), "%s/pools/%s%s", c->root, c->pools[i].name, sub[j]);
            cr_assert(json_object_get(zk, path), "%s: %s is missing at the end", row, path);
        }
    }
    for (size_t i = 0; i < c->nstatics; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/config/static/%s/%u", c->root, c->statics[i].pool,
                 c->statics[i].port);
        cr_assert(json_object_get(zk, path), "%s: %s is missing at the end", row, path);
    }
    json_decref(zk);
}

typedef struct plan_row {
    char name[80];
    char yaml[320];  /* the cluster file */
    char nodes[640]; /* what was read, as read_nodes takes it */
    char want[640];  /* the plan, as plan_text writes it */
    unsigned unchanged;
} plan_row;

#define ONE_POOL   "root: /r\npools:\n  - {name: web, range: 30000-30009}\n"
#define ONE_STATIC ONE_POOL "static:\n  - {pool: web, port: 30003, service: fe}\n"
#define WEB_PARENTS                                                                                \
    "parent /r/pools/web -1 -; parent /r/pools/web/ports -1 -; parent /r/pools/web/hosts -1 -;"
#define TWO_POOLS                                                                                  \
    "root: /r\npools:\n  - {name: a, range: 10000-10009}\n  - {name: b, range: 20000-20009}\n"

static plan_row plan_rows[] = {
    {"empty ZooKeeper: everything is created, the pool first", ONE_STATIC, "",
     "C /r/config/pools/web pool+\nC /r/config/static/web\nC /r/config/static/web/30003 static+\n"
     "C /r/pools/web\nC /r/pools/web/ports\nC /r/pools/web/hosts\n",
     0},
    {"unchanged nodes produce no writes", ONE_STATIC,
     "pool /r/config/pools/web 3 =; sdir /r/config/static/web -1 -;"
     "static /r/config/static/web/30003 1 =;" WEB_PARENTS,
     "", 2},
    {"a changed pool is set at the version read", ONE_STATIC,
     "pool /r/config/pools/web 3 x; sdir /r/config/static/web -1 -;"
     "static /r/config/static/web/30003 1 =;" WEB_PARENTS,
     "S /r/config/pools/web @3 pool~\n", 1},
    {"a pool node without data is set", ONE_POOL, "pool /r/config/pools/web 0 -;" WEB_PARENTS,
     "S /r/config/pools/web @0 pool~\n", 0},
    {"data that differs only by its last byte is set", ONE_POOL,
     "pool /r/config/pools/web 9 <;" WEB_PARENTS, "S /r/config/pools/web @9 pool~\n", 0},
    {"data that the file's data is a prefix of is set", ONE_POOL,
     "pool /r/config/pools/web 9 >;" WEB_PARENTS, "S /r/config/pools/web @9 pool~\n", 0},
    {"a changed static is set at the version read", ONE_STATIC,
     "pool /r/config/pools/web 3 =; sdir /r/config/static/web -1 -;"
     "static /r/config/static/web/30003 7 x;" WEB_PARENTS,
     "S /r/config/static/web/30003 @7 static~\n", 1},
    {"a removed static goes, then its directory at any version", ONE_POOL,
     "pool /r/config/pools/web 3 =; sdir /r/config/static/web 2 -;"
     "static /r/config/static/web/30003 4 x;" WEB_PARENTS,
     "D /r/config/static/web/30003 @4 static-\nD /r/config/static/web @-1\n", 1},
    {"a removed pool goes after its statics; its claim tree stays", ONE_POOL,
     "pool /r/config/pools/web 3 =; pool /r/config/pools/old 5 x;"
     "sdir /r/config/static/old -1 -; static /r/config/static/old/40001 2 x;" WEB_PARENTS
     "parent /r/pools/old -1 -; parent /r/pools/old/ports -1 -; parent /r/pools/old/hosts -1 -",
     "D /r/config/static/old/40001 @2 static-\nD /r/config/static/old @-1\n"
     "D /r/config/pools/old @5 pool-\n",
     1},
    {"statics come in file order, each after its directory",
     TWO_POOLS "static:\n  - {pool: b, port: 20001, service: s1}\n"
               "  - {pool: a, port: 10001, service: s2}\n  - {pool: b, port: 20002, service: s3}\n",
     "",
     "C /r/config/pools/a pool+\nC /r/config/pools/b pool+\nC /r/config/static/b\n"
     "C /r/config/static/b/20001 static+\nC /r/config/static/a\nC /r/config/static/a/10001 "
     "static+\n"
     "C /r/config/static/b/20002 static+\nC /r/pools/a\nC /r/pools/a/ports\nC /r/pools/a/hosts\n"
     "C /r/pools/b\nC /r/pools/b/ports\nC /r/pools/b/hosts\n",
     0},
    {"upserts, then deletes, then parents",
     TWO_POOLS "static:\n  - {pool: a, port: 10001, service: s}\n",
     "pool /r/config/pools/a 2 x; pool /r/config/pools/gone 1 x; sdir /r/config/static/a -1 -;"
     "static /r/config/static/a/10001 4 =; static /r/config/static/a/10002 3 x;"
     "parent /r/pools/a -1 -; parent /r/pools/a/ports -1 -; parent /r/pools/a/hosts -1 -",
     "S /r/config/pools/a @2 pool~\nC /r/config/pools/b pool+\n"
     "D /r/config/static/a/10002 @3 static-\nD /r/config/pools/gone @1 pool-\n"
     "C /r/pools/b\nC /r/pools/b/ports\nC /r/pools/b/hosts\n",
     1},
    {"a static moved to another pool",
     TWO_POOLS "static:\n  - {pool: b, port: 20001, service: s}\n",
     "pool /r/config/pools/a 1 =; pool /r/config/pools/b 1 =; sdir /r/config/static/a -1 -;"
     "static /r/config/static/a/10001 1 x; parent /r/pools/a -1 -; parent /r/pools/a/ports -1 -;"
     "parent /r/pools/a/hosts -1 -; parent /r/pools/b -1 -; parent /r/pools/b/ports -1 -;"
     "parent /r/pools/b/hosts -1 -",
     "C /r/config/static/b\nC /r/config/static/b/20001 static+\n"
     "D /r/config/static/a/10001 @1 static-\nD /r/config/static/a @-1\n",
     2},
    {"only the missing parents are created", ONE_POOL,
     "pool /r/config/pools/web 3 =; parent /r/pools/web -1 -; parent /r/pools/web/ports -1 -",
     "C /r/pools/web/hosts\n", 1},
};

ParameterizedTestParameters(publish_plan, table)
{
    return cr_make_param_array(plan_row, plan_rows, sizeof(plan_rows) / sizeof(plan_rows[0]));
}

ParameterizedTest(plan_row *r, publish_plan, table)
{
    pc_cluster c;
    load(r->yaml, &c, r->name);
    pc_pub_nodes cur;
    read_nodes(&cur, &c, r->nodes, r->name);
    pc_pub_plan plan;
    cr_assert_eq(pc_pub_plan_make(&plan, c.root, &c, &cur), 0, "%s: no plan", r->name);
    char got[2048];
    plan_text(&plan, got, sizeof(got));
    cr_expect_str_eq(got, r->want, "%s: the plan is\n%s\nwant\n%s", r->name, got, r->want);
    cr_expect_eq(plan.unchanged, r->unchanged, "%s: %u unchanged, want %u", r->name, plan.unchanged,
                 r->unchanged);
    check_plan(&plan, &c, &cur, r->name);
    pc_pub_plan_free(&plan);
    pc_pub_nodes_free(&cur);
    pc_cluster_free(&c);
}

typedef struct batch_row {
    size_t nstatics; /* statics in one pool: with them, the plan has nstatics + 5 writes */
    size_t want[4];  /* sizes of its multi-ops, then 0 */
} batch_row;

static batch_row batch_rows[] = {
    {0, {4, 0}},
    {PC_PUB_BATCH - 5, {PC_PUB_BATCH, 0}},
    {PC_PUB_BATCH - 4, {PC_PUB_BATCH, 1, 0}},
    {600, {PC_PUB_BATCH, 105, 0}},
    {2 * PC_PUB_BATCH - 5, {PC_PUB_BATCH, PC_PUB_BATCH, 0}},
    {2 * PC_PUB_BATCH - 4, {PC_PUB_BATCH, PC_PUB_BATCH, 1, 0}},
};

ParameterizedTestParameters(publish_plan, batches)
{
    return cr_make_param_array(batch_row, batch_rows, sizeof(batch_rows) / sizeof(batch_rows[0]));
}

/* A large change goes out in multi-ops of PC_PUB_BATCH writes, in plan order. */
ParameterizedTest(batch_row *r, publish_plan, batches)
{
    size_t cap = 128 + r->nstatics * 64;
    char *yaml = malloc(cap);
    size_t at = (size_t)snprintf(yaml, cap,
                                 "root: /r\npools:\n  - {name: big, range: 20000-21999}\n"
                                 "static:\n");
    for (size_t i = 0; i < r->nstatics; i++)
        at += (size_t)snprintf(yaml + at, cap - at, "  - {pool: big, port: %zu, service: s%zu}\n",
                               20000 + i, i);
    if (r->nstatics == 0)
        snprintf(yaml + at, cap - at, "  []\n");
    pc_cluster c;
    load(yaml, &c, "batches");
    free(yaml);
    pc_pub_nodes cur;
    cr_assert_eq(pc_pub_nodes_init(&cur), 0);
    pc_pub_plan plan;
    cr_assert_eq(pc_pub_plan_make(&plan, c.root, &c, &cur), 0);
    cr_assert_eq(plan.nw, r->nstatics ? r->nstatics + 5 : 4);
    size_t next = 0;
    for (int b = 0; r->want[b]; b++) {
        size_t n = pc_pub_plan_batch(&plan, next);
        cr_assert_eq(n, r->want[b], "%zu statics: multi-op %d has %zu writes, want %zu",
                     r->nstatics, b, n, r->want[b]);
        next += n;
    }
    cr_assert_eq(pc_pub_plan_batch(&plan, next), 0, "%zu statics: a write is left", r->nstatics);
    cr_assert_eq(pc_pub_plan_batch(&plan, next + 1), 0);
    /* The first multi-op starts with the pool and the static directory. */
    cr_assert_str_eq(plan.w[0].path, "/r/config/pools/big");
    if (r->nstatics)
        cr_assert_str_eq(plan.w[1].path, "/r/config/static/big");
    pc_pub_plan_free(&plan);
    pc_pub_nodes_free(&cur);
    pc_cluster_free(&c);
}

/* A name that makes no path fails the plan, and the writes planned before it are freed. */
Test(publish_plan, a_bad_name_fails_with_an_empty_plan)
{
    pc_cluster c;
    load(TWO_POOLS, &c, "bad name");
    snprintf(c.pools[1].name, sizeof(c.pools[1].name), "has/slash");
    pc_pub_nodes cur;
    cr_assert_eq(pc_pub_nodes_init(&cur), 0);
    pc_pub_plan plan;
    cr_assert_eq(pc_pub_plan_make(&plan, c.root, &c, &cur), -EINVAL);
    cr_assert_eq(plan.nw, 0);
    cr_assert_null(plan.w);
    pc_pub_nodes_free(&cur);
    pc_cluster_free(&c);
}

Test(publish_plan, nodes_are_found_by_path_after_growth)
{
    pc_pub_nodes ns;
    cr_assert_eq(pc_pub_nodes_init(&ns), 0);
    char path[64];
    for (int i = 0; i < 100; i++) {
        snprintf(path, sizeof(path), "/r/config/pools/p%d", i);
        cr_assert_eq(pc_pub_nodes_add(&ns, path, PC_NODE_POOL), i);
    }
    pc_node *n = pc_pub_nodes_find(&ns, "/r/config/pools/p42");
    cr_assert_not_null(n);
    cr_assert_str_eq(n->path, "/r/config/pools/p42");
    cr_assert_eq(n->version, -1);
    cr_assert_eq(n->len, -1);
    cr_assert_null(n->data);
    cr_assert_null(pc_pub_nodes_find(&ns, "/r/config/pools/p100"));
    pc_pub_nodes_free(&ns);
}
