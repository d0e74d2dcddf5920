/* test_fault_agent.c - the agent under connection loss, session expiry, crashes and a ZooKeeper
 * outage. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agentcli.h"
#include "agentctl.h"
#include "faultctl.h"
#include "support.h"
#include "zkcheck.h"
#include "zkpath.h"
#include "zkread.h"

/*
 * Every test runs real processes: ZooKeeper (the shared fixture, or a
 * private server for the outage test), portco-agent, and for connection
 * faults portco-faultproxy between the two. ZooKeeper is inspected by the
 * test's own session, never through the agent.
 */

#define PT_SESSION_MS 2000 /* agent session timeout where expiry is provoked */

static char pt_root[256];
static char *pt_dir;
static pt_zkr *pt_z;
static const char *pt_zkc;
static int pt_base;
static pt_proxy pt_px;
static pt_agent pt_ag;

static void pt_publish_pool(const char *name, int lo, int hi)
{
    pt_pool_def d = {.name = name, .lo = lo, .hi = hi};
    cr_assert_eq(pt_zkr_publish_pool(pt_z, pt_root, &d), 0, "publishing pool %s", name);
}

static void pt_setup(void)
{
    pt_zkc = pt_zk_shared();
    cr_assert_not_null(pt_zkc, "the ctest zk fixture is required");
    pt_unique_root("fault", pt_root, sizeof(pt_root));
    pt_dir = pt_tmpdir("pt-fault");
    cr_assert_not_null(pt_dir);
    cr_assert_eq(pt_zkr_connect(&pt_z, pt_zkc, 10000, 10000), 0);
    pt_base = pt_port_run(8);
    cr_assert_gt(pt_base, 0, "no run of %d free ports", 8);
    pt_publish_pool("web", pt_base, pt_base + 7);
}

static void pt_teardown(void)
{
    pt_agent_stop(&pt_ag);
    cr_expect_eq(pt_agent_sanitizer_report(&pt_ag), 0, "the agent reported a sanitizer error");
    pt_proxy_stop(&pt_px);
    if (pt_z) {
        pt_zkr_delete_tree(pt_z, pt_root);
        pt_zkr_close(pt_z);
        pt_z = NULL;
    }
    if (pt_dir) {
        if (getenv("PORTCO_FAULT_KEEP")) /* keep the agents' logs for a post-mortem */
            fprintf(stderr, "fault: logs kept in %s\n", pt_dir);
        else
            pt_rmtree(pt_dir);
        free(pt_dir);
        pt_dir = NULL;
    }
}

/* Start the agent behind a proxy in front of the shared ZooKeeper. */
static void pt_start_proxied(int session_ms)
{
    cr_assert_eq(pt_proxy_start(&pt_px, pt_dir, pt_zkc), 0);
    cr_assert_eq(pt_agent_run(&pt_ag, pt_dir, "h1", pt_px.connect, pt_root, session_ms), 0);
}

static void pt_wait_state(pt_cli *c, const char *want, int timeout_ms)
{
    cr_assert(pt_cli_wait_zk_state(c, want, timeout_ms), "agent never reported ZooKeeper %s", want);
}

/* Acquire, retrying while the agent has not loaded the pool yet. */
static int pt_acquire_ready(pt_cli *c, int port, const char *lifetime, portco_claim *cl)
{
    long long deadline = pt_now_ms() + 15000;
    int rc;
    char msg[512] = "";
    do {
        rc = pt_cli_acquire(c, "web", "api", port, lifetime, cl, msg, sizeof(msg));
        /* A fresh agent may not have its session or the pool yet. */
        if (rc != PORTCO_ENOTREADY && rc != PORTCO_ENOPOOL && rc != PORTCO_EZKUNAVAIL)
            break;
        pt_nap_ms(50);
    } while (pt_now_ms() < deadline);
    cr_assert_gt(rc, 0, "acquire failed: %s: %s", portco_err_name(rc), msg);
    return rc;
}

/* The czxid of a claim node, or 0 when it does not exist. */
static int64_t pt_node_czxid(int port, const char *name)
{
    char dir[512], path[800];
    pc_zkp_port_dir(dir, sizeof(dir), pt_root, "web", NULL, port);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct Stat st;
    int rc = -ECONNRESET;
    /* The test's own session may be reconnecting after a server restart. */
    for (int i = 0; i < 5 && (rc == -ECONNRESET || rc == -ETIMEDOUT); i++)
        rc = pt_zkr_exists(pt_z, path, &st);
    return rc == 0 ? st.czxid : 0;
}

typedef struct pt_count_arg {
    int want;
} pt_count_arg;

static bool pt_count_is(void *arg)
{
    pt_count_arg *a = arg;
    return pt_check_count(pt_z, pt_root, "web") == a->want;
}

