/* fixture.c - the per-test ZooKeeper root, temp dir and agents, and the cluster fixture. */
#include "fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "zkcheck.h"
#include "zkpath.h"

#define PT_AGENT_READY_MS 15000
#define PT_WAIT_MS        10000
#define PT_TRACKED        16

const char *pt_zkc;
char pt_root[128];
char *pt_dir;
pt_zkr *pt_z;
int pt_base;

/* Processes to stop in the teardown; 0 marks a free slot. */
static pid_t pt_tracked[PT_TRACKED];

void pt_setup_on(const char *connect)
{
    pt_zkc = connect;
    cr_assert_not_null(pt_zkc, "no ZooKeeper: run through ctest (fixture zk)");
    pt_unique_root("t", pt_root, sizeof(pt_root));
    pt_dir = pt_tmpdir("pt-test");
    cr_assert_not_null(pt_dir);
    int rc = pt_zkr_connect(&pt_z, pt_zkc, 10000, 10000);
    cr_assert_eq(rc, 0, "ZooKeeper %s: %s", pt_zkc, strerror(-rc));
    pt_base = pt_port_run(PT_PORTS);
    cr_assert_gt(pt_base, 0, "no run of %d free ports", PT_PORTS);
}

void pt_renew_session(void)
{
    pt_zkr_close(pt_z);
    pt_z = NULL;
    int rc = pt_zkr_connect(&pt_z, pt_zkc, 10000, 10000);
    cr_assert_eq(rc, 0, "ZooKeeper %s: %s", pt_zkc, strerror(-rc));
}

void pt_setup(void)
{
    pt_setup_on(pt_zk_shared());
}

void pt_teardown(void)
{
    for (int i = PT_TRACKED - 1; i >= 0; i--)
        if (pt_tracked[i] > 0) {
            pt_stop_pid(pt_tracked[i], SIGTERM, 5000);
            pt_tracked[i] = 0;
        }
    if (pt_z) {
        /* A new session: the test's own may have expired while it ran. */
        pt_zkr_close(pt_z);
        pt_z = NULL;
        if (pt_zkr_connect(&pt_z, pt_zkc, 10000, 10000) == 0)
            pt_zkr_delete_tree(pt_z, pt_root);
        pt_zkr_close(pt_z);
        pt_z = NULL;
    }
    if (pt_dir) {
        if (getenv("PORTCO_TEST_KEEP"))
            fprintf(stderr, "kept %s (PORTCO_TEST_KEEP)\n", pt_dir);
        else
            pt_rmtree(pt_dir);
        free(pt_dir);
        pt_dir = NULL;
    }
}

pid_t pt_track(pid_t pid)
{
    if (pid <= 0)
        return pid;
    for (int i = 0; i < PT_TRACKED; i++)
        if (pt_tracked[i] <= 0) {
            pt_tracked[i] = pid;
            return pid;
        }
    cr_assert_fail("more than %d processes to track", PT_TRACKED);
    return pid;
}

static void pt_forget(pid_t pid)
{
    for (int i = 0; i < PT_TRACKED; i++)
        if (pt_tracked[i] == pid)
            pt_tracked[i] = 0;
}

void pt_publish_def(const pt_pool_def *d)
{
    int rc = pt_zkr_publish_pool(pt_z, pt_root, d);
    cr_assert_eq(rc, 0, "publishing pool %s: %s", d->name, strerror(-rc));
}

void pt_publish_pool(const char *name, int lo, int hi, const char *scope, const char *exclude)
{
    pt_pool_def d = {.name = name, .lo = lo, .hi = hi, .scope = scope, .exclude = exclude};
    pt_publish_def(&d);
}

void pt_publish_static(const char *pool, int port, const char *service)
{
    char path[600], json[256];
    cr_assert_eq(pc_zkp_static_port(path, sizeof(path), pt_root, pool, port), 0);
    snprintf(json, sizeof(json), "{\"service\":\"%s\"}", service);
    int rc = pt_zkr_create_path(pt_z, path, json);
    cr_assert_eq(rc, 0, "publishing static port %d: %s", port, strerror(-rc));
}

