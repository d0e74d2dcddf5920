/* test_agent_batch.c - claims and releases of one loop turn go to ZooKeeper as one multi-op. */
#include <criterion/criterion.h>
#include <signal.h>

#include "agentcli.h"
#include "fixture.h"
#include "support.h"

TestSuite(agent_batch, .init = pt_setup, .fini = pt_teardown, .timeout = 120);

#define PT_CONCURRENT 12
#define PT_MAX_PASSES 3 /* loop passes the work of one turn may spill into */

/*
 * Requests from separate connections are served side by side. With the agent
 * stopped while they are written, it finds all of them readable at once when
 * it resumes, and so serves them in one turn of its loop.
 */
static bool pt_agent_stopped(void *arg)
{
    return pt_pid_state(((const pt_agent *)arg)->pid) == 'T';
}

static void pt_agent_pause(pt_agent *ag)
{
    cr_assert_eq(kill(ag->pid, SIGSTOP), 0);
    /* Stopped once its state says so: nothing it reads before counts. */
    cr_assert(pt_wait_until(pt_agent_stopped, ag, 5000), "agent %d did not stop", (int)ag->pid);
}

static void pt_agent_resume(const pt_agent *ag)
{
    cr_assert_eq(kill(ag->pid, SIGCONT), 0);
}

Test(agent_batch, claims_of_one_turn_share_a_transaction)
{
    pt_publish_pool("web", pt_base, pt_base + 31, "cluster", NULL);
    pt_agent ag;
    pt_start_agent(&ag, "h1");
    pt_cli c[PT_CONCURRENT], s;
    for (int i = 0; i < PT_CONCURRENT; i++)
        pt_connect(&c[i], &ag);
    pt_connect(&s, &ag);
    /* The pool's first claim creates the directories above the port nodes;
     * until then every multi-op that creates a port node fails (ZNONODE). */
    int first = pt_acquire(&s, pt_acq_req("web", "warm-up", 0), NULL);
    cr_assert_gt(first, 0);
    cr_assert_eq(pt_release(&s, "web", first), 0);
    json_int_t batches0 = pt_counter(&s, "batches"), batched0 = pt_counter(&s, "batched");

    pt_agent_pause(&ag);
    for (int i = 0; i < PT_CONCURRENT; i++)
        pt_send_acquire(&c[i], "web", 0, 0);
    pt_agent_resume(&ag);
    int ports[PT_CONCURRENT];
    int64_t czxids[PT_CONCURRENT];
    for (int i = 0; i < PT_CONCURRENT; i++) {
        portco_claim cl = {.fd = -1};
        int rc = pt_read_grant(&c[i], 20000, &cl);
        cr_assert_gt(rc, 0, "acquire %d: %s", i, portco_err_name(rc));
        ports[i] = cl.port;
        czxids[i] = cl.czxid;
    }
    /* Every claim is real and alone on its port: the transaction was not a
     * shortcut around the claim protocol. */
    for (int i = 0; i < PT_CONCURRENT; i++) {
        cr_assert_eq(pt_nclaims("web", NULL, ports[i]), 1, "port %d", ports[i]);
        for (int j = 0; j < i; j++)
            cr_assert_neq(ports[i], ports[j], "port %d granted twice", ports[i]);
    }
    /*
     * Claims created in one transaction have its zxid as their czxid. All 12
     * go in one unless the agent's loop stopped short of them: its probe pass
     * has a 20 ms budget, and one dispatch runs at most 10 ms or 16 callbacks
     * before it looks for ZooKeeper's events (agent/main.c), which a slow
     * sanitizer build on a loaded machine can reach. Allow the work to spill
     * into PT_MAX_PASSES passes, never a transaction per claim.
     */
    int txns = 0;
    for (int i = 0; i < PT_CONCURRENT; i++) {
        int j = 0;
        while (j < i && czxids[j] != czxids[i])
            j++;
        txns += j == i;
    }
    json_int_t batches = pt_counter(&s, "batches") - batches0;
    json_int_t batched = pt_counter(&s, "batched") - batched0;
    cr_assert_leq(txns, PT_MAX_PASSES, "%d claims took %d transactions", PT_CONCURRENT, txns);
    cr_assert(batches >= 1 && batches <= txns, "%lld combined multi-ops for %d transactions",
              (long long)batches, txns);
    cr_assert_geq(batched, PT_CONCURRENT - (txns - 1), "%lld claims went in combined multi-ops",
                  (long long)batched);

    /* Connections that close in one turn release their claims together. */
    batches0 = pt_counter(&s, "batches");
    batched0 = pt_counter(&s, "batched");
    pt_agent_pause(&ag);
    for (int i = 0; i < PT_CONCURRENT; i++)
        pt_close(&c[i]);
    pt_agent_resume(&ag);
    for (int i = 0; i < PT_CONCURRENT; i++)
        pt_assert_released("web", ports[i]);
    /* One multi-op when the 12 ends of file are handled in one pass; at
     * most one per pass when they spill over (see above). A pass that was
     * left a single release sends it alone, outside the combined ones. */
    batches = pt_counter(&s, "batches") - batches0;
    batched = pt_counter(&s, "batched") - batched0;
    cr_assert(batches >= 1 && batches <= PT_MAX_PASSES,
              "%lld combined multi-ops for %d releases of one turn", (long long)batches,
              PT_CONCURRENT);
    cr_assert_geq(batched, PT_CONCURRENT - (PT_MAX_PASSES - batches),
                  "only %lld of %d releases went in combined multi-ops", (long long)batched,
                  PT_CONCURRENT);
    pt_close(&s);
    pt_stop_agent(&ag);
}

Test(agent_batch, one_refused_release_does_not_hold_back_the_others)
{
    pt_publish_pool("web", pt_base, pt_base + 15, "cluster", NULL);
    pt_agent ag;
    pt_start_agent(&ag, "h1");
    pt_cli c, w, s;
    pt_connect(&c, &ag);
    pt_connect(&w, &ag);
    pt_connect(&s, &ag);
    enum { N = 6 };
    for (int i = 0; i < N; i++)
        cr_assert_eq(pt_acquire(&c, pt_acq_req("web", "api", pt_base + i), NULL), pt_base + i);
    /* A waiter's node under the first port: deleting that port node fails
     * (ZNOTEMPTY), and with it the multi-op that carries the releases. */
    pt_send_acquire(&w, "web", pt_base, 20000);
    pt_wait_nclaims("web", pt_base, 2);
    json_int_t splits0 = pt_counter(&s, "batch_splits");

    pt_close(&c);
    int got = pt_read_grant(&w, 15000, NULL);
    cr_assert_eq(got, pt_base, "the waiter got %d (%s)", got, got < 0 ? portco_err_name(got) : "");
    for (int i = 1; i < N; i++)
        pt_assert_released("web", pt_base + i);
    cr_assert_eq(pt_nclaims("web", NULL, pt_base), 1, "the waiter's claim is the port's only one");
    cr_assert_geq(pt_counter(&s, "batch_splits") - splits0, 1);

    /* The agent goes on serving, and the released ports are claimable. */
    pt_cli d;
    pt_connect(&d, &ag);
    cr_assert_eq(pt_acquire(&d, pt_acq_req("web", "api", pt_base + 1), NULL), pt_base + 1);
    pt_close(&d);
    pt_close(&w);
    pt_close(&s);
    pt_stop_agent(&ag);
}