static void pt_wait_count(int want, int timeout_ms)
{
    pt_count_arg a = {want};
    cr_assert(pt_wait_until(pt_count_is, &a, timeout_ms), "pool has %d claim nodes, want %d",
              pt_check_count(pt_z, pt_root, "web"), want);
}

typedef struct pt_node_arg {
    int port;
    const char *name;
} pt_node_arg;

static bool pt_node_gone(void *arg)
{
    pt_node_arg *a = arg;
    return pt_node_czxid(a->port, a->name) == 0;
}

TestSuite(fault_agent, .init = pt_setup, .fini = pt_teardown, .timeout = 180);

/*
 * I3: the connection drops right after the create request went out, so the
 * node may exist while its answer is lost. The agent must find its node by
 * the uuid in its name: either the claim is granted with exactly that node,
 * or the request fails with ZK_UNAVAILABLE and no node is left.
 */
Test(fault_agent, connection_loss_mid_create_leaves_no_orphan)
{
    pt_start_proxied(6000);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    int warm = pt_acquire_ready(&c, 0, "connection", NULL); /* pool loaded, port dir made */
    cr_assert_eq(pt_cli_release(&c, "web", warm), 0);
    pt_wait_count(0, 10000);
    long long lost0 = pt_cli_counter(&c, "lost_answers");
    long long found0 = pt_cli_counter(&c, "found_by_uuid");
    cr_assert(lost0 >= 0 && found0 >= 0, "status has no lost_answers/found_by_uuid counters");
    int granted = 0, failed = 0;
    for (int i = 0; i < 6; i++) {
        /* The claim create carries the claim JSON: far above a ping's size. */
        cr_assert_eq(pt_proxy_cmd(&pt_px, "cut-on-chunk 150 150", NULL, 0), 0);
        portco_claim cl;
        char msg[512] = "";
        int rc = pt_cli_acquire(&c, "web", "api", 0, "connection", &cl, msg, sizeof(msg));
        pt_wait_state(&c, "connected", 15000);
        if (rc > 0) {
            granted++;
            pt_portnode *ports;
            int n;
            cr_assert_eq(pt_check_pool(pt_z, pt_root, "web", &ports, &n), 0);
            cr_assert_eq(n, 1, "%d port nodes with claims after one grant", n);
            cr_assert_eq(ports[0].port, rc);
            cr_assert_eq(ports[0].nclaims, 1, "orphan claim next to the granted one");
            cr_assert_str_eq(ports[0].owner, cl.claim);
            free(ports);
            cr_assert_eq(pt_cli_release(&c, "web", rc), 0);
        } else {
            failed++;
            cr_assert_eq(rc, PORTCO_EZKUNAVAIL, "acquire failed with %s: %s", portco_err_name(rc),
                         msg);
        }
        pt_wait_count(0, 10000);
    }
    cr_assert_geq(pt_proxy_stat(&pt_px, "cuts"), 6, "the cut did not fire every time");
    /* Every cut took a create's answer after the request reached the server,
     * so every one of those nodes must have been found again by its uuid. */
    long long lost = pt_cli_counter(&c, "lost_answers") - lost0;
    long long found = pt_cli_counter(&c, "found_by_uuid") - found0;
    cr_assert_geq(lost, 6, "only %lld creates lost their answer to the 6 cuts", lost);
    cr_assert_eq(found, lost, "%lld of %lld nodes of lost answers found by uuid", found, lost);
    cr_log_info("mid-create cuts: %d granted after recovery, %d failed cleanly", granted, failed);
    pt_cli_close(&c);
}

/*
 * A claim caught by a connection loss that does not heal: the client is not
 * left waiting for the connection to come back. It gets ZK_UNAVAILABLE within
 * PC_DISCONNECT_ANSWER_MS (5 s) of the loss, and once ZooKeeper is reachable
 * again whatever node the claim had created is withdrawn.
 */
Test(fault_agent, claim_in_flight_on_a_lasting_outage_is_answered_and_withdrawn)
{
    pt_start_proxied(20000); /* the session outlives the outage */
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    int warm = pt_acquire_ready(&c, 0, "connection", NULL);
    cr_assert_eq(pt_cli_release(&c, "web", warm), 0);
    pt_wait_count(0, 10000);

    cr_assert_eq(pt_proxy_cmd(&pt_px, "block", NULL, 0), 0);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "cut-on-chunk 150 150", NULL, 0), 0);
    char msg[512] = "";
    long long t0 = pt_now_ms();
    int rc = pt_cli_acquire(&c, "web", "api", 0, "connection", NULL, msg, sizeof(msg));
    long long took = pt_now_ms() - t0;
    cr_assert_eq(rc, PORTCO_EZKUNAVAIL, "%s: %s", portco_err_name(rc), msg);
    cr_assert_lt(took, 15000, "answered after %lld ms", took);
    cr_assert_geq(pt_proxy_stat(&pt_px, "cuts"), 1, "the create was never cut");

    cr_assert_eq(pt_proxy_cmd(&pt_px, "unblock", NULL, 0), 0);
    pt_wait_state(&c, "connected", 20000);
    pt_wait_count(0, 10000); /* no orphan: the node, if created, was withdrawn */
    int p = pt_acquire_ready(&c, 0, "connection", NULL);
    cr_assert_gt(p, 0);
    pt_cli_close(&c);
}

