/* zkcheck.h - an independent checker of claims: reads ZooKeeper directly, never the agents. */
#ifndef PT_ZKCHECK_H
#define PT_ZKCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "zkread.h"

/* One port node of a pool, as ZooKeeper has it. */
typedef struct pt_portnode {
    int port;
    int nclaims;           /* claim (lock) children */
    char owner[160];       /* the child with the lowest sequence number */
    char owner_host[128];  /* "host" of the owner's data ("" when not portco JSON) */
    int64_t owner_czxid;   /* the owner's fencing token */
    int64_t owner_session; /* the owner's ephemeralOwner */
} pt_portnode;

/*
 * Read every port node of a cluster-scope pool under root: *out gets a
 * malloc'd array of *n entries (ports with at least one claim child; free
 * with free()). Nodes that vanish while being read are skipped, so a sample
 * taken while agents work is consistent per port. Returns 0 or a pt_zkr
 * code (-ENOENT is not an error: no ports yet gives *n 0).
 */
int pt_check_pool(pt_zkr *z, const char *root, const char *pool, pt_portnode **out, int *n);

/* Total claim children in a pool (all ports), or a negative code. */
int pt_check_count(pt_zkr *z, const char *root, const char *pool);

/*
 * The number of claim nodes under one port of pool (host NULL: the cluster
 * scope tree, else host's own), 0 when the port node does not exist (the
 * agent deletes it with the port's last claim), or a negative pt_zkr code.
 */
int pt_check_claims(pt_zkr *z, const char *root, const char *pool, const char *host, int port);

/* 0 when the port node of pool (host as above) does not exist, 1 when it
 * does, or a negative pt_zkr code. */
int pt_check_port_node(pt_zkr *z, const char *root, const char *pool, const char *host, int port);

/*
 * Claim `port` of a cluster-scope pool as another host would, the way the
 * agents do: through a session of its own, opened on `connect` (*out; the
 * claim lasts until pt_zkr_close(*out)), the port node's missing ancestors
 * are created, then an ephemeral sequential node named "_c_<new uuid>-lock-"
 * with data {"host": host, "service": service}. Returns 0 or a negative
 * pt_zkr code (*out is NULL then).
 */
int pt_claim_as(const char *connect, const char *root, const char *pool, int port, const char *host,
                const char *service, pt_zkr **out);

#endif
