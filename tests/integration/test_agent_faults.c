/* test_agent_faults.c - agents racing each other, ZooKeeper outages and session expiry. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agentcli.h"
#include "fixture.h"
#include "support.h"

static bool pt_port_free(void *arg)
{
    return pt_port_bindable(*(int *)arg);
}

TestSuite(agent_cluster, .init = pt_setup, .fini = pt_teardown, .timeout = 120);

Test(agent_cluster, two_hosts_never_share_a_port)
{
    pt_publish_pool("web", pt_base, pt_base + 5, "cluster", NULL);
    pt_agent a1, a2;
    pt_start_agent(&a1, "h1");
    pt_start_agent(&a2, "h2");
    pt_cli c[2];
    pt_connect(&c[0], &a1);
    pt_connect(&c[1], &a2);
    bool seen[6] = {false};
    int grants = 0;
    bool done[2] = {false, false};
    while (!done[0] || !done[1]) {
        for (int i = 0; i < 2; i++) {
            if (done[i])
                continue;
            int p = pt_acquire(&c[i], pt_acq_req("web", "api", 0), NULL);
            if (p == PORTCO_EEXHAUSTED) {
                done[i] = true;
                continue;
            }
            cr_assert_geq(p, pt_base, "%s", portco_err_name(p));
            cr_assert_not(seen[p - pt_base], "port %d granted twice", p);
            seen[p - pt_base] = true;
            grants++;
            cr_assert_eq(pt_nclaims("web", NULL, p), 1);
        }
    }
    cr_assert_eq(grants, 6, "every port granted exactly once");
    pt_close(&c[0]);
    pt_close(&c[1]);
    pt_stop_agent(&a1);
    pt_stop_agent(&a2);
}

Test(agent_cluster, host_scope_numbers_repeat_across_hosts)
{
    pt_publish_pool("rtp", pt_base, pt_base + 1, "host", NULL);
    pt_agent a1, a2;
    pt_start_agent(&a1, "h1");
    pt_start_agent(&a2, "h2");
    pt_cli c1, c2;
    pt_connect(&c1, &a1);
    pt_connect(&c2, &a2);
    /* Both hosts run on this machine: take the sockets so the probe of the
     * other agent is not refused by a hold. */
    int got[2][2];
    for (int i = 0; i < 2; i++) {
        for (int h = 0; h < 2; h++) {
            json_t *req = pt_acq_req("rtp", "media", pt_base + i);
            pt_cli *c = h ? &c2 : &c1;
            json_object_set_new(req, "socket", json_true());
            pc_answer a;
            pt_call(c, req, &a);
            cr_assert(a.ok, "host %d port %d: %s", h, pt_base + i, a.message);
            got[h][i] =
                (int)json_integer_value(json_object_get(json_object_get(a.root, "claim"), "port"));
            pc_answer_free(&a);
            int fd = pc_linebuf_take_fd(&c->in);
            cr_assert_geq(fd, 0);
            close(fd);
            /* The agent closes its copy just after sending: wait for that. */
            int port = got[h][i];
            cr_assert(pt_wait_until(pt_port_free, &port, 5000), "port %d never free", port);
        }
    }
    cr_assert_eq(got[0][0], got[1][0]);
    cr_assert_eq(pt_nclaims("rtp", "h1", pt_base), 1);
    cr_assert_eq(pt_nclaims("rtp", "h2", pt_base), 1);
    pc_answer a;
    pt_call(&c1, json_pack("{s:s, s:s}", "op", "list", "pool", "rtp"), &a);
    cr_assert(a.ok);
    cr_assert_eq(json_array_size(json_object_get(a.root, "claims")), 4, "list sees both hosts");
    pc_answer_free(&a);
    pt_close(&c1);
    pt_close(&c2);
    pt_stop_agent(&a1);
    pt_stop_agent(&a2);
}

/* The port of pool "web" has no claim node (its port node may remain). */
static bool pt_no_claim(void *arg)
{
    return pt_nclaims("web", NULL, *(int *)arg) == 0;
}

/* Stop the agent's process (it cannot heartbeat) until its session expires:
 * its claim node on `port` disappears. */
static void pt_freeze_until_expired(pt_agent *ag, int port)
{
    cr_assert_eq(kill(ag->pid, SIGSTOP), 0);
    cr_assert(pt_wait_until(pt_no_claim, &port, 30000), "session never expired");
}

