/* statics.c - follow a pool's static assignments: <root>/config/static/<pool>/<port>. */
#include "statics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acq.h"
#include "log.h"
#include "pools.h"

static int pc_static_cmp(const void *x, const void *y)
{
    const pc_static *a = x, *b = y;
    return (int)a->port - (int)b->port;
}

/* One reading of a pool's static assignments, installed when every node is
 * read. When any read failed, none is: a partial set would hand a statically
 * assigned port to another service. */
typedef struct pc_static_load {
    pc_apool *pool;
    int remaining;
    pc_static *v;
    size_t n, cap;
    int failed;           /* ZooKeeper code of the first read that failed, ZOK when none */
    uint32_t failed_port; /* its port */
} pc_static_load;

typedef struct pc_static_item {
    pc_zk_req req; /* the read of this node; its completion's data */
    pc_static_load *load;
    uint32_t port;
} pc_static_item;

static void pc_statics_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    pc_apool *p = ctx;
    if (type == ZOO_SESSION_EVENT || p->agent->stopping)
        return;
    p->watching_statics = false;
    pc_statics_follow(p);
}

static void pc_statics_failed(pc_apool *p, int rc)
{
    char what[PC_POOL_NAME_MAX + 40];
    snprintf(what, sizeof(what), "the static assignments of pool %s", p->name);
    p->watching_statics = false;
    pc_pools_read_failed(p->agent, what, rc);
}

static void pc_statics_exists_cb(int rc, const struct Stat *st, const void *data)
{
    pc_apool *p = pc_zk_req_take(data, NULL);
    if (rc == ZNONODE)
        return; /* still missing: the watch this call set fires when it appears */
    if (rc != ZOK) {
        pc_statics_failed(p, rc);
        return;
    }
    p->watching_statics = false;
    pc_statics_follow(p);
}

static void pc_static_load_done(pc_static_load *l)
{
    pc_apool *p = l->pool;
    if (l->failed != ZOK && !p->agent->stopping) {
        pc_warn("pool %s: cannot read static assignment %u: %s; the assignments read before "
                "(%zu) stay in force, and all are read again %s",
                p->name, l->failed_port, zerror(l->failed), p->nstatics,
                pc_acq_zk_lost(l->failed) ? "once connected" : "shortly");
        p->watching_statics = false;
        pc_pools_retry(p->agent, l->failed);
    } else if (!p->agent->stopping) {
        qsort(l->v, l->n, sizeof(pc_static), pc_static_cmp);
        free(p->statics);
        p->statics = l->v;
        p->nstatics = l->n;
        l->v = NULL;
        pc_debug("pool %s: %zu static assignments", p->name, p->nstatics);
    }
    free(l->v);
    free(l);
}

static void pc_static_data_cb(int rc, const char *value, int len, const struct Stat *st,
                              const void *data)
{
    pc_static_item *it = pc_zk_req_take(data, NULL);
    pc_static_load *l = it->load;
    pc_apool *p = l->pool;
    if (rc != ZOK && rc != ZNONODE && l->failed == ZOK) {
        /* ZNONODE: removed since the listing, which its watch reports. */
        l->failed = rc;
        l->failed_port = it->port;
    }
    if (rc == ZOK && l->n < l->cap) {
        pc_error err;
        pc_static s;
        memset(&s, 0, sizeof(s));
        if (pc_static_from_json(value ? value : "", value && len > 0 ? (size_t)len : 0, p->name,
                                it->port, &s, &err) == 0)
            l->v[l->n++] = s;
        else
            pc_warn("ignoring static assignment %u of pool %s: %s", it->port, p->name, err.msg);
    }
    free(it);
    if (--l->remaining == 0)
        pc_static_load_done(l);
}

static void pc_statics_children_cb(int rc, const struct String_vector *sv, const void *data)
{
    pc_apool *p = pc_zk_req_take(data, NULL);
    pc_agent *a = p->agent;
    if (a->stopping)
        return;
    if (rc == ZNONODE) {
        free(p->statics);
        p->statics = NULL;
        p->nstatics = 0;
        char dir[PC_ZKP_PATH_MAX];
        pc_zkp_static_dir(dir, sizeof(dir), a->opts.root, p->name);
        int erc = pc_zk_req_awexists(&a->zk_reqs, p, pc_zk_handle(a->zk), dir, pc_statics_watcher,
                                     p, pc_statics_exists_cb);
        if (erc != ZOK)
            pc_statics_failed(p, erc);
        return;
    }
    if (rc != ZOK) {
        pc_statics_failed(p, rc);
        return;
    }
    pc_static_load *l = calloc(1, sizeof(*l));
    if (l) {
        l->cap = (size_t)sv->count;
        l->v = calloc(l->cap + 1, sizeof(pc_static));
    }
    if (!l || !l->v) {
        free(l);
        pc_statics_failed(p, ZSYSTEMERROR);
        return;
    }
    l->pool = p;
    l->remaining = 1; /* held until every request is issued */
    for (int i = 0; i < sv->count; i++) {
        char *end;
        long port = strtol(sv->data[i], &end, 10);
        if (*end || port < 1 || port > 65535)
            continue;
        char path[PC_ZKP_PATH_MAX];
        if (pc_zkp_static_port(path, sizeof(path), a->opts.root, p->name, (int)port) < 0)
            continue;
        pc_static_item *it = calloc(1, sizeof(*it));
        int grc = ZSYSTEMERROR;
        if (it) {
            it->load = l;
            it->port = (uint32_t)port;
            pc_zk_req_init(&it->req, &a->zk_reqs, it);
            grc = zoo_awget(pc_zk_handle(a->zk), path, pc_statics_watcher, p, pc_static_data_cb,
                            &it->req);
        }
        if (it && pc_zk_req_sent(&it->req, grc) == 0) {
            l->remaining++;
        } else {
            free(it);
            if (l->failed == ZOK) {
                l->failed = grc;
                l->failed_port = (uint32_t)port;
            }
        }
    }
    if (--l->remaining == 0)
        pc_static_load_done(l);
}

void pc_statics_follow(pc_apool *p)
{
    pc_agent *a = p->agent;
    if (p->watching_statics || a->stopping)
        return;
    char dir[PC_ZKP_PATH_MAX];
    if (pc_zkp_static_dir(dir, sizeof(dir), a->opts.root, p->name) < 0)
        return;
    int rc = pc_zk_req_awget_children(&a->zk_reqs, p, pc_zk_handle(a->zk), dir, pc_statics_watcher,
                                      p, pc_statics_children_cb);
    if (rc == ZOK) {
        p->watching_statics = true;
    } else {
        pc_statics_failed(p, rc);
    }
}
