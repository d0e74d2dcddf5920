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

/* Detach the connection from `list` requests still being gathered. */
void pc_listing_conn_closed(pc_conn *c);

#endif
