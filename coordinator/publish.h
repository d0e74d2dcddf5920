/* publish.h - the leader's job: make <root>/config match the cluster file. */
#ifndef PC_PUBLISH_H
#define PC_PUBLISH_H

#include <stdbool.h>

#include "cluster_file.h"
#include "error.h"
#include "zkloop.h"

/*
 * A publish cycle reads what is under <root>/config (pools and statics, with
 * data and versions), compares it byte for byte with what the cluster file
 * gives, and writes only the difference, in this order:
 *
 *   pools created or updated, static directories created, statics created
 *   or updated, statics removed, static directories removed, pools removed,
 *   then <root>/pools/<pool>, .../ports and .../hosts created where missing
 *
 * in one multi-op (several in that order when the change is large, so every
 * prefix is consistent: an agent never sees a static without its pool).
 * Every multi starts with a check of the leader's election node (any
 * version): a coordinator whose session is gone cannot write. Sets and
 * deletes carry the version read, so a concurrent change makes the multi
 * fail and the cycle starts over from the read. Claim trees under
 * <root>/pools are never deleted.
 *
 * Everything runs on the loop thread. Close the pc_zk before freeing the
 * publisher (pending completions then run with ZCLOSING).
 */

typedef struct pc_pub pc_pub;

/* Counts of what was written, over the life of the publisher. */
typedef struct pc_pub_stats {
    unsigned long cycles;   /* cycles that ended with ZooKeeper matching the file */
    unsigned long writes;   /* multi-ops committed */
    unsigned long failures; /* cycles that failed and were retried */
    unsigned long pools_created, pools_updated, pools_removed;
    unsigned long statics_created, statics_updated, statics_removed;
} pc_pub_stats;

/* Called after every cycle that left ZooKeeper matching the file. */
typedef void (*pc_pub_cb)(pc_pub *p, void *ud);

/*
 * A publisher for `root` (copied). Returns 0, -EINVAL (bad root), -ENOMEM.
 * Failed cycles are retried on a timer of `base`.
 */
int pc_pub_new(struct event_base *base, pc_zk *zk, const char *root, pc_pub_cb cb, void *ud,
               pc_pub **out, pc_error *err);

/* Free (after pc_zk_close()). Accepts NULL. */
void pc_pub_free(pc_pub *p);

/*
 * Replace the configuration to publish. Takes what *c owns and leaves *c
 * empty. When publishing is on, a cycle starts (or runs again once the
 * current one ends).
 */
void pc_pub_set_config(pc_pub *p, pc_cluster *c);

/*
 * Publishing on: this coordinator leads, and `fence` (copied) is the full
 * path of its election node. Starts a cycle.
 */
void pc_pub_start(pc_pub *p, const char *fence);

/* Publishing off (leadership lost). Cycles in flight are abandoned. */
void pc_pub_stop(pc_pub *p);

/* Run a cycle now if publishing is on (e.g. the session is back). */
void pc_pub_kick(pc_pub *p);

const pc_pub_stats *pc_pub_get_stats(const pc_pub *p);

#endif
