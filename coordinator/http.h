/* http.h - the coordinator's read-only HTTP(S) endpoints: /metrics, /v1/leader, /v1/config. */
#ifndef PC_COORD_HTTP_H
#define PC_COORD_HTTP_H

#include <event2/event.h>

#include "cluster_file.h"
#include "election.h"
#include "httpd.h"
#include "publish.h"
#include "zkloop.h"

typedef struct pc_coord_http pc_coord_http;

/* Counters the coordinator keeps itself (borrowed; read at each scrape). */
typedef struct pc_coord_http_src {
    const char *id;                /* this coordinator's name */
    const char *root;              /* ZooKeeper root */
    const unsigned long *reloads;  /* SIGHUP reloads accepted */
    const unsigned long *rejected; /* SIGHUP reloads rejected (bad file) */
} pc_coord_http_src;

/*
 * Start serving per `o` (see pc_httpd_start). The ZooKeeper session, the
 * election and the publisher are attached later with pc_coord_http_attach();
 * until then the endpoints answer what they know. Returns 0,
 * PORTCO_ECONFIG, -errno, -ENOMEM; err says what to fix.
 */
int pc_coord_http_start(struct event_base *base, const pc_httpd_opts *o,
                        const pc_coord_http_src *src, pc_coord_http **out, pc_error *err);

/* Borrow the session, election and publisher (they must outlive the server
 * or be detached by pc_coord_http_free before they are freed). */
void pc_coord_http_attach(pc_coord_http *h, pc_zk *zk, pc_elect *e, pc_pub *p);

/* The configuration just loaded (copied as JSON for /v1/config). Accepts h NULL. */
void pc_coord_http_set_config(pc_coord_http *h, const pc_cluster *c);

/* A publish cycle left ZooKeeper matching the loaded configuration. Accepts h NULL. */
void pc_coord_http_published(pc_coord_http *h);

/*
 * Stop serving and free. Call after pc_zk_close() (pending /v1/leader reads
 * have then been answered 503) and before the event base is freed. Accepts NULL.
 */
void pc_coord_http_free(pc_coord_http *h);

#endif
