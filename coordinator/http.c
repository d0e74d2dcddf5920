/* http.c - the coordinator's read-only HTTP(S) endpoints: /metrics, /v1/leader, /v1/config. */
#include "http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "log.h"
#include "portco_version.h"
#include "prom.h"
#include "zkpath.h"

/* A /v1/leader request waiting for ZooKeeper. The completion owns it; h and
 * req are cleared when the server goes first. */
typedef struct pc_leader_wait {
    pc_coord_http *h;
    struct evhttp_request *req;
    LIST_ENTRY(pc_leader_wait) link;
} pc_leader_wait;

struct pc_coord_http {
    pc_httpd *srv;
    pc_coord_http_src src;
    pc_zk *zk;
    pc_elect *elect;
    pc_pub *pub;
    json_t *config; /* {"root","pools":[...],"statics":[...]} last loaded */
    size_t pools_loaded, statics_loaded;
    size_t pools_published, statics_published; /* as of the last matching cycle */
    LIST_HEAD(, pc_leader_wait) waits;
};

static void pc_coord_metrics(pc_coord_http *h, struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    bool leader = h->elect && pc_elect_is_leader(h->elect);
    const pc_pub_stats *s = h->pub ? pc_pub_get_stats(h->pub) : NULL;
    pc_prom_metric(b, "portco_coordinator_is_leader", "gauge",
                   "1 while this coordinator is the elected leader.", leader ? 1 : 0);
    pc_prom_metric(b, "portco_coordinator_zookeeper_connected", "gauge",
                   "1 while the ZooKeeper session is connected.",
                   h->zk && pc_zk_get_state(h->zk) == PC_ZK_CONNECTED ? 1 : 0);
    pc_prom_metric(b, "portco_coordinator_publishes_total", "counter",
                   "Publish cycles that left ZooKeeper matching the cluster file.",
                   s ? (double)s->cycles : 0);
    pc_prom_metric(b, "portco_coordinator_publish_writes_total", "counter",
                   "Multi-operations committed to ZooKeeper by publish cycles.",
                   s ? (double)s->writes : 0);
    pc_prom_metric(b, "portco_coordinator_publish_failures_total", "counter",
                   "Publish cycles that failed and were retried.", s ? (double)s->failures : 0);
    pc_prom_metric(b, "portco_coordinator_pools_published", "gauge",
                   "Pools of the configuration last published (0 when not leader).",
                   leader ? (double)h->pools_published : 0);
    pc_prom_metric(b, "portco_coordinator_statics_published", "gauge",
                   "Static assignments of the configuration last published (0 when not leader).",
                   leader ? (double)h->statics_published : 0);
    pc_prom_metric(b, "portco_coordinator_pools_loaded", "gauge",
                   "Pools of the cluster file loaded last.", (double)h->pools_loaded);
    pc_prom_metric(b, "portco_coordinator_statics_loaded", "gauge",
                   "Static assignments of the cluster file loaded last.",
                   (double)h->statics_loaded);
    pc_prom_metric(b, "portco_coordinator_reloads_total", "counter",
                   "Cluster file reloads (SIGHUP) accepted.",
                   h->src.reloads ? (double)*h->src.reloads : 0);
    pc_prom_metric(b, "portco_coordinator_reload_failures_total", "counter",
                   "Cluster file reloads (SIGHUP) rejected because the file was invalid.",
                   h->src.rejected ? (double)*h->src.rejected : 0);
    pc_prom_header(b, "portco_coordinator_build_info", "gauge",
                   "Version and name of the coordinator.");
    const char *labels[] = {"version", PORTCO_VERSION_STRING, "id", h->src.id ? h->src.id : "",
                            NULL};
    pc_prom_sample(b, "portco_coordinator_build_info", labels, 1);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", PC_PROM_CONTENT_TYPE);
    evhttp_send_reply(req, HTTP_OK, NULL, b);
    evbuffer_free(b);
}

static void pc_leader_data_cb(int rc, const char *value, int len, const struct Stat *st,
                              const void *data)
{
    pc_leader_wait *w = (pc_leader_wait *)data;
    if (w->h) {
        LIST_REMOVE(w, link);
        json_t *j = rc == ZOK && value && len > 0 ? json_loadb(value, (size_t)len, 0, NULL) : NULL;
        if (json_is_object(j)) {
            json_object_set_new(j, "self",
                                json_boolean(w->h->elect && pc_elect_is_leader(w->h->elect)));
            pc_http_reply_json(w->req, HTTP_OK, j);
        } else if (rc == ZNONODE) {
            json_decref(j);
            pc_http_reply_error(w->req, HTTP_SERVUNAVAIL, PORTCO_EZKUNAVAIL,
                                "no leader is elected at the moment");
        } else if (rc == ZOK) {
            json_decref(j);
            pc_http_reply_error(w->req, HTTP_INTERNAL, PORTCO_EINTERNAL,
                                "the leader node holds no JSON object");
        } else {
            json_decref(j);
            pc_http_reply_error(w->req, HTTP_SERVUNAVAIL, PORTCO_EZKUNAVAIL,
                                "cannot read the leader node: %s", zerror(rc));
        }
    }
    free(w);
}

