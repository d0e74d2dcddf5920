/* test_fault_ensemble.c - the agent against a 3-node ZooKeeper ensemble losing its leader, a
 * follower, or everything. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agentcli.h"
#include "agentctl.h"
#include "support.h"
#include "zkcheck.h"
#include "zkpath.h"
#include "zkread.h"

#define PT_NCLAIMS 4

static pt_zk pt_ens;
static char pt_root[256];
static char *pt_dir;
static pt_zkr *pt_z;
static int pt_base;
static pt_agent pt_ag;

static void pt_setup(void)
{
    cr_assert_eq(pt_zk_start(&pt_ens, 3), 0, "cannot start a 3-node ensemble");
    pt_unique_root("ens", pt_root, sizeof(pt_root));
    pt_dir = pt_tmpdir("pt-ens");
    cr_assert_not_null(pt_dir);
    cr_assert_eq(pt_zkr_connect(&pt_z, pt_ens.connect, 30000, 10000), 0);
    pt_base = pt_port_run(16);
    cr_assert_gt(pt_base, 0, "no run of %d free ports", 16);
    pt_pool_def web = {.name = "web", .lo = pt_base, .hi = pt_base + 15};
    cr_assert_eq(pt_zkr_publish_pool(pt_z, pt_root, &web), 0);
}

static void pt_teardown(void)
{
    pt_agent_stop(&pt_ag);
    cr_expect_eq(pt_agent_sanitizer_report(&pt_ag), 0, "the agent reported a sanitizer error");
    pt_zkr_close(pt_z);
    pt_z = NULL;
    pt_zk_stop(&pt_ens);
    if (pt_dir) {
        pt_rmtree(pt_dir);
        free(pt_dir);
        pt_dir = NULL;
    }
}

/* Acquire, retrying only on the transient answers of a starting or
 * reconnecting agent; every other answer fails the test. */
static int pt_acquire_retry(pt_cli *c, portco_claim *cl, int timeout_ms, int *unavailable)
{
    long long deadline = pt_now_ms() + timeout_ms;
    char msg[512] = "";
    int rc;
    for (;;) {
        rc = pt_cli_acquire(c, "web", "api", 0, "connection", cl, msg, sizeof(msg));
        if (rc > 0)
            return rc;
        if (rc != PORTCO_EZKUNAVAIL && rc != PORTCO_ENOTREADY && rc != PORTCO_ENOPOOL)
            pt_agent_dump_log(&pt_ag, 20000);
        cr_assert(rc == PORTCO_EZKUNAVAIL || rc == PORTCO_ENOTREADY || rc == PORTCO_ENOPOOL,
                  "acquire: %s: %s", portco_err_name(rc), msg);
        if (unavailable && rc == PORTCO_EZKUNAVAIL)
            (*unavailable)++;
        cr_assert_lt(pt_now_ms(), deadline, "no grant within %d ms: %s", timeout_ms, msg);
        pt_nap_ms(50);
    }
}

/* ZooKeeper still has each claim, with the same fencing token, alone on its port. */
static void pt_assert_claims_intact(const portco_claim *cl, int n)
{
    pt_portnode *ports = NULL;
    int np = 0;
    /* The reader's session may be moving to another member: retry for 30 s. */
    long long end = pt_now_ms() + 30000;
    int rc;
    while ((rc = pt_check_pool(pt_z, pt_root, "web", &ports, &np)) < 0 && pt_now_ms() < end)
        pt_nap_ms(200);
    cr_assert_eq(rc, 0, "cannot read the pool: %d", rc);
    for (int i = 0; i < n; i++) {
        bool found = false;
        for (int k = 0; k < np; k++)
            if (ports[k].port == cl[i].port) {
                found = true;
                cr_assert_eq(ports[k].nclaims, 1, "port %d has %d claims", ports[k].port,
                             ports[k].nclaims);
                cr_assert_str_eq(ports[k].owner, cl[i].claim);
                cr_assert_eq(ports[k].owner_czxid, cl[i].czxid);
            }
        cr_assert(found, "claim on port %u is gone", cl[i].port);
    }
    for (int k = 0; k < np; k++)
        cr_assert_eq(ports[k].nclaims, 1, "port %d has %d claims", ports[k].port, ports[k].nclaims);
    free(ports);
}

