/* cluster.h - a whole portco cluster for tests: ZooKeeper, coordinators, agents (one per netns). */
#ifndef PT_CLUSTER_H
#define PT_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "netns.h"
#include "support.h"

#define PT_CLUSTER_COORDS 2
#define PT_CLUSTER_EXTRA  16

/* One portco-agent: host id "h<i>", its socket and log under the cluster dir. */
typedef struct pt_cluster_agent {
    pid_t pid;
    char id[32];
    char sock[512];
    char log[512];
} pt_cluster_agent;

typedef struct pt_cluster_opts {
    int agents;           /* 1..PT_HOSTS_MAX */
    int coordinators;     /* 0..PT_CLUSTER_COORDS */
    bool netns;           /* each agent in its own network namespace, when supported */
    bool own_zk;          /* a ZooKeeper of its own (on the bridge with netns); else the
                             shared one of the ctest fixture */
    const char *cluster;  /* cluster file text without `root:` (the helper adds it) */
    int coord_session_ms; /* 0: 1500 */
    int agent_session_ms; /* 0: 10000 (the agent's default; shorter sessions time out under a
                             burst of hundreds of claims on a 2-core machine) */
} pt_cluster_opts;

/*
 * Everything a cluster test started. Agents and coordinators run in the root
 * filesystem, so their Unix sockets and logs are reachable from the test
 * whatever namespace they run in. `hosts` is NULL when the agents share the
 * root network namespace (netns not asked for, or not supported: then
 * `netns_fallback` is set and a line saying so was printed).
 */
typedef struct pt_cluster {
    pt_hosts *hosts;
    bool netns_fallback;
    pt_zk zk;          /* own server; zk.dir is empty when the shared one is used */
    char connect[512]; /* connect string of the ZooKeeper in use */
    char root[256];    /* unique ZooKeeper root of this cluster */
    char *dir;         /* temp dir: cluster file, sockets, logs */
    char cluster_file[600];
    char cluster_text[8192];
    int coord_session_ms;
    int agent_session_ms;
    int ncoords;
    pid_t coords[PT_CLUSTER_COORDS];
    int nagents;
    pt_cluster_agent agents[PT_HOSTS_MAX];
    int nextra;
    pid_t extra[PT_CLUSTER_EXTRA]; /* helper processes (listeners), stopped by pt_cluster_stop */
} pt_cluster;

/*
 * Start ZooKeeper (own or shared), write the cluster file, start the
 * coordinators and the agents (together), and wait until every agent is connected and
 * has loaded the cluster configuration (status "ready"). On failure,
 * everything started is stopped again. Returns 0, or a negative code after
 * printing what failed.
 */
int pt_cluster_start(pt_cluster *c, const pt_cluster_opts *o);

/*
 * Stop helper processes, agents and coordinators by pid (SIGTERM, then
 * SIGKILL), then ZooKeeper (own) or the cluster's subtree (shared), the
 * namespaces and the temp dir (kept when $PORTCO_TEST_KEEP is set). Returns the number of daemon
 * logs that hold a sanitizer report (each is printed). Safe on a partly started cluster.
 */
int pt_cluster_stop(pt_cluster *c);

/* Start coordinator i (0-based, id "c<i>") again, e.g. after a kill. Returns 0 or -errno. */
int pt_cluster_coord_start(pt_cluster *c, int i);

/* Replace the cluster file atomically (root added as by pt_cluster_start). Returns 0 or -errno. */
int pt_cluster_write_file(pt_cluster *c, const char *cluster);

/*
 * Ask agent i for its status over its socket: *out gets the whole answer
 * object (owned; json_decref it). Returns 0, -ETIMEDOUT, -EPROTO (no JSON
 * answer, or ok false), or -errno.
 */
int pt_cluster_status(const pt_cluster *c, int i, json_t **out, int timeout_ms);

/* Integer counter `name` of agent i's status ("counters" object), or a negative code. */
long long pt_cluster_counter(const pt_cluster *c, int i, const char *name);

/* Wait until agent i lists `pool` among its loaded pools. */
bool pt_cluster_wait_pool(const pt_cluster *c, int i, const char *pool, int timeout_ms);

/*
 * Start an unrelated TCP listener (python3, no SO_REUSEADDR) on 0.0.0.0:port
 * in agent i's network namespace (the root namespace without netns), wait
 * until it listens, and remember its pid for pt_cluster_stop. Returns the
 * pid, or a negative code.
 */
pid_t pt_cluster_listen(pt_cluster *c, int i, int port);

/*
 * First port of a run of n ports usable as a pool, chosen before the cluster
 * starts: with netns (asked for and supported) a fixed run, since the
 * namespaces' socket tables are empty; else a run found free in the root
 * namespace, below the ephemeral range.
 */
int pt_cluster_port_run(bool netns, int n);

#endif