/* While the agent has no connection, a new claim fails at once; granted
 * claims stay held, and the session (so the node) survives the outage. */
Test(fault_agent, connecting_fails_fast_and_keeps_granted_claims)
{
    pt_start_proxied(8000);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    portco_claim held, gone;
    int port = pt_acquire_ready(&c, 0, "connection", &held);
    int port2 = pt_acquire_ready(&c, 0, "connection", &gone);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "block", NULL, 0), 0);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "cut", NULL, 0), 0);
    pt_wait_state(&c, "connecting", 5000);

    long long t0 = pt_now_ms();
    char msg[512] = "";
    int rc = pt_cli_acquire(&c, "web", "api", 0, "connection", NULL, msg, sizeof(msg));
    long long dt = pt_now_ms() - t0;
    cr_assert_eq(rc, PORTCO_EZKUNAVAIL, "acquire while disconnected: %s: %s", portco_err_name(rc),
                 msg);
    /* At once: from the agent's own state, not after PC_DISCONNECT_ANSWER_MS
     * (5 s) as for a request the loss caught in flight. Seconds of room for
     * a loaded machine, still short of that. */
    cr_assert_lt(dt, 4000, "failing took %lld ms", dt);
    cr_assert_eq(pt_cli_counter(&c, "claims"), 2, "a granted claim was dropped");
    cr_assert(!pt_port_bindable(port), "the agent stopped holding port %d", port);
    /* A release is taken locally; the node goes once ZooKeeper is back. */
    rc = pt_cli_release(&c, "web", port2);
    cr_assert_eq(rc, 0, "release while disconnected: %s", portco_err_name(rc));
    cr_assert_eq(pt_cli_counter(&c, "claims"), 1);

    cr_assert_eq(pt_proxy_cmd(&pt_px, "unblock", NULL, 0), 0);
    pt_wait_state(&c, "connected", 15000);
    cr_assert_eq(pt_node_czxid(port, held.claim), held.czxid,
                 "the claim node changed across a connection loss within the session");
    pt_node_arg g = {port2, gone.claim};
    cr_assert(pt_wait_until(pt_node_gone, &g, 10000), "the released claim stayed in ZooKeeper");
    cr_assert_eq(pt_cli_counter(&c, "reasserted"), 0);
    int third = pt_acquire_ready(&c, 0, "connection", NULL);
    cr_assert_neq(third, port);
    pt_cli_close(&c); /* connection claims go with it */
    pt_wait_count(0, 10000);
}

/* I3: an agent killed with SIGKILL leaves its claims to the session timeout. */
Test(fault_agent, crash_frees_claims_when_the_session_expires)
{
    cr_assert_eq(pt_agent_run(&pt_ag, pt_dir, "h1", pt_zkc, pt_root, PT_SESSION_MS), 0);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    portco_claim cl;
    int port = pt_acquire_ready(&c, 0, "explicit", &cl);
    pt_cli_close(&c);
    unlink(pt_ag.state_file); /* a crash without restart: nothing comes back */
    long long t0 = pt_now_ms();
    pt_agent_crash(&pt_ag);
    cr_assert_eq(pt_node_czxid(port, cl.claim), cl.czxid, "the claim vanished before expiry");
    pt_node_arg g = {port, cl.claim};
    cr_assert(pt_wait_until(pt_node_gone, &g, PT_SESSION_MS + 8000),
              "claim of the dead agent still there after the session timeout");
    cr_log_info("crash: claim freed %lld ms after the kill", pt_now_ms() - t0);
    cr_assert(pt_port_bindable(port));
}

/* Cut the agent off for longer than its session, so the server expires it. */
static void pt_partition_until_expired(int port, const char *claim)
{
    cr_assert_eq(pt_proxy_cmd(&pt_px, "block", NULL, 0), 0);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "cut", NULL, 0), 0);
    pt_node_arg g = {port, claim};
    cr_assert(pt_wait_until(pt_node_gone, &g, PT_SESSION_MS + 10000),
              "the session never expired on the server");
}

/* I4: after an expiry the claim is re-created and its claimant told so;
 * the fencing token changes. */
