/* pools.h - pools and static assignments followed live from ZooKeeper; the claimed-port cache. */
#ifndef PC_POOLS_H
#define PC_POOLS_H

#include "agent.h"
#include "scan.h"

/*
 * Start (or, after a new session, restart) following <root>/config/pools:
 * a child watch on the directory, a data watch on every pool, and for every
 * defined pool a child watch on its ports directory and on its static
 * assignments. a->pools_ready becomes true once the directory has been read.
 */
void pc_pools_follow(pc_agent *a);

/*
 * Issue again, on the same session, the reads of pc_pools_follow() that
 * failed (a lost connection, a ZooKeeper error): their watches were never
 * set. Reads that succeeded keep their watches across a reconnect. Called on
 * every reconnect, and from a timer after errors seen while connected.
 */
void pc_pools_refollow(pc_agent *a);

/* A read of `what` failed with ZooKeeper code `rc`: log it, and have
 * pc_pools_refollow() issue it again (the caller has cleared its
 * "watching" flag). */
void pc_pools_read_failed(pc_agent *a, const char *what, int rc);

/* Have pc_pools_refollow() run after a read failed with `rc` (its flag is
 * already clear): once connected for a lost connection, else shortly. */
void pc_pools_retry(pc_agent *a, int rc);

/* The pool named `name` when it is currently defined, else NULL. */
pc_apool *pc_pools_find(pc_agent *a, const char *name);

/* Free every pool (after the ZooKeeper session is closed). */
void pc_pools_free_all(pc_agent *a);

/* Index of `port` among the pool's claimable ports, or -1 when not in the pool. */
long pc_pool_index(const pc_apool *p, uint16_t port);

/* The service `port` is statically assigned to, or NULL. Borrowed. */
const char *pc_pool_static_service(const pc_apool *p, uint16_t port);

/* The port statically assigned to `service` in the pool, or 0. */
uint16_t pc_pool_static_port(const pc_apool *p, const char *service);

/* Mark / unmark a port as having a claim attempt or a claim of this agent. */
void pc_pool_set_inflight(pc_apool *p, uint16_t port, bool on);

/*
 * Begin a candidate scan of the pool at its cursor, and take its next
 * candidate for `service` (pc_scan_begin and pc_scan_next in scan.h over the
 * pool's current bitmaps, ports and static assignments).
 */
void pc_pool_scan_begin(const pc_apool *p, pc_scan *s);
uint16_t pc_pool_scan_next(const pc_apool *p, pc_scan *s, const char *service, bool *second_pass);

/* Move the pool's cursor past a granted port, so the next scan starts after it. */
void pc_pool_advance(pc_apool *p, uint16_t port);

#endif
