/* pool_json.h - JSON form of pools and static assignments as stored in ZooKeeper. */
#ifndef PC_POOL_JSON_H
#define PC_POOL_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "cluster_file.h"

/* Largest pool or static JSON document accepted (ZooKeeper's jute.maxbuffer). */
#define PC_POOL_JSON_MAX (1u << 20)

/*
 * The pool as a new JSON object (a new reference), e.g.
 *   {"name":"web","ranges":"20000-20999","exclude":"20080,20100-20110",
 *    "proto":"tcp","scope":"cluster","address":"0.0.0.0","allow_privileged":false}
 * or NULL when out of memory.
 */
json_t *pc_pool_to_json(const pc_pool *p);

/* Same, as a compact malloc'd string (free with free()), or NULL when out of memory. */
char *pc_pool_to_json_str(const pc_pool *p);

/*
 * Parse and validate a pool from untrusted bytes (buf need not be
 * NUL-terminated). Every field must be present with the right type and pass
 * the same checks as the YAML file (name, ranges, non-empty port set,
 * privileged ports, address); keys not listed above are ignored so that
 * newer writers can add fields. On success *out owns the pool (free with
 * pc_pool_free). Returns 0, PORTCO_ECONFIG (err says which field and why;
 * *out is left empty) or -ENOMEM.
 */
int pc_pool_from_json(const char *buf, size_t len, pc_pool *out, pc_error *err);

/* The static assignment's data, {"service":"frontend"}, as a new reference or NULL. */
json_t *pc_static_to_json(const pc_static *s);

/* Same, as a compact malloc'd string, or NULL when out of memory. */
char *pc_static_to_json_str(const pc_static *s);

/*
 * Parse a static assignment's data read from <root>/config/static/<pool>/<port>;
 * pool and port come from the node's path and are checked too. Fills *out.
 * Returns 0 or PORTCO_ECONFIG (err says why).
 */
int pc_static_from_json(const char *buf, size_t len, const char *pool, uint32_t port,
                        pc_static *out, pc_error *err);

#endif
