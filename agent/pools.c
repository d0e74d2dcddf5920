/* pools.c - follow pool definitions, static assignments and claimed ports in ZooKeeper. */
#include "pools.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acq.h"
#include "log.h"
#include "state.h"
#include "statics.h"

/* How long after a failed read that is not a lost connection (or a loss seen
 * while connected) the reads that need it are issued again. */
#define PC_POOLS_RETRY_MS 1000

static void pc_pools_list(pc_agent *a);
static void pc_pool_get(pc_apool *p);
static void pc_pool_watch_ports(pc_apool *p);

/* ------------------------------------------------------------------------ */
/* pool objects                                                             */

static pc_apool *pc_pool_lookup(pc_agent *a, const char *name)
{
    pc_apool *p;
    TAILQ_FOREACH(p, &a->pools, link)
    {
        if (strcmp(p->name, name) == 0)
            return p;
    }
    return NULL;
}

pc_apool *pc_pools_find(pc_agent *a, const char *name)
{
    pc_apool *p = pc_pool_lookup(a, name);
    return p && p->defined && p->loaded ? p : NULL;
}

/* Pools are never freed while the session lives: watches and completions
 * point at them. A removed pool is only marked undefined. */
static pc_apool *pc_pool_get_or_add(pc_agent *a, const char *name)
{
    pc_apool *p = pc_pool_lookup(a, name);
    if (p)
        return p;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->agent = a;
    TAILQ_INSERT_TAIL(&a->pools, p, link);
    return p;
}

static void pc_pool_release(pc_apool *p)
{
    pc_pool_free(&p->def);
    free(p->claimed);
    free(p->inflight);
    free(p->statics);
    p->claimed = p->inflight = NULL;
    p->statics = NULL;
    p->nstatics = 0;
    p->nports = 0;
}

void pc_pools_free_all(pc_agent *a)
{
    pc_event_clear(&a->pools_retry_ev);
    pc_apool *p;
    while ((p = TAILQ_FIRST(&a->pools))) {
        TAILQ_REMOVE(&a->pools, p, link);
        pc_pool_release(p);
        pc_event_clear(&p->relist_ev);
        free(p);
    }
}

long pc_pool_index(const pc_apool *p, uint16_t port)
{
    if (!p->nports)
        return -1;
    return pc_rangeset_index(&p->def.ports, port);
}

const char *pc_pool_static_service(const pc_apool *p, uint16_t port)
{
    return pc_scan_static_owner(p->statics, p->nstatics, port);
}

uint16_t pc_pool_static_port(const pc_apool *p, const char *service)
{
    for (size_t i = 0; i < p->nstatics; i++)
        if (strcmp(p->statics[i].service, service) == 0)
            return p->statics[i].port;
    return 0;
}

void pc_pool_set_inflight(pc_apool *p, uint16_t port, bool on)
{
    long i = pc_pool_index(p, port);
    if (i >= 0)
        pc_bit_set(p->inflight, (size_t)i, on);
}

/* ------------------------------------------------------------------------ */
/* candidate scan                                                           */

/* What the candidate scan reads of the pool, borrowed from it. */
static pc_scan_pool pc_pool_scan_view(const pc_apool *p)
{
    return (pc_scan_pool){.ports = &p->def.ports,
                          .nports = p->nports,
                          .claimed = p->claimed,
                          .inflight = p->inflight,
                          .statics = p->statics,
                          .nstatics = p->nstatics,
                          .cursor = p->cursor};
}

void pc_pool_scan_begin(const pc_apool *p, pc_scan *s)
{
    pc_scan_pool v = pc_pool_scan_view(p);
    pc_scan_begin(&v, s);
}

uint16_t pc_pool_scan_next(const pc_apool *p, pc_scan *s, const char *service, bool *second_pass)
{
    pc_scan_pool v = pc_pool_scan_view(p);
    return pc_scan_next(&v, s, service, second_pass);
}

void pc_pool_advance(pc_apool *p, uint16_t port)
{
    long i = pc_pool_index(p, port);
    if (i >= 0)
        p->cursor = ((size_t)i + 1) % p->nports;
}

/* ------------------------------------------------------------------------ */
/* reads that failed                                                        */

/*
 * Every read below sets a watch, and a read that fails sets none: what it
 * follows would stay frozen until an unrelated change. So a failed read
 * leaves its "watching" flag clear (p->reread for a definition), and
 * pc_pools_refollow() issues again whatever has it clear. A lost connection
 * calls it once connected again (PC_ZK_CONNECTED); other errors, and a loss
 * seen while connected, after PC_POOLS_RETRY_MS.
 */
static void pc_pools_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    pc_agent *a = arg;
    if (pc_zk_get_state(a->zk) == PC_ZK_CONNECTED)
        pc_pools_refollow(a);
}

