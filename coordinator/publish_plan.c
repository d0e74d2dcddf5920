/* publish_plan.c - compare the nodes read with the cluster file and list the writes in order. */
#include "publish_plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool_json.h"
#include "zkpath.h"

/*
 * Room for one more element in an array of n used of *cap, each `size`
 * bytes: returns the array (moved when it grew, *cap then updated), or NULL
 * when out of memory (the array is then unchanged).
 */
static void *pc_grow(void *v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return v;
    size_t c = *cap ? *cap * 2 : 32;
    v = realloc(v, c * size);
    if (v)
        *cap = c;
    return v;
}

/* ---- nodes read ---- */

int pc_pub_nodes_init(pc_pub_nodes *ns)
{
    memset(ns, 0, sizeof(*ns));
    ns->index = json_object();
    return ns->index ? 0 : -ENOMEM;
}

void pc_pub_nodes_free(pc_pub_nodes *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        free(ns->v[i].path);
        free(ns->v[i].data);
    }
    free(ns->v);
    json_decref(ns->index);
    memset(ns, 0, sizeof(*ns));
}

int pc_pub_nodes_add(pc_pub_nodes *ns, const char *path, pc_node_kind kind)
{
    pc_node *v = pc_grow(ns->v, ns->n, &ns->cap, sizeof(*v));
    if (!v)
        return -ENOMEM;
    ns->v = v;
    pc_node *n = &ns->v[ns->n];
    memset(n, 0, sizeof(*n));
    n->path = strdup(path);
    n->kind = kind;
    n->version = -1;
    n->len = -1;
    if (!n->path || json_object_set_new(ns->index, path, json_integer((json_int_t)ns->n)) < 0) {
        free(n->path);
        return -ENOMEM;
    }
    return (int)ns->n++;
}

pc_node *pc_pub_nodes_find(const pc_pub_nodes *ns, const char *path)
{
    json_t *i = json_object_get(ns->index, path);
    return i ? &ns->v[json_integer_value(i)] : NULL;
}

/* ---- the plan ---- */

/* The state of one planning: the plan, what was read, and the paths the file wants. */
typedef struct pc_planner {
    pc_pub_plan *plan;
    const pc_pub_nodes *cur;
    json_t *want; /* path -> true */
} pc_planner;

static int pc_plan_add(pc_planner *pl, pc_write_op op, const char *path, const char *data,
                       int version, pc_change change)
{
    pc_pub_plan *plan = pl->plan;
    pc_write *v = pc_grow(plan->w, plan->nw, &plan->cap, sizeof(*v));
    if (!v)
        return -ENOMEM;
    plan->w = v;
    pc_write *w = &plan->w[plan->nw];
    w->op = op;
    w->path = strdup(path);
    w->data = data ? strdup(data) : NULL;
    w->version = version;
    w->change = change;
    if (!w->path || (data && !w->data)) {
        free(w->path);
        free(w->data);
        return -ENOMEM;
    }
    plan->nw++;
    return 0;
}

/* Create or update `path` to hold `json`; count it unchanged when it does. */
static int pc_plan_upsert(pc_planner *pl, const char *path, const char *json, pc_change create,
                          pc_change update)
{
    if (json_object_set_new(pl->want, path, json_true()) < 0)
        return -ENOMEM;
    const pc_node *n = pc_pub_nodes_find(pl->cur, path);
    size_t len = strlen(json);
    if (!n)
        return pc_plan_add(pl, PC_WRITE_CREATE, path, json, -1, create);
    if (n->data && n->len >= 0 && (size_t)n->len == len && memcmp(n->data, json, len) == 0) {
        pl->plan->unchanged++;
        return 0;
    }
    return pc_plan_add(pl, PC_WRITE_SET, path, json, n->version, update);
}

/* Create a directory node (empty data) unless it exists. */
static int pc_plan_ensure_dir(pc_planner *pl, const char *path)
{
    if (json_object_get(pl->want, path))
        return 0; /* already planned (several statics share a directory) */
    if (json_object_set_new(pl->want, path, json_true()) < 0)
        return -ENOMEM;
    if (pc_pub_nodes_find(pl->cur, path))
        return 0;
    return pc_plan_add(pl, PC_WRITE_CREATE, path, "", -1, PC_CH_NONE);
}