static void pc_coord_leader(pc_coord_http *h, struct evhttp_request *req)
{
    char path[PC_ZKP_PATH_MAX];
    if (!h->zk || pc_zk_get_state(h->zk) != PC_ZK_CONNECTED) {
        pc_http_reply_error(req, HTTP_SERVUNAVAIL, PORTCO_EZKUNAVAIL,
                            "not connected to ZooKeeper; retry in a moment");
        return;
    }
    if (snprintf(path, sizeof(path), "%s/coordinator/leader", h->src.root) >= (int)sizeof(path)) {
        pc_http_reply_error(req, HTTP_INTERNAL, PORTCO_EINTERNAL, "root too long");
        return;
    }
    pc_leader_wait *w = calloc(1, sizeof(*w));
    if (!w) {
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    w->h = h;
    w->req = req;
    int rc = zoo_aget(pc_zk_handle(h->zk), path, 0, pc_leader_data_cb, w);
    if (rc != ZOK) {
        free(w);
        pc_http_reply_error(req, HTTP_SERVUNAVAIL, PORTCO_EZKUNAVAIL,
                            "cannot read the leader node: %s", zerror(rc));
        return;
    }
    LIST_INSERT_HEAD(&h->waits, w, link);
}

static void pc_coord_handle(struct evhttp_request *req, void *ud)
{
    pc_coord_http *h = ud;
    char path[256];
    pc_http_path(req, path, sizeof(path));
    bool metrics = strcmp(path, "/metrics") == 0, leader = strcmp(path, "/v1/leader") == 0,
         config = strcmp(path, "/v1/config") == 0;
    if (!metrics && !leader && !config) {
        pc_http_reply_error(req, HTTP_NOTFOUND, PORTCO_EBADREQ,
                            "no such endpoint; try /metrics, /v1/leader or /v1/config");
        return;
    }
    if (!pc_http_require_get(req))
        return;
    if (metrics)
        pc_coord_metrics(h, req);
    else if (leader)
        pc_coord_leader(h, req);
    else if (h->config)
        pc_http_reply_json(req, HTTP_OK, json_incref(h->config));
    else
        pc_http_reply_error(req, HTTP_SERVUNAVAIL, PORTCO_ENOTREADY, "no configuration loaded");
}

int pc_coord_http_start(struct event_base *base, const pc_httpd_opts *o,
                        const pc_coord_http_src *src, pc_coord_http **out, pc_error *err)
{
    *out = NULL;
    pc_coord_http *h = calloc(1, sizeof(*h));
    if (!h)
        return pc_error_set(err, -ENOMEM, "out of memory");
    h->src = *src;
    LIST_INIT(&h->waits);
    int rc = pc_httpd_start(base, o, pc_coord_handle, h, &h->srv, err);
    if (rc < 0) {
        free(h);
        return rc;
    }
    pc_info("HTTP%s endpoints on %s%s", pc_httpd_tls(h->srv) ? "S" : "", o->listen,
            o->client_ca && o->client_ca[0] ? " (client certificates required)" : "");
    *out = h;
    return 0;
}

void pc_coord_http_attach(pc_coord_http *h, pc_zk *zk, pc_elect *e, pc_pub *p)
{
    if (!h)
        return;
    h->zk = zk;
    h->elect = e;
    h->pub = p;
}

void pc_coord_http_set_config(pc_coord_http *h, const pc_cluster *c)
{
    if (!h)
        return;
    json_t *pools = json_array(), *statics = json_array();
    for (size_t i = 0; pools && i < c->npools; i++)
        json_array_append_new(pools, pc_pool_to_json(&c->pools[i]));
    for (size_t i = 0; statics && i < c->nstatics; i++) {
        json_t *s = pc_static_to_json(&c->statics[i]);
        if (json_is_object(s)) {
            json_object_set_new(s, "pool", json_string(c->statics[i].pool));
            json_object_set_new(s, "port", json_integer(c->statics[i].port));
        }
        json_array_append_new(statics, s);
    }
    json_t *cfg = json_pack("{s:s, s:o*, s:o*}", "root", h->src.root ? h->src.root : c->root,
                            "pools", pools, "statics", statics);
    json_decref(h->config);
    h->config = cfg;
    h->pools_loaded = c->npools;
    h->statics_loaded = c->nstatics;
}

void pc_coord_http_published(pc_coord_http *h)
{
    if (!h)
        return;
    h->pools_published = h->pools_loaded;
    h->statics_published = h->statics_loaded;
}

void pc_coord_http_free(pc_coord_http *h)
{
    if (!h)
        return;
    pc_leader_wait *w;
    while ((w = LIST_FIRST(&h->waits))) {
        LIST_REMOVE(w, link);
        pc_http_reply_error(w->req, HTTP_SERVUNAVAIL, PORTCO_ESHUTDOWN,
                            "the coordinator is shutting down");
        w->h = NULL; /* the ZooKeeper completion still owns and frees it */
        w->req = NULL;
    }
    pc_httpd_free(h->srv);
    json_decref(h->config);
    free(h);
}