/* Have pc_pools_refollow() run after a read failed with `rc` (its flag is
 * already clear). */
void pc_pools_retry(pc_agent *a, int rc)
{
    if (a->stopping)
        return;
    if (pc_acq_zk_lost(rc) && pc_zk_get_state(a->zk) != PC_ZK_CONNECTED)
        return; /* PC_ZK_CONNECTED re-follows */
    if (!a->pools_retry_ev)
        a->pools_retry_ev = evtimer_new(a->base, pc_pools_retry_cb, a);
    struct timeval tv = {PC_POOLS_RETRY_MS / 1000, (PC_POOLS_RETRY_MS % 1000) * 1000};
    if (!a->pools_retry_ev ||
        (!evtimer_pending(a->pools_retry_ev, NULL) && evtimer_add(a->pools_retry_ev, &tv) < 0))
        pc_err("cannot schedule reading the pools again; they are read again on the next "
               "reconnect");
}

/* A read of `what` failed with `rc`: say so, and read it again. */
void pc_pools_read_failed(pc_agent *a, const char *what, int rc)
{
    if (a->stopping)
        return;
    pc_warn("cannot read %s: %s; reading it again %s", what, zerror(rc),
            pc_acq_zk_lost(rc) ? "once connected" : "shortly");
    pc_pools_retry(a, rc);
}

/* ------------------------------------------------------------------------ */
/* <root>/config/pools                                                      */

static void pc_pools_list_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    pc_agent *a = ctx;
    if (type == ZOO_SESSION_EVENT || a->stopping)
        return;
    a->watching_pools = false;
    pc_pools_list(a);
}

static void pc_pools_exists_cb(int rc, const struct Stat *st, const void *data)
{
    pc_agent *a = pc_zk_req_take(data, NULL);
    if (a->stopping)
        return;
    if (rc == ZOK) {
        /* Created between the listing and this check: no event will come
         * for it, so list it now. */
        a->watching_pools = false;
        pc_pools_list(a);
    } else if (rc != ZNONODE) {
        a->watching_pools = false;
        pc_pools_read_failed(a, "the pools directory", rc);
    }
}

static void pc_pools_children_cb(int rc, const struct String_vector *sv, const void *data)
{
    pc_agent *a = pc_zk_req_take(data, NULL);
    if (a->stopping)
        return;
    if (rc == ZNONODE) {
        /* Nothing published yet: wait for the directory to appear. */
        char dir[PC_ZKP_PATH_MAX];
        pc_zkp_config_pools_dir(dir, sizeof(dir), a->opts.root);
        pc_info("%s does not exist yet; waiting for the coordinator to publish pools", dir);
        int erc = pc_zk_req_awexists(&a->zk_reqs, a, pc_zk_handle(a->zk), dir,
                                     pc_pools_list_watcher, a, pc_pools_exists_cb);
        if (erc != ZOK) {
            a->watching_pools = false;
            pc_pools_read_failed(a, dir, erc);
        }
        return;
    }
    if (rc != ZOK) {
        a->watching_pools = false;
        pc_pools_read_failed(a, "the list of pools", rc);
        return;
    }
    /* Mark pools that are no longer published. */
    pc_apool *p;
    TAILQ_FOREACH(p, &a->pools, link)
    {
        bool present = false;
        for (int i = 0; i < sv->count; i++)
            if (strcmp(sv->data[i], p->name) == 0)
                present = true;
        if (!present && p->defined) {
            pc_info("pool %s was removed", p->name);
            p->defined = false;
        }
    }
    for (int i = 0; i < sv->count; i++) {
        if (pc_zkp_check_name(sv->data[i]) < 0 || strlen(sv->data[i]) > PC_POOL_NAME_MAX) {
            pc_warn("ignoring published pool with an invalid name \"%s\"", sv->data[i]);
            continue;
        }
        p = pc_pool_get_or_add(a, sv->data[i]);
        if (p && !p->defined)
            pc_pool_get(p);
    }
    if (a->pools_pending == 0 && !a->pools_ready) {
        a->pools_ready = true;
        pc_state_restore(a);
        pc_info("cluster configuration loaded (%d pools)", sv->count);
    }
}

static void pc_pools_list(pc_agent *a)
{
    if (a->watching_pools || a->stopping)
        return;
    char dir[PC_ZKP_PATH_MAX];
    pc_zkp_config_pools_dir(dir, sizeof(dir), a->opts.root);
    int rc = pc_zk_req_awget_children(&a->zk_reqs, a, pc_zk_handle(a->zk), dir,
                                      pc_pools_list_watcher, a, pc_pools_children_cb);
    if (rc == ZOK) {
        a->watching_pools = true;
    } else {
        pc_pools_read_failed(a, dir, rc);
    }
}