/* Delete every node of `kind` that is not wanted. */
static int pc_plan_prune(pc_planner *pl, pc_node_kind kind, pc_change change)
{
    for (size_t i = 0; i < pl->cur->n; i++) {
        const pc_node *n = &pl->cur->v[i];
        if (n->kind != kind || json_object_get(pl->want, n->path))
            continue;
        int version = kind == PC_NODE_STATIC_DIR ? -1 : n->version;
        if (pc_plan_add(pl, PC_WRITE_DELETE, n->path, NULL, version, change) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* The pools and statics of the file, in the file's order. */
static int pc_plan_config(pc_planner *pl, const char *root, const pc_cluster *cfg)
{
    char path[PC_ZKP_PATH_MAX];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cfg->npools; i++) {
        char *json = pc_pool_to_json_str(&cfg->pools[i]);
        rc = json ? pc_zkp_pool_config(path, sizeof(path), root, cfg->pools[i].name) : -ENOMEM;
        if (rc == 0)
            rc = pc_plan_upsert(pl, path, json, PC_CH_POOL_NEW, PC_CH_POOL_SET);
        free(json);
    }
    for (size_t i = 0; rc == 0 && i < cfg->nstatics; i++) {
        const pc_static *s = &cfg->statics[i];
        rc = pc_zkp_static_dir(path, sizeof(path), root, s->pool);
        if (rc == 0)
            rc = pc_plan_ensure_dir(pl, path);
        char *json = rc == 0 ? pc_static_to_json_str(s) : NULL;
        if (rc == 0 && !json)
            rc = -ENOMEM;
        if (rc == 0)
            rc = pc_zkp_static_port(path, sizeof(path), root, s->pool, s->port);
        if (rc == 0)
            rc = pc_plan_upsert(pl, path, json, PC_CH_STATIC_NEW, PC_CH_STATIC_SET);
        free(json);
    }
    return rc;
}

/* Parents of the claims, so agents can create claims under them. */
static int pc_plan_parents(pc_planner *pl, const char *root, const pc_cluster *cfg)
{
    char path[PC_ZKP_PATH_MAX];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cfg->npools; i++) {
        const char *name = cfg->pools[i].name;
        rc = pc_zkp_pool_dir(path, sizeof(path), root, name);
        if (rc == 0)
            rc = pc_plan_ensure_dir(pl, path);
        if (rc == 0)
            rc = pc_zkp_ports_dir(path, sizeof(path), root, name, NULL);
        if (rc == 0)
            rc = pc_plan_ensure_dir(pl, path);
        if (rc == 0)
            rc = pc_zkp_pool_hosts_dir(path, sizeof(path), root, name);
        if (rc == 0)
            rc = pc_plan_ensure_dir(pl, path);
    }
    return rc;
}

int pc_pub_plan_make(pc_pub_plan *plan, const char *root, const pc_cluster *cfg,
                     const pc_pub_nodes *cur)
{
    memset(plan, 0, sizeof(*plan));
    pc_planner pl = {plan, cur, json_object()};
    if (!pl.want)
        return -ENOMEM;
    int rc = pc_plan_config(&pl, root, cfg);
    if (rc == 0)
        rc = pc_plan_prune(&pl, PC_NODE_STATIC, PC_CH_STATIC_DEL);
    if (rc == 0)
        rc = pc_plan_prune(&pl, PC_NODE_STATIC_DIR, PC_CH_NONE);
    if (rc == 0)
        rc = pc_plan_prune(&pl, PC_NODE_POOL, PC_CH_POOL_DEL);
    if (rc == 0)
        rc = pc_plan_parents(&pl, root, cfg);
    json_decref(pl.want);
    if (rc < 0)
        pc_pub_plan_free(plan);
    return rc;
}

void pc_pub_plan_free(pc_pub_plan *plan)
{
    for (size_t i = 0; i < plan->nw; i++) {
        free(plan->w[i].path);
        free(plan->w[i].data);
    }
    free(plan->w);
    memset(plan, 0, sizeof(*plan));
}

size_t pc_pub_plan_batch(const pc_pub_plan *plan, size_t next)
{
    if (next >= plan->nw)
        return 0;
    size_t n = plan->nw - next;
    return n > PC_PUB_BATCH ? PC_PUB_BATCH : n;
}
