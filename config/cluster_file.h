/* cluster_file.h - the cluster file (pools, static assignments): types, loading and validation. */
#ifndef PC_CLUSTER_FILE_H
#define PC_CLUSTER_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "error.h"
#include "ranges.h"
#include "types.h"

/* Longest pool name (ZooKeeper node name rules: [A-Za-z0-9._-], not "." or ".."). */
#define PC_POOL_NAME_MAX 63
/* Longest service name and host id (printable ASCII without '/' or blanks). */
#define PC_SERVICE_NAME_MAX 127
#define PC_HOST_ID_MAX      127
/* Longest ZooKeeper root path. */
#define PC_ROOT_MAX 200
/* Room for any IPv4 or IPv6 literal (INET6_ADDRSTRLEN). */
#define PC_ADDRESS_MAX 46

/* Default ZooKeeper root. */
#define PC_DEFAULT_ROOT "/portco"

/* A pool of ports. Owns its range sets; line/col point at its definition (0 if none). */
typedef struct pc_pool {
    char name[PC_POOL_NAME_MAX + 1];
    pc_rangeset ranges;  /* as written in `range` */
    pc_rangeset exclude; /* as written in `exclude` */
    pc_rangeset ports;   /* ranges minus exclude: the ports that can be claimed */
    pc_proto proto;
    pc_scope scope;
    char address[PC_ADDRESS_MAX + 1]; /* canonical text of the bind address */
    bool allow_privileged;
    int line, col;
} pc_pool;

/* A port of a pool reserved for one service. */
typedef struct pc_static {
    char pool[PC_POOL_NAME_MAX + 1];
    uint16_t port;
    char service[PC_SERVICE_NAME_MAX + 1];
    int line, col;
} pc_static;

/* A loaded and validated cluster file. Owns its arrays. */
typedef struct pc_cluster {
    char root[PC_ROOT_MAX + 1];
    pc_pool *pools;
    size_t npools;
    pc_static *statics;
    size_t nstatics;
} pc_cluster;

/* Most pools and static assignments in one cluster file (the checks compare pairs). */
#define PC_CLUSTER_MAX_POOLS   1000
#define PC_CLUSTER_MAX_STATICS 10000

/* Largest configuration file accepted, in bytes. */
#define PC_CONFIG_MAX_BYTES (4u << 20)

/*
 * Load and validate a cluster file. On success returns 0 and *out owns the
 * result (free with pc_cluster_free). On failure *out is left empty (safe to
 * free) and the return is PORTCO_ECONFIG (every problem found is appended to
 * d) or -errno when the file cannot be read (d gets an io-error entry).
 * d may be NULL when the caller does not want the detail.
 */
int pc_cluster_load_file(const char *path, pc_cluster *out, pc_diags *d);

/*
 * Same, from memory: `name` is the file name used in diagnostics, text need
 * not be NUL-terminated. Returns 0 or PORTCO_ECONFIG (-ENOMEM when out of memory).
 */
int pc_cluster_load_string(const char *name, const char *text, size_t len, pc_cluster *out,
                           pc_diags *d);

/* Free everything *c owns and leave it empty. Accepts NULL and empty clusters. */
void pc_cluster_free(pc_cluster *c);

/* The pool named `name`, or NULL. The pointer is borrowed from c. */
const pc_pool *pc_cluster_find_pool(const pc_cluster *c, const char *name);

/* The static assignment of `port` in pool `pool`, or NULL. Borrowed from c. */
const pc_static *pc_cluster_static_for(const pc_cluster *c, const char *pool, uint32_t port);

/* Total number of claimable ports over every pool. */
size_t pc_cluster_port_count(const pc_cluster *c);

/* Free the range sets of a pool and zero it. */
void pc_pool_free(pc_pool *p);

/* Deep copy of a pool into *dst (which must be empty). Returns 0 or -ENOMEM. */
int pc_pool_copy(pc_pool *dst, const pc_pool *src);

/*
 * True when two pools could hand out the same port to sockets that collide
 * on a host: their protocols intersect, their addresses overlap (equal, or
 * either one a wildcard) and their port sets intersect. The lowest shared
 * port goes to *first when not NULL.
 */
bool pc_pools_overlap(const pc_pool *a, const pc_pool *b, uint32_t *first);

#include "agent_config.h"
#include "names.h"
#include "pool_json.h"

#endif