Test(fault_agent, session_expiry_reasserts_and_tells_the_claimant)
{
    pt_start_proxied(PT_SESSION_MS);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    portco_claim cl;
    int port = pt_acquire_ready(&c, 0, "connection", &cl);
    pt_partition_until_expired(port, cl.claim);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "unblock", NULL, 0), 0);
    pt_cli_events(&c, 20000, 1);
    cr_assert_eq(c.reasserted, 1, "no reasserted event (last: %s)", c.last_event);
    cr_assert_eq(c.conflicts, 0);
    pt_portnode *ports;
    int n;
    cr_assert_eq(pt_check_pool(pt_z, pt_root, "web", &ports, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(ports[0].port, port);
    cr_assert_eq(ports[0].nclaims, 1);
    cr_assert_str_eq(ports[0].owner_host, "h1");
    cr_assert_gt(ports[0].owner_czxid, cl.czxid, "the fencing token did not move forward");
    free(ports);
    cr_assert_eq(pt_cli_counter(&c, "reasserted"), 1);
    cr_assert_eq(pt_cli_counter(&c, "claims"), 1);
    pt_cli_close(&c);
    pt_wait_count(0, 10000);
}

/* "h2" claims `port` the protected-lock way, from a session of the test's
 * own; the node lives as long as *zs (close it with pt_zkr_close). */
static void pt_claim_as_h2(int port, pt_zkr **zs)
{
    int rc = pt_claim_as(pt_zkc, pt_root, "web", port, "h2", "other", zs);
    cr_assert_eq(rc, 0, "h2's claim on %d: %s", port, strerror(-rc));
}

/* I4: another host took the port while the session was lost: the claimant
 * gets a conflict event, the agent counts it and drops its claim; the port
 * has a single owner. */
Test(fault_agent, session_expiry_conflict_is_reported_not_silent)
{
    pt_start_proxied(PT_SESSION_MS);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    portco_claim cl;
    int port = pt_acquire_ready(&c, 0, "connection", &cl);
    pt_partition_until_expired(port, cl.claim);

    /* "h2" claims the port the protected-lock way, from the test's session. */
    pt_zkr *zs = NULL;
    pt_claim_as_h2(port, &zs);

    cr_assert_eq(pt_proxy_cmd(&pt_px, "unblock", NULL, 0), 0);
    pt_cli_events(&c, 20000, 1);
    cr_assert_eq(c.conflicts, 1, "no conflict event (last: %s)", c.last_event);
    cr_assert_eq(c.reasserted, 0);
    cr_assert_eq(c.nconflict_ports, 1);
    cr_assert_eq(c.conflict_ports[0], port);
    cr_assert_eq(pt_cli_counter(&c, "conflicts"), 1);
    cr_assert_eq(pt_cli_counter(&c, "claims"), 0, "the lost claim is still held");
    /* Only h2's node remains: the agent withdrew the node it made to re-assert. */
    pt_portnode *ports;
    int n;
    bool single = false;
    for (long long end = pt_now_ms() + 10000; pt_now_ms() < end && !single; pt_nap_ms(50)) {
        cr_assert_eq(pt_check_pool(pt_z, pt_root, "web", &ports, &n), 0);
        single = n == 1 && ports[0].nclaims == 1 && strcmp(ports[0].owner_host, "h2") == 0;
        free(ports);
    }
    cr_assert(single, "the port is not solely h2's after the conflict");
    char *log = malloc(1 << 22);
    cr_assert_not_null(log);
    cr_assert_gt(pt_read_file(pt_ag.log, log, 1 << 22), 0);
    cr_assert_not_null(strstr(log, "conflict"), "the conflict was not logged");
    free(log);
    pt_zkr_close(zs);
    pt_cli_close(&c);
}

typedef struct pt_stat_arg {
    const char *name;
    long long want;
} pt_stat_arg;

static bool pt_proxy_stat_is(void *arg)
{
    pt_stat_arg *s = arg;
    return pt_proxy_stat(&pt_px, s->name) == s->want;
}

static bool pt_proxy_holds_answer(void *arg)
{
    return pt_proxy_stat(&pt_px, "answers") == 1 && pt_proxy_stat(&pt_px, "held") > 0;
}

static bool pt_proxy_flushed(void *arg)
{
    return pt_proxy_stat(&pt_px, "held") == 0 && pt_proxy_stat(&pt_px, "unsent") == 0;
}

typedef struct pt_stopped_arg {
    pid_t pid;
} pt_stopped_arg;

static bool pt_is_stopped(void *arg)
{
    return pt_pid_state(((pt_stopped_arg *)arg)->pid) == 'T';
}

typedef struct pt_counter_arg {
    pt_cli *c;
    const char *name;
    long long want;
} pt_counter_arg;

/* The counter has its value, or the agent is gone (nothing will change). */
static bool pt_counter_is_or_dead(void *arg)
{
    pt_counter_arg *s = arg;
    return pt_cli_counter(s->c, s->name) == s->want || !pt_pid_alive(pt_ag.pid);
}

/*
 * The client of a connection claim dies in the very loop turn in which the
 * agent finds, after a session expiry, that another owner took the port. The
 * conflict event then goes to a dead socket. The agent must survive it (the
 * claim it ends is freed once, and not used after), count the conflict and
 * hold nothing.
 *
 * Timing from outside cannot put both in one turn, so the test arranges it:
 * the proxy holds ZooKeeper's answers back from the moment the agent lists
 * the port's claims to re-assert its own; the agent is stopped (SIGSTOP), the
 * client closed, the held answer let through, and the agent resumed. It wakes
 * with the answer and the client's end of file both ready, and ZooKeeper's
 * events run first (priority 0).
 */
Test(fault_agent, client_dying_as_a_conflict_is_found_is_survived)
{
    pt_start_proxied(PT_SESSION_MS);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    portco_claim cl;
    int port = pt_acquire_ready(&c, 0, "connection", &cl);
    pt_partition_until_expired(port, cl.claim);
    pt_zkr *zs = NULL;
    pt_claim_as_h2(port, &zs);

    char dir[512], cmd[600];
    pc_zkp_port_dir(dir, sizeof(dir), pt_root, "web", NULL, port);
    snprintf(cmd, sizeof(cmd), "hold-after-read %s", dir);
    cr_assert_eq(pt_proxy_cmd(&pt_px, cmd, NULL, 0), 0);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "unblock", NULL, 0), 0);
    pt_stat_arg holds = {"holds", 1};
    cr_assert(pt_wait_until(pt_proxy_stat_is, &holds, 20000),
              "the agent never listed port %d's claims to re-assert its own", port);
    cr_assert(pt_wait_until(pt_proxy_holds_answer, NULL, 5000), "the list's answer is not held");
    long long accepted = pt_proxy_stat(&pt_px, "accepted");

    cr_assert_eq(kill(pt_ag.pid, SIGSTOP), 0);
    pt_stopped_arg st = {pt_ag.pid};
    cr_assert(pt_wait_until(pt_is_stopped, &st, 5000), "the agent did not stop");
    pt_cli_close(&c);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "release", NULL, 0), 0);
    bool flushed = pt_wait_until(pt_proxy_flushed, NULL, 5000);
    cr_assert_eq(kill(pt_ag.pid, SIGCONT), 0);
    cr_assert(flushed, "the proxy did not pass the held answer on");

    pt_cli d;
    int orc = pt_cli_open(&d, pt_ag.sock);
    cr_assert(pt_pid_alive(pt_ag.pid), "the agent died");
    cr_assert_eq(orc, 0, "the agent does not accept connections");
    pt_counter_arg conflicts = {&d, "conflicts", 1};
    pt_wait_until(pt_counter_is_or_dead, &conflicts, 10000);
    cr_assert(pt_pid_alive(pt_ag.pid), "the agent died");
    /* The agent's ZooKeeper connection lasted through the hold, so it woke up
     * with the held answer next to the dead client. */
    cr_assert_eq(pt_proxy_stat(&pt_px, "accepted"), accepted,
                 "the agent reconnected during the hold: the window was missed");
    /* Once the client's end is read the claim is released and its
     * re-assertion dropped: a conflict counted shows the answer came first. */
    cr_assert_eq(pt_cli_counter(&d, "conflicts"), 1, "no conflict counted");
    cr_assert_eq(pt_cli_counter(&d, "claims"), 0, "the lost claim is still held");
    pt_cli_close(&d);
    pt_agent_stop(&pt_ag);
    cr_assert_eq(pt_agent_sanitizer_report(&pt_ag), 0, "the agent reported a sanitizer error");
    pt_zkr_close(zs);
}

