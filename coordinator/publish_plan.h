/* publish_plan.h - the writes that make what ZooKeeper holds under <root> match the cluster file.
 */
#ifndef PC_PUBLISH_PLAN_H
#define PC_PUBLISH_PLAN_H

#include <jansson.h>
#include <stddef.h>

#include "cluster_file.h"

/* Writes per multi-op besides the fence check; keeps each request far below jute.maxbuffer. */
#define PC_PUB_BATCH 500

/* What a node read under <root> is. */
typedef enum {
    PC_NODE_POOL,       /* <root>/config/pools/<pool> */
    PC_NODE_STATIC_DIR, /* <root>/config/static/<pool> */
    PC_NODE_STATIC,     /* <root>/config/static/<pool>/<port> */
    PC_NODE_PARENT      /* <root>/pools/<pool> and the directories below it */
} pc_node_kind;

/* What a write does, for the counters. */
typedef enum {
    PC_CH_NONE,
    PC_CH_POOL_NEW,
    PC_CH_POOL_SET,
    PC_CH_POOL_DEL,
    PC_CH_STATIC_NEW,
    PC_CH_STATIC_SET,
    PC_CH_STATIC_DEL
} pc_change;

/* The operation of a write. */
typedef enum { PC_WRITE_CREATE, PC_WRITE_SET, PC_WRITE_DELETE } pc_write_op;

/* A znode read from ZooKeeper. */
typedef struct pc_node {
    char *path; /* owned */
    char *data; /* owned, NUL-terminated after len bytes; NULL: no data */
    int len;    /* bytes of data, -1 when there is none */
    int version;
    pc_node_kind kind;
} pc_node;

/* The nodes a cycle read, with an index by path. */
typedef struct pc_pub_nodes {
    pc_node *v;
    size_t n, cap;
    json_t *index; /* path -> position in v */
} pc_pub_nodes;

/* Start an empty set. Returns 0 or -ENOMEM. */
int pc_pub_nodes_init(pc_pub_nodes *ns);

/* Free everything the set owns and leave it empty. Accepts an all-zero set. */
void pc_pub_nodes_free(pc_pub_nodes *ns);

/*
 * Add a node of `kind` at `path` (copied), without data and with version -1.
 * Returns its position in ns->v, or -ENOMEM. Positions stay valid as nodes
 * are added; pointers into ns->v do not.
 */
int pc_pub_nodes_add(pc_pub_nodes *ns, const char *path, pc_node_kind kind);

/* The node at `path`, or NULL. Borrowed: valid until the next add. */
pc_node *pc_pub_nodes_find(const pc_pub_nodes *ns, const char *path);

/* A write to make. */
typedef struct pc_write {
    pc_write_op op;
    char *path;  /* owned */
    char *data;  /* owned, NUL-terminated; NULL for a delete */
    int version; /* for sets and deletes: the version read, or -1 for any */
    pc_change change;
} pc_write;

/* The writes of one cycle, in the order they must be made. */
typedef struct pc_pub_plan {
    pc_write *w;
    size_t nw, cap;
    unsigned unchanged; /* pools and statics that already hold what the file gives */
} pc_pub_plan;

/*
 * Plan the writes that make the nodes read (`cur`, under `root`) match the
 * cluster file `cfg`. Data is compared byte for byte with the JSON form of
 * each pool and static (pool_json.h); a node that already holds it gets no
 * write and counts in plan->unchanged. The order is:
 *
 *   for each pool of the file: its pool node created or updated;
 *   for each static of the file: its pool's static directory created (before
 *   its first static), then the static created or updated;
 *   statics removed, static directories removed, pools removed;
 *   for each pool of the file: <root>/pools/<pool>, .../ports and .../hosts
 *   created where missing.
 *
 * so that every prefix of the plan is consistent: an agent never sees a
 * static without its pool. Sets and deletes carry the version read (deletes
 * of static directories any version), so a concurrent change makes the
 * multi-op fail. Nodes of kind PC_NODE_PARENT are never deleted: claims
 * live under them.
 *
 * *plan is overwritten. Returns 0, -ENOMEM, or -EINVAL / -ENAMETOOLONG when a
 * name of the file makes no valid path under root; on failure *plan is
 * empty. Free with pc_pub_plan_free.
 */
int pc_pub_plan_make(pc_pub_plan *plan, const char *root, const pc_cluster *cfg,
                     const pc_pub_nodes *cur);

/* Free everything the plan owns and leave it empty. Accepts an all-zero plan. */
void pc_pub_plan_free(pc_pub_plan *plan);

/*
 * Writes in the multi-op that begins at write `next`: PC_PUB_BATCH, or fewer
 * for the last one; 0 when next is at or past the end of the plan.
 */
size_t pc_pub_plan_batch(const pc_pub_plan *plan, size_t next);

#endif
