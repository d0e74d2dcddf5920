/* listing.h - the `list` and `status` requests. */
#ifndef PC_LISTING_H
#define PC_LISTING_H

#include "agent.h"
#include "conn.h"

/*
 * Answer `list`: every owning claim (lowest sequence of each port node) of
 * every published pool, or of r->req.pool, read from ZooKeeper, in pool,
 * port, host order. Errors: ZK_UNAVAILABLE, NOT_READY, NO_SUCH_POOL.
 */
void pc_listing_list(pc_conn *c, pc_creq *r);

/* Answer `status`: host, version, ZooKeeper state, pools, claim count,
 * session id and counters. */
void pc_listing_status(pc_conn *c, pc_creq *r);

/*
 * Completion of pc_listing_gather(): code 0 with `claims` (consumed: an
 * array of claim objects in pool, port, host order), or a code
 * (ZK_UNAVAILABLE, NOT_READY, NO_SUCH_POOL, -ENOMEM) with msg and claims NULL.
 */
typedef void (*pc_listing_cb)(pc_agent *a, int code, const char *msg, json_t *claims, void *ud);

/*
 * Gather what `list` answers, of every pool or of `pool` (NULL or "" for
 * all), for a caller other than a connection. cb runs exactly once, before
 * this returns when the listing cannot start, unless pc_listing_cancel(a, ud)
 * is called first.
 */
void pc_listing_gather(pc_agent *a, const char *pool, pc_listing_cb cb, void *ud);

/* Forget the callbacks of every gather started with `ud`: they will not run. */
void pc_listing_cancel(pc_agent *a, void *ud);

/*
 * True when the agent can serve claims: connected to ZooKeeper and the pools
 * read (`status` says "zookeeper": "connected" and "ready": true). What
 * `/v1/status` answers 200 for, and `portco status` exits 0 for.
 */
bool pc_listing_serving(const pc_agent *a);

/* The fields of the `status` answer (without v, id, ok) as a new object. */
json_t *pc_listing_status_json(pc_agent *a);

/* Detach the connection from `list` requests still being gathered. */
void pc_listing_conn_closed(pc_conn *c);

#endif