/* Publish `port` of pool web as statically assigned to `service`. */
static void pt_publish_static(int port, const char *service)
{
    char path[600], json[128];
    cr_assert_eq(pc_zkp_static_port(path, sizeof(path), pt_root, "web", port), 0);
    snprintf(json, sizeof(json), "{\"service\":\"%s\"}", service);
    cr_assert_eq(pt_zkr_create_path(pt_z, path, json), 0, "publishing static port %d", port);
}

/* Service "api" asks for `port`: PORTCO_ESTATIC while the agent applies a
 * static assignment of the port; a grant is released again at once. */
static int pt_try_port(pt_cli *c, int port)
{
    int rc = pt_cli_acquire(c, "web", "api", port, "connection", NULL, NULL, 0);
    if (rc > 0)
        cr_assert_eq(pt_cli_release(c, "web", rc), 0);
    return rc;
}

typedef struct pt_port_arg {
    pt_cli *c;
    int port;
} pt_port_arg;

static bool pt_port_is_static(void *arg)
{
    pt_port_arg *s = arg;
    return pt_try_port(s->c, s->port) == PORTCO_ESTATIC;
}

static void pt_wait_static(pt_cli *c, int port, int timeout_ms)
{
    pt_port_arg s = {c, port};
    cr_assert(pt_wait_until(pt_port_is_static, &s, timeout_ms),
              "the static assignment of port %d does not apply", port);
}

