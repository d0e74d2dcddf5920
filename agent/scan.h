/* scan.h - the candidate scan of one acquire: which port of a pool to try next. */
#ifndef PC_SCAN_H
#define PC_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster_file.h"

/*
 * What the scan reads of a pool. Everything is borrowed and only read.
 * Ports are addressed by their index in `ports` (pc_rangeset_index): bit i of
 * a bitmap is bit i % 64 of word i / 64, and each bitmap has at least
 * (nports + 63) / 64 words. When nports is 0 the pointers may be NULL.
 */
typedef struct pc_scan_pool {
    const pc_rangeset *ports; /* the claimable ports */
    size_t nports;            /* pc_rangeset_count(ports) */
    const uint64_t *claimed;  /* the cache shows a port node for the port */
    const uint64_t *inflight; /* a claim attempt or a claim of this agent is on the port */
    const pc_static *statics; /* static assignments of the pool, sorted by port */
    size_t nstatics;
    size_t cursor; /* index where the next scan begins (taken modulo nports) */
} pc_scan_pool;

/*
 * Candidate scan of one acquire. Pass 1 visits, from the pool's rotating
 * cursor onward and wrapping around to it, ports that the cache shows
 * unclaimed; pass 2 visits, in the same order, the ports the cache shows
 * claimed (their port node may be empty or stale). Both skip ports in flight
 * on this agent and ports statically assigned to another service. Skipping
 * looks at 64 ports per bitmap word, so the cost per candidate does not grow
 * with the pool's occupancy.
 */
typedef struct pc_scan {
    size_t start;    /* index where the scan began */
    size_t examined; /* indexes visited in the current pass */
    int pass;        /* 1 or 2; 3 when done */
} pc_scan;

/* Begin a scan of `p` at its cursor. */
void pc_scan_begin(const pc_scan_pool *p, pc_scan *s);

/*
 * Next candidate port for `service`, or 0 when both passes are done (then
 * every later call returns 0 too). *second_pass is set to whether the port
 * comes from pass 2 (the cache shows a port node); it is left alone when 0
 * is returned. The bitmaps are read at each call, so a port that becomes
 * claimed or in flight between calls is judged by its state at the call
 * that reaches it. The pool may be redefined between calls (another size);
 * the scan then goes on over the new definition, and still ends.
 */
uint16_t pc_scan_next(const pc_scan_pool *p, pc_scan *s, const char *service, bool *second_pass);

/*
 * The service `port` is statically assigned to among `statics` (n entries,
 * sorted by port), or NULL when it has none. Borrowed from statics.
 */
const char *pc_scan_static_owner(const pc_static *statics, size_t n, uint16_t port);

/*
 * Where an agent's first scan of a pool of nports ports begins: an index in
 * [0, nports) given by an FNV-1a-style hash of "<host_id>/<pool>", 0 when
 * nports is 0. Agents that start together would otherwise all try the pool's
 * first ports at once and lose the same races to each other, one round per
 * agent, until their caches caught up.
 */
size_t pc_scan_first_cursor(const char *host_id, const char *pool, size_t nports);

#endif