void pc_pools_follow(pc_agent *a)
{
    a->watching_pools = false;
    pc_apool *p;
    TAILQ_FOREACH(p, &a->pools, link)
    {
        p->watching_ports = false;
        p->watching_statics = false;
    }
    pc_pools_list(a);
    /* Pools known from an earlier session: re-read them and re-arm watches. */
    TAILQ_FOREACH(p, &a->pools, link)
    {
        if (p->defined || p->reread)
            pc_pool_get(p);
    }
}

void pc_pools_refollow(pc_agent *a)
{
    if (a->stopping)
        return;
    if (a->pools_retry_ev)
        evtimer_del(a->pools_retry_ev);
    pc_pools_list(a);
    pc_apool *p;
    TAILQ_FOREACH(p, &a->pools, link)
    {
        if (p->reread) {
            pc_pool_get(p); /* its ports and statics follow once it is read */
        } else if (p->defined && p->loaded) {
            pc_pool_watch_ports(p);
            pc_statics_follow(p);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* one pool's definition                                                    */

static void pc_pool_data_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    pc_apool *p = ctx;
    if (type == ZOO_SESSION_EVENT || p->agent->stopping)
        return;
    if (type == ZOO_DELETED_EVENT) {
        pc_info("pool %s was removed", p->name);
        p->defined = false;
        return;
    }
    pc_pool_get(p);
}

/* Install a new definition: bitmaps sized to its ports, cursor kept in range. */
static int pc_pool_install(pc_apool *p, pc_pool *def)
{
    size_t n = pc_rangeset_count(&def->ports);
    size_t words = n / 64 + 1;
    uint64_t *claimed = calloc(words, sizeof(uint64_t));
    uint64_t *inflight = calloc(words, sizeof(uint64_t));
    if (!claimed || !inflight) {
        free(claimed);
        free(inflight);
        return -ENOMEM;
    }
    pc_pool_free(&p->def);
    free(p->claimed);
    free(p->inflight);
    p->def = *def;
    memset(def, 0, sizeof(*def));
    bool first = p->nports == 0;
    p->nports = n;
    p->claimed = claimed;
    p->inflight = inflight;
    if (first)
        p->cursor = pc_scan_first_cursor(p->agent->opts.host_id, p->name, n);
    else if (p->cursor >= n)
        p->cursor = 0;
    char dir[PC_ZKP_PATH_MAX];
    pc_zkp_ports_dir(dir, sizeof(dir), p->agent->opts.root, p->name,
                     p->def.scope == PC_SCOPE_HOST ? p->agent->opts.host_id : NULL);
    if (strcmp(dir, p->ports_dir) != 0) {
        snprintf(p->ports_dir, sizeof(p->ports_dir), "%s", dir);
        p->watching_ports = false;
    }
    return 0;
}

static void pc_pool_data_cb(int rc, const char *value, int len, const struct Stat *st,
                            const void *data)
{
    pc_apool *p = pc_zk_req_take(data, NULL);
    pc_agent *a = p->agent;
    a->pools_pending--;
    if (!a->stopping) {
        if (rc == ZOK) {
            pc_pool def;
            memset(&def, 0, sizeof(def));
            pc_error err;
            pc_error_clear(&err);
            int prc = pc_pool_from_json(value ? value : "", value && len > 0 ? (size_t)len : 0,
                                        &def, &err);
            if (prc == 0 && strcmp(def.name, p->name) != 0)
                prc = pc_error_set(&err, PORTCO_ECONFIG, "its name is \"%s\", its node is \"%s\"",
                                   def.name, p->name);
            if (prc == 0 && pc_pool_install(p, &def) == 0) {
                bool was = p->defined;
                p->defined = true;
                p->loaded = true;
                pc_info("pool %s %s: %zu ports, %s, %s scope", p->name, was ? "updated" : "loaded",
                        p->nports, pc_proto_name(p->def.proto), pc_scope_name(p->def.scope));
                pc_acq_mark_inflight(a, p);
                pc_pool_watch_ports(p);
                pc_statics_follow(p);
            } else {
                pc_warn("ignoring pool %s as published: %s", p->name, err.msg);
                pc_pool_free(&def);
                p->defined = false;
            }
        } else if (rc == ZNONODE) {
            p->defined = false;
        } else {
            char what[PC_POOL_NAME_MAX + 16];
            snprintf(what, sizeof(what), "pool %s", p->name);
            p->reread = true;
            pc_pools_read_failed(a, what, rc);
        }
    }
    if (a->pools_pending == 0 && a->watching_pools && !a->pools_ready) {
        a->pools_ready = true;
        pc_state_restore(a);
        pc_info("cluster configuration loaded");
    }
}

static void pc_pool_get(pc_apool *p)
{
    pc_agent *a = p->agent;
    char path[PC_ZKP_PATH_MAX];
    if (pc_zkp_pool_config(path, sizeof(path), a->opts.root, p->name) < 0)
        return;
    int rc = pc_zk_req_awget(&a->zk_reqs, p, pc_zk_handle(a->zk), path, pc_pool_data_watcher, p,
                             pc_pool_data_cb);
    if (rc == ZOK) {
        a->pools_pending++;
        p->reread = false;
    } else {
        p->reread = true;
        pc_pools_read_failed(a, path, rc);
    }
}

/* ------------------------------------------------------------------------ */
/* the ports directory: which ports have a port node                        */

/*
 * The cache is advisory (the claim protocol decides), so it is re-listed at
 * most once per interval however many port nodes came and went: re-listing
 * on every change made each claim cost every agent of the pool a list as long
 * as the pool's claimed ports, which grew with occupancy. The interval grows
 * with the last list's length, PC_PORTS_RELIST_US_PER_NODE per name between
 * PC_PORTS_RELIST_MIN_MS and PC_PORTS_RELIST_MAX_MS: a list of thousands of
 * names holds up the requests queued behind it on the session, and with a
 * fixed interval one acquire in a hundred met one while a pool filled.
 */
#define PC_PORTS_RELIST_MIN_MS      100
#define PC_PORTS_RELIST_MAX_MS      1000
#define PC_PORTS_RELIST_US_PER_NODE 50

static long pc_ports_relist_ms(const pc_apool *p)
{
    long ms = (long)p->listed * PC_PORTS_RELIST_US_PER_NODE / 1000;
    return ms < PC_PORTS_RELIST_MIN_MS   ? PC_PORTS_RELIST_MIN_MS
           : ms > PC_PORTS_RELIST_MAX_MS ? PC_PORTS_RELIST_MAX_MS
                                         : ms;
}

static void pc_ports_relist_cb(evutil_socket_t fd, short what, void *arg)
{
    pc_pool_watch_ports(arg);
}

static void pc_ports_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    pc_apool *p = ctx;
    if (type == ZOO_SESSION_EVENT || p->agent->stopping)
        return;
    p->watching_ports = false;
    if (!p->relist_ev)
        p->relist_ev = evtimer_new(p->agent->base, pc_ports_relist_cb, p);
    if (!p->relist_ev) {
        pc_pool_watch_ports(p);
        return;
    }
    if (!evtimer_pending(p->relist_ev, NULL)) {
        long ms = pc_ports_relist_ms(p);
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(p->relist_ev, &tv);
    }
}

static void pc_ports_exists_cb(int rc, const struct Stat *st, const void *data)
{
    pc_apool *p = pc_zk_req_take(data, NULL);
    if (rc == ZNONODE)
        return; /* still missing: the watch this call set fires when it appears */
    p->watching_ports = false;
    if (rc == ZOK)
        pc_pool_watch_ports(p);
    else
        pc_pools_read_failed(p->agent, p->ports_dir, rc);
}

static void pc_ports_children_cb(int rc, const struct String_vector *sv, const void *data)
{
    pc_apool *p = pc_zk_req_take(data, NULL);
    pc_agent *a = p->agent;
    if (a->stopping || !p->claimed)
        return;
    if (rc == ZNONODE) {
        memset(p->claimed, 0, (p->nports / 64 + 1) * sizeof(uint64_t));
        int erc = pc_zk_req_awexists(&a->zk_reqs, p, pc_zk_handle(a->zk), p->ports_dir,
                                     pc_ports_watcher, p, pc_ports_exists_cb);
        if (erc != ZOK) {
            p->watching_ports = false;
            pc_pools_read_failed(a, p->ports_dir, erc);
        }
        return;
    }
    if (rc != ZOK) {
        p->watching_ports = false;
        pc_pools_read_failed(a, p->ports_dir, rc);
        return;
    }
    memset(p->claimed, 0, (p->nports / 64 + 1) * sizeof(uint64_t));
    for (int i = 0; i < sv->count; i++) {
        char *end;
        long port = strtol(sv->data[i], &end, 10);
        if (*end || port < 1 || port > 65535)
            continue;
        long idx = pc_pool_index(p, (uint16_t)port);
        if (idx >= 0)
            pc_bit_set(p->claimed, (size_t)idx, true);
    }
    p->listed = (size_t)sv->count;
    pc_debug("pool %s: %d port nodes", p->name, sv->count);
}

static void pc_pool_watch_ports(pc_apool *p)
{
    pc_agent *a = p->agent;
    if (p->watching_ports || !p->ports_dir[0] || a->stopping)
        return;
    int rc = pc_zk_req_awget_children(&a->zk_reqs, p, pc_zk_handle(a->zk), p->ports_dir,
                                      pc_ports_watcher, p, pc_ports_children_cb);
    if (rc == ZOK) {
        p->watching_ports = true;
    } else {
        pc_pools_read_failed(a, p->ports_dir, rc);
    }
}