static void pt_start(pt_agent *ag, const char *host, bool need_pools)
{
    int rc = pt_agent_run(ag, pt_dir, host, pt_zkc, pt_root, PT_AGENT_SESSION_MS);
    if (rc == 0)
        pt_track(ag->pid);
    else
        pt_agent_dump_log(ag, 8192);
    cr_assert_eq(rc, 0, "agent %s did not start: %s", host, strerror(-rc));
    rc = pt_agent_wait_ready(ag, need_pools, PT_AGENT_READY_MS);
    if (rc != 0)
        pt_agent_dump_log(ag, 8192);
    cr_assert_eq(rc, 0, "agent %s never became ready", host);
}

void pt_start_agent(pt_agent *ag, const char *host)
{
    pt_start(ag, host, true);
}

void pt_start_agent_no_pools(pt_agent *ag, const char *host)
{
    pt_start(ag, host, false);
}

void pt_stop_agent(pt_agent *ag)
{
    pid_t pid = ag->pid;
    int st = pt_agent_stop(ag);
    pt_forget(pid);
    if (st != 0)
        pt_agent_dump_log(ag, 16384);
    cr_assert_eq(st, 0, "agent %s: exit status %d", ag->host, st);
}

void pt_port_dir(char *buf, size_t len, const char *pool, const char *host, int port)
{
    cr_assert_eq(pc_zkp_port_dir(buf, len, pt_root, pool, host, port), 0);
}

int pt_nclaims(const char *pool, const char *host, int port)
{
    int n = pt_check_claims(pt_z, pt_root, pool, host, port);
    cr_assert_geq(n, 0, "reading the claims of %s/%d: %s", pool, port, strerror(-n));
    return n;
}

typedef struct pt_port_arg {
    const char *pool;
    int port;
    int want;
} pt_port_arg;

static bool pt_nclaims_are(void *arg)
{
    pt_port_arg *a = arg;
    return pt_nclaims(a->pool, NULL, a->port) == a->want;
}

void pt_wait_nclaims(const char *pool, int port, int n)
{
    pt_port_arg a = {pool, port, n};
    cr_assert(pt_wait_until(pt_nclaims_are, &a, PT_WAIT_MS), "port %s/%d has %d claims, not %d",
              pool, port, pt_nclaims(pool, NULL, port), n);
}

static bool pt_port_node_gone(void *arg)
{
    pt_port_arg *a = arg;
    return pt_check_port_node(pt_z, pt_root, a->pool, NULL, a->port) == 0;
}

void pt_assert_released(const char *pool, int port)
{
    pt_port_arg a = {pool, port, 0};
    cr_assert(pt_wait_until(pt_port_node_gone, &a, PT_WAIT_MS), "port node %s/%d still exists",
              pool, port);
}

void pt_cluster_up(pt_cluster *c, const pt_cluster_opts *o, pt_zkr **z)
{
    cr_assert_eq(pt_cluster_start(c, o), 0, "cluster did not start");
    if (c->netns_fallback)
        cr_log_warn("network namespaces unavailable: the agents share the root namespace");
    int rc = pt_zkr_connect(z, c->connect, 60000, 10000);
    cr_assert_eq(rc, 0, "ZooKeeper %s: %s", c->connect, strerror(-rc));
}

void pt_cluster_down(pt_cluster *c, pt_zkr **z)
{
    pt_zkr_close(*z);
    *z = NULL;
    cr_expect_eq(pt_cluster_stop(c), 0, "a daemon log holds a sanitizer report");
}

portco_client *pt_cluster_client(const pt_cluster *c, int agent)
{
    portco_client *pc = NULL;
    portco_status st;
    cr_assert_eq(portco_connect(c->agents[agent].sock, &pc, &st), 0, "%s", st.message);
    return pc;
}