/* Hold PT_NCLAIMS claims, kill `which`, and check nothing was lost. */
static void pt_kill_one(const char *which)
{
    cr_assert_eq(pt_agent_run(&pt_ag, pt_dir, "h1", pt_ens.connect, pt_root, 8000), 0);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    portco_claim cl[PT_NCLAIMS];
    for (int i = 0; i < PT_NCLAIMS; i++)
        pt_acquire_retry(&c, &cl[i], 15000, NULL);
    int node = 0;
    char mode[32];
    cr_assert_eq(pt_zk_kill(&pt_ens, which, &node), 0);
    long long t0 = pt_now_ms();
    int unavailable = 0;
    portco_claim more;
    pt_acquire_retry(&c, &more, 30000, &unavailable);
    cr_log_info("%s (node %d) killed: next grant after %lld ms, %d ZK_UNAVAILABLE answers", which,
                node, pt_now_ms() - t0, unavailable);
    cr_assert(pt_cli_wait_zk_state(&c, "connected", 20000));
    pt_assert_claims_intact(cl, PT_NCLAIMS);
    cr_assert_eq(pt_cli_counter(&c, "claims"), PT_NCLAIMS + 1);
    cr_assert_eq(pt_cli_counter(&c, "conflicts"), 0);
    cr_assert_eq(pt_cli_counter(&c, "reasserted"), 0, "the session was lost");
    cr_assert_eq(pt_zk_restart(&pt_ens, node), 0);
    cr_assert_eq(pt_zk_mode(&pt_ens, node, mode, sizeof(mode)), 0);
    pt_assert_claims_intact(cl, PT_NCLAIMS);
    pt_cli_close(&c);
}

TestSuite(fault_ensemble, .init = pt_setup, .fini = pt_teardown, .timeout = 240);

Test(fault_ensemble, leader_kill_costs_no_claim)
{
    pt_kill_one("leader");
}

Test(fault_ensemble, follower_kill_costs_no_claim)
{
    pt_kill_one("follower");
}

typedef struct pt_restart_arg {
    int node;
    int rc;
} pt_restart_arg;

static void *pt_restart_thread(void *arg)
{
    pt_restart_arg *r = arg;
    r->rc = pt_zk_restart(&pt_ens, r->node);
    return NULL;
}

/* Every member down, then back (within the session timeout): clear errors
 * meanwhile, the same session and every claim afterwards. */
Test(fault_ensemble, whole_ensemble_down_then_back)
{
    cr_assert_eq(pt_agent_run(&pt_ag, pt_dir, "h1", pt_ens.connect, pt_root, 30000), 0);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    portco_claim cl[PT_NCLAIMS];
    for (int i = 0; i < PT_NCLAIMS; i++)
        pt_acquire_retry(&c, &cl[i], 15000, NULL);
    char which[3][4] = {"1", "2", "3"};
    for (int i = 0; i < 3; i++) {
        int node;
        cr_assert_eq(pt_zk_kill(&pt_ens, which[i], &node), 0);
    }
    cr_assert(pt_cli_wait_zk_state(&c, "connecting", 20000));
    char msg[512] = "";
    int rc = pt_cli_acquire(&c, "web", "api", 0, "connection", NULL, msg, sizeof(msg));
    cr_assert_eq(rc, PORTCO_EZKUNAVAIL, "%s: %s", portco_err_name(rc), msg);
    cr_assert_eq(pt_cli_counter(&c, "claims"), PT_NCLAIMS);

    pthread_t th[3];
    pt_restart_arg ra[3];
    for (int i = 0; i < 3; i++) {
        ra[i] = (pt_restart_arg){i + 1, -1};
        cr_assert_eq(pthread_create(&th[i], NULL, pt_restart_thread, &ra[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(ra[i].rc, 0, "member %d did not come back", i + 1);
    }
    cr_assert(pt_cli_wait_zk_state(&c, "connected", 30000));
    pt_assert_claims_intact(cl, PT_NCLAIMS);
    cr_assert_eq(pt_cli_counter(&c, "conflicts"), 0);
    cr_assert_eq(pt_cli_counter(&c, "reasserted"), 0, "the session was lost");
    portco_claim more;
    pt_acquire_retry(&c, &more, 15000, NULL);
    pt_cli_close(&c);
}
