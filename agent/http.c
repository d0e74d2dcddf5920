/* http.c - the agent's read-only HTTP(S) endpoints: /metrics, /v1/status, /v1/claims. */
#include "http.h"

#include <errno.h>
#include <stddef.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "httpd.h"
#include "listing.h"
#include "log.h"
#include "names.h"
#include "portco_version.h"
#include "prom.h"

/* A /v1/claims request waiting for ZooKeeper. */
typedef struct pc_http_wait {
    pc_agent_http *h;
    struct evhttp_request *req;
    LIST_ENTRY(pc_http_wait) link;
} pc_http_wait;

struct pc_agent_http {
    pc_agent *agent;
    pc_httpd *srv;
    LIST_HEAD(, pc_http_wait) waits;
};

/* HTTP status for a code of the listing. */
static int pc_http_status_of(int code)
{
    switch (code) {
    case PORTCO_ENOPOOL:
        return HTTP_NOTFOUND;
    case PORTCO_EZKUNAVAIL:
    case PORTCO_ENOTREADY:
    case PORTCO_ESHUTDOWN:
        return HTTP_SERVUNAVAIL;
    case PORTCO_EBADREQ:
        return HTTP_BADREQUEST;
    default:
        return HTTP_INTERNAL;
    }
}

static void pc_http_metrics(pc_agent_http *h, struct evhttp_request *req)
{
    pc_agent *a = h->agent;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
#define PC_COUNTER_PROM(field, metric, help)                                                       \
    pc_prom_metric(b, metric, "counter", help, (double)a->counters.field);
    PC_AGENT_COUNTERS(PC_COUNTER_PROM)
#undef PC_COUNTER_PROM
    size_t pools = 0, holding = pc_agent_holding(a);
    const pc_apool *p;
    TAILQ_FOREACH(p, &a->pools, link)
    {
        if (p->defined && p->loaded)
            pools++;
    }
    pc_prom_metric(b, "portco_agent_claims", "gauge", "Claims this agent holds.",
                   (double)a->nholds);
    pc_prom_metric(b, "portco_agent_holding", "gauge",
                   "Claims whose port the agent still keeps with bound sockets.", (double)holding);
    pc_prom_metric(b, "portco_agent_pools", "gauge", "Published pools the agent has loaded.",
                   (double)pools);
    pc_prom_metric(b, "portco_agent_ready", "gauge",
                   "1 once the agent has loaded the cluster configuration.",
                   a->pools_ready ? 1 : 0);
    pc_prom_metric(b, "portco_agent_zookeeper_connected", "gauge",
                   "1 while the ZooKeeper session is connected.",
                   a->zk && pc_zk_get_state(a->zk) == PC_ZK_CONNECTED ? 1 : 0);
    pc_prom_metric(b, "portco_agent_start_time_seconds", "gauge",
                   "Start time of the agent, seconds since the epoch.",
                   (double)a->started_ms / 1000.0);
    pc_prom_header(b, "portco_agent_build_info", "gauge", "Version and host id of the agent.");
    const char *labels[] = {"version", PORTCO_VERSION_STRING, "host", a->opts.host_id, NULL};
    pc_prom_sample(b, "portco_agent_build_info", labels, 1);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", PC_PROM_CONTENT_TYPE);
    evhttp_send_reply(req, HTTP_OK, NULL, b);
    evbuffer_free(b);
}

static void pc_http_claims_done(pc_agent *a, int code, const char *msg, json_t *claims, void *ud)
{
    pc_http_wait *w = ud;
    LIST_REMOVE(w, link);
    if (code == 0)
        pc_http_reply_json(w->req, HTTP_OK, json_pack("{s:o}", "claims", claims));
    else
        pc_http_reply_error(w->req, pc_http_status_of(code), code, "%s", msg);
    free(w);
}

static void pc_http_claims(pc_agent_http *h, struct evhttp_request *req)
{
    char pool[PC_POOL_NAME_MAX + 1] = "";
    int rc = pc_http_query(req, "pool", pool, sizeof(pool));
    if (rc == -ENOENT)
        pool[0] = '\0';
    if ((rc < 0 && rc != -ENOENT) || (rc == 0 && !pc_pool_name_valid(pool))) {
        pc_http_reply_error(req, HTTP_BADREQUEST, PORTCO_EBADREQ,
                            "pool: not a pool name; use 1-%d characters of A-Z a-z 0-9 . _ -",
                            PC_POOL_NAME_MAX);
        return;
    }
    pc_http_wait *w = calloc(1, sizeof(*w));
    if (!w) {
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    w->h = h;
    w->req = req;
    LIST_INSERT_HEAD(&h->waits, w, link);
    pc_listing_gather(h->agent, pool, pc_http_claims_done, w); /* may answer at once */
}

static void pc_http_handle(struct evhttp_request *req, void *ud)
{
    pc_agent_http *h = ud;
    char path[256];
    pc_http_path(req, path, sizeof(path));
    bool metrics = strcmp(path, "/metrics") == 0, status = strcmp(path, "/v1/status") == 0,
         claims = strcmp(path, "/v1/claims") == 0;
    if (!metrics && !status && !claims) {
        pc_http_reply_error(req, HTTP_NOTFOUND, PORTCO_EBADREQ,
                            "no such endpoint; try /metrics, /v1/status or /v1/claims");
        return;
    }
    if (!pc_http_require_get(req))
        return;
    if (metrics)
        pc_http_metrics(h, req);
    else if (status)
        pc_http_reply_json(req, pc_listing_serving(h->agent) ? HTTP_OK : HTTP_SERVUNAVAIL,
                           pc_listing_status_json(h->agent));
    else
        pc_http_claims(h, req);
}

int pc_agent_http_start(pc_agent *a, pc_error *err)
{
    const pc_agent_config *o = &a->opts;
    if (!o->metrics_listen || !o->metrics_listen[0]) {
        bool tls = (o->tls_cert && o->tls_cert[0]) || (o->tls_key && o->tls_key[0]) ||
                   (o->tls_client_ca && o->tls_client_ca[0]);
        if (tls)
            return pc_error_set(err, PORTCO_ECONFIG,
                                "TLS settings are given but metrics_listen is empty: set "
                                "metrics_listen (--metrics-listen) to serve HTTPS");
        return 0;
    }
    pc_agent_http *h = calloc(1, sizeof(*h));
    if (!h)
        return pc_error_set(err, -ENOMEM, "out of memory");
    h->agent = a;
    LIST_INIT(&h->waits);
    pc_httpd_opts ho = {o->metrics_listen, o->tls_cert, o->tls_key, o->tls_client_ca};
    int rc = pc_httpd_start(a->base, &ho, pc_http_handle, h, &h->srv, err);
    if (rc < 0) {
        free(h);
        return rc;
    }
    a->http = h;
    pc_info("HTTP%s endpoints on %s%s", pc_httpd_tls(h->srv) ? "S" : "", o->metrics_listen,
            o->tls_client_ca && o->tls_client_ca[0] ? " (client certificates required)" : "");
    return 0;
}

void pc_agent_http_stop(pc_agent *a)
{
    pc_agent_http *h = a->http;
    if (!h)
        return;
    a->http = NULL;
    pc_http_wait *w;
    while ((w = LIST_FIRST(&h->waits))) {
        LIST_REMOVE(w, link);
        pc_listing_cancel(a, w);
        pc_http_reply_error(w->req, HTTP_SERVUNAVAIL, PORTCO_ESHUTDOWN,
                            "the agent is shutting down");
        free(w);
    }
    pc_httpd_free(h->srv);
    free(h);
}
