/* fixture.h - Criterion fixtures: a test's own ZooKeeper root, temp dir and agents; a cluster. */
#ifndef PT_FIXTURE_H
#define PT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "agentctl.h"
#include "cluster.h"
#include "portco.h"
#include "zkread.h"

/*
 * Everything here asserts: a failure ends the running test, and its suite's
 * .fini cleans up. Criterion runs each test in a process of its own, so the
 * state below is the running test's alone.
 */

/* ---- the environment of one test ------------------------------------- */

/* Free consecutive ports reserved from pt_base for the test's pools. */
#define PT_PORTS 32

/* Session timeout of the agents pt_start_agent() starts, in ms. */
#define PT_AGENT_SESSION_MS 4000

extern const char *pt_zkc; /* connect string of the test's ZooKeeper */
extern char pt_root[128];  /* a ZooKeeper root of the test's own */
extern char *pt_dir;       /* a temp dir of the test's own */
extern pt_zkr *pt_z;       /* a session to publish and inspect with */
extern int pt_base;        /* first of PT_PORTS ports that were free at setup */

/* Set the environment up against the ZooKeeper at `connect`. */
void pt_setup_on(const char *connect);

/* Set the environment up against the shared ZooKeeper of the ctest fixture
 * "zk": a suite's .init. */
void pt_setup(void);

/*
 * A suite's .fini: stop what the test started and left running (agents,
 * tracked processes), delete the test's root, close the session and remove
 * the temp dir (kept when $PORTCO_TEST_KEEP is set). Safe after a setup that
 * failed half-way, or without one.
 */
void pt_teardown(void);

/*
 * Replace pt_z by a new session. pt_z is driven only inside its calls, so a
 * test that goes longer than its session timeout without one (a slow
 * listing under a sanitizer) finds it expired; pt_teardown() renews it too.
 */
void pt_renew_session(void);

/* Remember pid so that pt_teardown() stops it (SIGTERM, then SIGKILL) if a
 * failed test left it running. Returns pid. */
pid_t pt_track(pid_t pid);

/* Publish a pool definition under pt_root, as the coordinator would. */
void pt_publish_def(const pt_pool_def *d);

/* Publish pool `name` over lo-hi (scope and exclude NULL: the defaults). */
void pt_publish_pool(const char *name, int lo, int hi, const char *scope, const char *exclude);

/* Publish `port` of `pool` as statically assigned to `service`. */
void pt_publish_static(const char *pool, int port, const char *service);

/*
 * Start portco-agent for `host` on the test's ZooKeeper and root (socket,
 * log and state file under pt_dir/<host>/, session PT_AGENT_SESSION_MS) and
 * wait until it is connected and has read the pools published so far.
 */
void pt_start_agent(pt_agent *ag, const char *host);

/* As pt_start_agent(), waiting only for the ZooKeeper session: for a root
 * where no pool is published yet. */
void pt_start_agent_no_pools(pt_agent *ag, const char *host);

/* Stop ag with SIGTERM and assert that it exits with status 0 (under ASan:
 * without a leak report); its log is printed otherwise. */
void pt_stop_agent(pt_agent *ag);

/* The port node of pool in the test's root (host NULL: cluster scope). */
void pt_port_dir(char *buf, size_t len, const char *pool, const char *host, int port);

/* The number of claim nodes on a port (0 when its port node is gone). */
int pt_nclaims(const char *pool, const char *host, int port);

/* Wait (10 s) until a cluster-scope port has n claim nodes, waiters included. */
void pt_wait_nclaims(const char *pool, int port, int n);

/* Wait (10 s) until a cluster-scope port is released: its port node is gone. */
void pt_assert_released(const char *pool, int port);

/* ---- a whole cluster ---------------------------------------------------- */

/* Start c (pt_cluster_start()) and open *z, a session on its ZooKeeper. */
void pt_cluster_up(pt_cluster *c, const pt_cluster_opts *o, pt_zkr **z);

/* Close *z and stop c; a sanitizer report in a daemon's log fails the test. */
void pt_cluster_down(pt_cluster *c, pt_zkr **z);

/* A libportco connection to agent i of c. */
portco_client *pt_cluster_client(const pt_cluster *c, int agent);

#endif