/* Arm the proxy to hold the answers from the agent's next read of `path`
 * that sets a watch, make `port` static for `service` (the agent re-lists
 * the pool's static assignments), and wait until that read has gone out. */
static void pt_hold_reread(const char *path, int port, const char *service)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "hold-after-read %s watch", path);
    cr_assert_eq(pt_proxy_cmd(&pt_px, cmd, NULL, 0), 0);
    pt_publish_static(port, service);
    pt_stat_arg holds = {"holds", 1};
    cr_assert(pt_wait_until(pt_proxy_stat_is, &holds, 10000), "the agent did not read %s again",
              path);
}

static bool pt_proxy_stat_reaches(void *arg)
{
    pt_stat_arg *s = arg;
    return pt_proxy_stat(&pt_px, s->name) >= s->want;
}

/* Wait until the agent has connected through the proxy again. */
static void pt_wait_reconnected(pt_cli *c, long long accepted_before)
{
    pt_stat_arg again = {"accepted", accepted_before + 1};
    cr_assert(pt_wait_until(pt_proxy_stat_reaches, &again, 20000), "the agent did not reconnect");
    pt_wait_state(c, "connected", 20000);
}

/*
 * The connection is cut while the agent reads the static assignments again,
 * after the listing and before the answer of one node's read: that read
 * fails. The assignments read before stay in force (a port of one is not
 * handed to another service), and all are read again once connected.
 */
Test(fault_agent, a_cut_static_reread_keeps_the_port_reserved)
{
    pt_publish_static(pt_base, "db");
    pt_start_proxied(20000); /* the session outlives the cut */
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    pt_wait_static(&c, pt_base, 15000);

    char path[600];
    cr_assert_eq(pc_zkp_static_port(path, sizeof(path), pt_root, "web", pt_base), 0);
    pt_hold_reread(path, pt_base + 1, "cache");
    long long accepted = pt_proxy_stat(&pt_px, "accepted");
    cr_assert_eq(pt_proxy_cmd(&pt_px, "cut", NULL, 0), 0);
    pt_wait_reconnected(&c, accepted);
    cr_assert_eq(pt_try_port(&c, pt_base), PORTCO_ESTATIC,
                 "port %d, static for \"db\", was handed to \"api\" after the cut", pt_base);
    pt_wait_static(&c, pt_base + 1, 10000);
    cr_assert_eq(pt_try_port(&c, pt_base), PORTCO_ESTATIC);
    pt_cli_close(&c);
}

/*
 * The connection is cut while the agent lists the static assignments, so
 * the listing fails and its watch is not set; a change is made while the
 * agent is cut off. Once connected again, the agent lists them again and
 * sees the change.
 */
Test(fault_agent, a_change_made_while_the_statics_listing_is_cut_is_seen)
{
    pt_publish_static(pt_base, "db");
    pt_start_proxied(20000);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    pt_wait_static(&c, pt_base, 15000);

    char dir[600];
    cr_assert_eq(pc_zkp_static_dir(dir, sizeof(dir), pt_root, "web"), 0);
    pt_hold_reread(dir, pt_base + 1, "cache");
    long long accepted = pt_proxy_stat(&pt_px, "accepted");
    cr_assert_eq(pt_proxy_cmd(&pt_px, "block", NULL, 0), 0);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "cut", NULL, 0), 0);
    pt_wait_state(&c, "connecting", 10000);
    pt_publish_static(pt_base + 2, "cache2");
    cr_assert_eq(pt_proxy_cmd(&pt_px, "unblock", NULL, 0), 0);
    pt_wait_reconnected(&c, accepted);
    pt_wait_static(&c, pt_base + 2, 10000);
    pt_wait_static(&c, pt_base + 1, 10000);
    cr_assert_eq(pt_try_port(&c, pt_base), PORTCO_ESTATIC);
    pt_cli_close(&c);
}

/* The only ZooKeeper server dies and comes back within the session timeout:
 * clear errors meanwhile, the session and its claims survive. */