Test(agent_cluster, expired_session_reasserts_the_claim)
{
    pt_publish_pool("web", pt_base, pt_base + 3, "cluster", NULL);
    pt_agent ag;
    pt_start_agent(&ag, "h1");
    pt_cli c;
    pt_connect(&c, &ag);
    portco_claim before;
    int p = pt_acquire(&c, pt_acq_req("web", "api", pt_base + 1), &before);
    cr_assert_eq(p, pt_base + 1);
    pt_freeze_until_expired(&ag, p);
    cr_assert_eq(kill(ag.pid, SIGCONT), 0);
    pc_answer ev;
    cr_assert_eq(pt_read_event(&c, &ev, 30000), 1, "no event after the expiry");
    cr_assert_str_eq(ev.event, "reasserted");
    portco_claim after;
    cr_assert_eq(pc_claim_from_json(json_object_get(ev.root, "claim"), &after, NULL), 0);
    pc_answer_free(&ev);
    cr_assert_eq(after.port, p);
    cr_assert_gt(after.czxid, before.czxid, "a new node, a new fencing token");
    cr_assert_eq(pt_nclaims("web", NULL, p), 1);
    cr_assert_eq(pt_counter(&c, "reasserted"), 1);
    /* The claim is still ours: releasing it works. */
    cr_assert_eq(pt_release(&c, "web", p), 0);
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent_cluster, port_taken_during_expiry_is_a_conflict)
{
    pt_publish_pool("web", pt_base, pt_base + 3, "cluster", NULL);
    pt_agent a1, a2;
    pt_start_agent(&a1, "h1");
    pt_start_agent(&a2, "h2");
    pt_cli c1, c2;
    pt_connect(&c1, &a1);
    pt_connect(&c2, &a2);
    /* h1 hands its socket over and it is closed, so h2's probe is not refused. */
    json_t *req = pt_acq_req("web", "api", pt_base + 2);
    json_object_set_new(req, "socket", json_true());
    pc_answer a;
    pt_call(&c1, req, &a);
    cr_assert(a.ok, "%s", a.message);
    pc_answer_free(&a);
    close(pc_linebuf_take_fd(&c1.in));
    int port = pt_base + 2;
    cr_assert(pt_wait_until(pt_port_free, &port, 5000));
    pt_freeze_until_expired(&a1, pt_base + 2);
    cr_assert_eq(pt_acquire(&c2, pt_acq_req("web", "other", pt_base + 2), NULL), pt_base + 2);
    cr_assert_eq(kill(a1.pid, SIGCONT), 0);
    pc_answer ev;
    cr_assert_eq(pt_read_event(&c1, &ev, 30000), 1, "no event after the expiry");
    cr_assert_str_eq(ev.event, "conflict");
    cr_assert(strstr(ev.message, "another owner"), "%s", ev.message);
    pc_answer_free(&ev);
    /* h2 keeps the port, h1 withdrew its node. */
    long long end = pt_now_ms() + 10000;
    while (pt_nclaims("web", NULL, pt_base + 2) != 1 && pt_now_ms() < end)
        pt_nap_ms(20);
    cr_assert_eq(pt_nclaims("web", NULL, pt_base + 2), 1);
    cr_assert_eq(pt_release(&c1, "web", pt_base + 2), PORTCO_ENOTOWNER);
    cr_assert_eq(pt_counter(&c1, "conflicts"), 1);
    pt_close(&c1);
    pt_close(&c2);
    pt_stop_agent(&a1);
    pt_stop_agent(&a2);
}

/* ------------------------------------------------------------------------ */
/* an own ZooKeeper server that the test stops and starts                   */

static pt_zk pt_own;

static void pt_own_setup(void)
{
    cr_assert_eq(pt_zk_start(&pt_own, 1), 0, "cannot start a ZooKeeper");
    pt_setup_on(pt_own.connect);
}

static void pt_own_teardown(void)
{
    pt_teardown();
    pt_zk_stop(&pt_own);
}

TestSuite(agent_zk, .init = pt_own_setup, .fini = pt_own_teardown, .timeout = 180);

Test(agent_zk, outage_fails_fast_and_claims_survive_a_restart)
{
    pt_publish_pool("web", pt_base, pt_base + 3, "cluster", NULL);
    pt_agent ag;
    pt_start_agent(&ag, "h1");
    pt_cli c;
    pt_connect(&c, &ag);
    json_t *req = pt_acq_req("web", "api", 0);
    json_object_set_new(req, "lifetime", json_string("explicit"));
    int p = pt_acquire(&c, req, NULL);
    cr_assert_gt(p, 0);
    int node = 0;
    cr_assert_eq(pt_zk_kill(&pt_own, "1", &node), 0);
    cr_assert(pt_cli_wait_zk_state(&c, "connecting", 15000), "the agent never noticed the outage");
    /*
     * Failing fast: the agent answers from its own state, where a request
     * that waited on the connection would be answered only after
     * PC_DISCONNECT_ANSWER_MS (5 s). The bound leaves seconds of room for a
     * loaded machine and still tells the two apart.
     */
    long long t0 = pt_now_ms();
    cr_assert_eq(pt_acquire(&c, pt_acq_req("web", "api", 0), NULL), PORTCO_EZKUNAVAIL);
    long long took = pt_now_ms() - t0;
    cr_assert_lt(took, 4000, "failing took %lld ms", took);
    cr_assert_eq(pt_zk_restart(&pt_own, node), 0);
    cr_assert(pt_cli_wait_zk_state(&c, "connected", 30000), "the agent never reconnected");
    /* The test's own session was not driven during the outage: open a new one. */
    pt_zkr_close(pt_z);
    cr_assert_eq(pt_zkr_connect(&pt_z, pt_zkc, 10000, 10000), 0);
    cr_assert_eq(pt_nclaims("web", NULL, p), 1, "the session and its claim survived");
    int q = pt_acquire(&c, pt_acq_req("web", "api", 0), NULL);
    cr_assert_gt(q, 0, "%s", portco_err_name(q));
    cr_assert_neq(q, p);
    pt_close(&c);
    pt_stop_agent(&ag);
}