Test(fault_agent, zookeeper_down_then_back)
{
    pt_zk zk;
    cr_assert_eq(pt_zk_start(&zk, 1), 0);
    pt_zkr *z = NULL;
    cr_assert_eq(pt_zkr_connect(&z, zk.connect, 10000, 10000), 0);
    pt_zkr *shared = pt_z;
    pt_z = z; /* publish and inspect on the private server */
    pt_publish_pool("web", pt_base, pt_base + 7);
    cr_assert_eq(pt_agent_run(&pt_ag, pt_dir, "h1", zk.connect, pt_root, 20000), 0);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    portco_claim cl;
    int port = pt_acquire_ready(&c, 0, "connection", &cl);

    int node = 0;
    cr_assert_eq(pt_zk_kill(&zk, "1", &node), 0);
    pt_wait_state(&c, "connecting", 10000);
    char msg[512] = "";
    int rc = pt_cli_acquire(&c, "web", "api", 0, "connection", NULL, msg, sizeof(msg));
    cr_assert_eq(rc, PORTCO_EZKUNAVAIL, "%s: %s", portco_err_name(rc), msg);
    cr_assert_eq(pt_cli_counter(&c, "claims"), 1);
    cr_assert_eq(pt_zk_restart(&zk, node), 0);
    pt_wait_state(&c, "connected", 20000);
    /* The test's reader pings only inside its calls, so its own session may
     * have expired during the outage: read through a fresh one. */
    pt_zkr_close(z);
    cr_assert_eq(pt_zkr_connect(&z, zk.connect, 10000, 10000), 0);
    pt_z = z;
    cr_assert_eq(pt_node_czxid(port, cl.claim), cl.czxid, "the claim did not survive the outage");
    cr_assert_eq(pt_cli_counter(&c, "conflicts"), 0);
    int second = pt_acquire_ready(&c, 0, "connection", NULL);
    cr_assert_neq(second, port);
    pt_cli_close(&c);
    pt_wait_count(0, 10000);
    pt_agent_stop(&pt_ag);
    pt_zkr_delete_tree(z, pt_root);
    pt_zkr_close(z);
    /* The shared server's reader sat idle through all this, long enough for
     * its session to expire on a loaded machine: the teardown gets a new one. */
    pt_zkr_close(shared);
    cr_assert_eq(pt_zkr_connect(&shared, pt_zkc, 10000, 10000), 0);
    pt_z = shared;
    pt_zk_stop(&zk);
}
/* Restarted within the session timeout, the agent re-attaches to its
 * session: the claim node (and its fencing token) is unchanged. */
Test(fault_agent, restart_within_session_timeout_keeps_claims)
{
    cr_assert_eq(pt_agent_run(&pt_ag, pt_dir, "h1", pt_zkc, pt_root, 10000), 0);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    portco_claim cl;
    int port = pt_acquire_ready(&c, 0, "explicit", &cl);
    pt_cli_close(&c);
    pt_agent_crash(&pt_ag);
    cr_assert_eq(pt_agent_restart(&pt_ag), 0);
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    pt_wait_state(&c, "connected", 10000);
    long long claims = -1;
    for (long long end = pt_now_ms() + 10000; pt_now_ms() < end && claims != 1; pt_nap_ms(50))
        claims = pt_cli_counter(&c, "claims");
    cr_assert_eq(claims, 1, "the restarted agent does not hold the claim");
    cr_assert_eq(pt_node_czxid(port, cl.claim), cl.czxid, "the claim node was not kept");
    cr_assert_eq(pt_cli_counter(&c, "reasserted"), 0);
    cr_assert_eq(pt_cli_release(&c, "web", port), 0);
    pt_wait_count(0, 10000);
    pt_cli_close(&c);
}

/* Restarted after its session expired, the agent re-asserts its claims. */
Test(fault_agent, restart_after_session_timeout_reasserts)
{
    cr_assert_eq(pt_agent_run(&pt_ag, pt_dir, "h1", pt_zkc, pt_root, PT_SESSION_MS), 0);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    portco_claim cl;
    int port = pt_acquire_ready(&c, 0, "explicit", &cl);
    pt_cli_close(&c);
    pt_agent_crash(&pt_ag);
    pt_node_arg g = {port, cl.claim};
    cr_assert(pt_wait_until(pt_node_gone, &g, PT_SESSION_MS + 8000));
    cr_assert_eq(pt_agent_restart(&pt_ag), 0);
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    pt_portnode *ports = NULL;
    int n = 0;
    bool back = false;
    for (long long end = pt_now_ms() + 15000; pt_now_ms() < end && !back; pt_nap_ms(100)) {
        cr_assert_eq(pt_check_pool(pt_z, pt_root, "web", &ports, &n), 0);
        back = n == 1 && ports[0].port == port && ports[0].nclaims == 1 &&
               ports[0].owner_czxid > cl.czxid;
        free(ports);
    }
    cr_assert(back, "the claim on port %d was not re-asserted after the restart", port);
    cr_assert_eq(pt_cli_counter(&c, "claims"), 1);
    cr_assert_eq(pt_cli_counter(&c, "reasserted"), 1);
    cr_assert_eq(pt_cli_release(&c, "web", port), 0);
    pt_wait_count(0, 10000);
    pt_cli_close(&c);
}

typedef struct pt_events {
    int conflicts, reasserted;
    portco_claim last;
} pt_events;

static void pt_event_cb(portco_client *c, const portco_event *ev, void *ud)
{
    pt_events *e = ud;
    if (ev->type == PORTCO_EVENT_CONFLICT)
        e->conflicts++;
    else if (ev->type == PORTCO_EVENT_REASSERTED)
        e->reasserted++;
    e->last = ev->claim;
}

/* I4 through libportco: the application's event callback hears of the
 * conflict, with the lost claim. */
Test(fault_agent, libportco_callback_reports_the_conflict)
{
    pt_start_proxied(PT_SESSION_MS);
    portco_client *pc = NULL;
    portco_status st;
    cr_assert_eq(portco_connect(pt_ag.sock, &pc, &st), 0, "%s", st.message);
    pt_events ev = {0};
    portco_set_event_cb(pc, pt_event_cb, &ev);
    portco_acquire_opts o = {
        .pool = "web", .service = "app", .lifetime = PORTCO_LIFETIME_CONNECTION};
    portco_claim cl;
    int rc = -1;
    for (long long end = pt_now_ms() + 15000; pt_now_ms() < end; pt_nap_ms(50)) {
        rc = portco_acquire(pc, &o, &cl, &st);
        if (rc != PORTCO_ENOTREADY && rc != PORTCO_EZKUNAVAIL && rc != PORTCO_ENOPOOL)
            break;
    }
    cr_assert_eq(rc, 0, "acquire: %s", st.message);
    pt_partition_until_expired(cl.port, cl.claim);

    pt_zkr *zs = NULL;
    pt_claim_as_h2(cl.port, &zs);
    cr_assert_eq(pt_proxy_cmd(&pt_px, "unblock", NULL, 0), 0);

    for (long long end = pt_now_ms() + 20000; pt_now_ms() < end && ev.conflicts == 0; pt_nap_ms(50))
        cr_assert_geq(portco_poll(pc), 0);
    cr_assert_eq(ev.conflicts, 1, "the callback never heard of the conflict");
    cr_assert_eq(ev.reasserted, 0);
    cr_assert_eq(ev.last.port, cl.port);
    cr_assert_str_eq(ev.last.pool, "web");
    /* The claim is gone: releasing it is refused. */
    cr_assert_eq(portco_release(pc, "web", cl.port, &st), PORTCO_ENOTOWNER);
    portco_close(pc);
    pt_zkr_close(zs);
}

/* A pid claim survives a restart within the session while its process
 * runs, and still ends when that process exits. */
Test(fault_agent, restart_keeps_a_pid_claim_until_its_process_exits)
{
    cr_assert_eq(pt_agent_run(&pt_ag, pt_dir, "h1", pt_zkc, pt_root, 10000), 0);
    char *sleeper_argv[] = {"/bin/sleep", "60", NULL};
    pid_t sleeper = pt_spawn(sleeper_argv, NULL, NULL, NULL);
    cr_assert_gt(sleeper, 0);
    pt_cli c;
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    pc_answer a = {0};
    int rc = -1;
    for (long long end = pt_now_ms() + 15000; pt_now_ms() < end; pt_nap_ms(50)) {
        json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:i}", "op", "acquire", "pool", "web",
                                "service", "job", "lifetime", "pid", "hold_pid", (int)sleeper);
        cr_assert_eq(pt_cli_call(&c, req, &a, 20000), 0);
        rc = a.ok ? 0 : a.code;
        if (rc != PORTCO_ENOTREADY && rc != PORTCO_EZKUNAVAIL && rc != PORTCO_ENOPOOL)
            break;
        pc_answer_free(&a);
    }
    cr_assert_eq(rc, 0, "acquire: %s", a.message);
    portco_claim cl;
    cr_assert_eq(pc_claim_from_json(json_object_get(a.root, "claim"), &cl, NULL), 0);
    pc_answer_free(&a);
    pt_cli_close(&c);

    pt_agent_crash(&pt_ag);
    cr_assert_eq(pt_agent_restart(&pt_ag), 0);
    cr_assert_eq(pt_cli_open(&c, pt_ag.sock), 0);
    long long claims = -1;
    for (long long end = pt_now_ms() + 10000; pt_now_ms() < end && claims != 1; pt_nap_ms(50))
        claims = pt_cli_counter(&c, "claims");
    cr_assert_eq(claims, 1, "the pid claim was not taken back");
    cr_assert_eq(pt_node_czxid(cl.port, cl.claim), cl.czxid);

    pt_stop_pid(sleeper, SIGKILL, 5000);
    pt_node_arg g = {cl.port, cl.claim};
    cr_assert(pt_wait_until(pt_node_gone, &g, 10000),
              "the claim outlived its process after the restart");
    cr_assert_eq(pt_cli_counter(&c, "claims"), 0);
    pt_cli_close(&c);
}
