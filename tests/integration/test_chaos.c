/* test_chaos.c - three agents and many clients claiming in loops while connections, sessions,
 * agents and the ZooKeeper leader fail. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agentcli.h"
#include "agentctl.h"
#include "faultctl.h"
#include "owners.h"
#include "procnet.h"
#include "support.h"
#include "zkcheck.h"
#include "zkpath.h"
#include "zkread.h"

/*
 * The run (PORTCO_CHAOS_SECONDS, default 120, at most 300):
 *   - a 3-node ensemble; agents h1..h3, each behind its own fault proxy;
 *   - PT_CLIENTS_PER_AGENT client threads per agent acquiring a port of a
 *     40-port pool, holding it a few tens of ms, releasing it (or closing
 *     the connection), in a loop;
 *   - faults: random connection cuts on h1's proxy all along; a cut right
 *     after a claim create on h2's proxy every 15 s; a session expiry of h3
 *     (partition longer than the session) with a foreign host taking one of
 *     h3's ports meanwhile; kill -9 and restart of h2; SIGKILL of the
 *     ensemble leader and its restart.
 * An independent checker samples ZooKeeper (its own session) and the
 * agents' sockets (/proc) every PT_SAMPLE_MS and keeps the clients' own
 * view of who holds what. At the end it asserts: no port owned twice at any
 * sample (two agents binding it, or two clients believing they own it
 * without a conflict event telling one of them), no claim node left once
 * every client is gone, every client error a documented code. The counts
 * are printed for quoting.
 */

#define PT_AGENTS            3
#define PT_CLIENTS_PER_AGENT 4
#define PT_CLIENTS           (PT_AGENTS * PT_CLIENTS_PER_AGENT)
#define PT_POOL_PORTS        40
#define PT_SESSION_MS        3000
#define PT_SAMPLE_MS         250
#define PT_MAX_OVERLAPS      256

static pt_zk pt_ens;
static char pt_root[256];
static char *pt_dir;
static pt_zkr *pt_z;
static int pt_base;
static pt_agent pt_ags[PT_AGENTS];
static pt_proxy pt_pxs[PT_AGENTS];
static const char *pt_hosts[PT_AGENTS] = {"h1", "h2", "h3"};

/* The clients' view, shared by the client threads and the checker. */
typedef struct pt_overlap {
    int port, earlier, later; /* client indexes */
    bool reported;            /* the earlier holder got a conflict event for the port */
} pt_overlap;

static pthread_mutex_t pt_mu = PTHREAD_MUTEX_INITIALIZER;
static int pt_holder[PT_POOL_PORTS]; /* client index (PT_CLIENTS: the sentinel) or -1 */
static pt_overlap pt_overlaps[PT_MAX_OVERLAPS];
static int pt_noverlaps;
static atomic_bool pt_stop;
static atomic_int pt_agent_down[PT_AGENTS]; /* agent being restarted: clients wait */

/* Counts. */
static atomic_llong pt_ops, pt_grants, pt_releases, pt_closes, pt_errors_documented,
    pt_errors_undocumented, pt_conflict_events, pt_reasserted_events, pt_transport_losses;
static atomic_llong pt_err_by_code[32];
static char pt_undoc_example[512];

static int pt_chaos_seconds(void)
{
    const char *s = getenv("PORTCO_CHAOS_SECONDS");
    int v = s ? atoi(s) : 120;
    return v < 30 ? 30 : v > 300 ? 300 : v;
}

/* ------------------------------------------------------------------------ */
/* clients                                                                  */

/* A documented outcome: a code of PORTCO_ERRNO_MAP other than the two that
 * mean a broken agent or protocol. Transport failures (agent killed) are
 * what libportco reports as AGENT_UNAVAILABLE. */
static void pt_count_error(int rc, const char *msg)
{
    if (rc == -EPIPE || rc == -ECONNRESET || rc == -ECONNREFUSED || rc == -ENOENT)
        rc = PORTCO_ENOAGENT;
    bool documented = rc <= PORTCO_EBADREQ && rc >= PORTCO_EINTERNAL && rc != PORTCO_EINTERNAL &&
                      rc != PORTCO_EPROTO;
    if (documented) {
        pt_errors_documented++;
        pt_err_by_code[-rc - 1000]++;
    } else {
        pt_errors_undocumented++;
        pthread_mutex_lock(&pt_mu);
        snprintf(pt_undoc_example, sizeof(pt_undoc_example), "%s: %s", portco_err_name(rc),
                 msg ? msg : "");
        pthread_mutex_unlock(&pt_mu);
    }
}

/* Conflict events seen by client `me` since the last look: the agent says
 * its claim on those ports is gone. */
static void pt_absorb_events(pt_cli *c, int me, int *seen_conflicts, int *seen_reasserted)
{
    for (int i = *seen_conflicts; i < c->conflicts && i < c->nconflict_ports; i++) {
        int idx = c->conflict_ports[i] - pt_base;
        pthread_mutex_lock(&pt_mu);
        if (idx >= 0 && idx < PT_POOL_PORTS) {
            if (pt_holder[idx] == me)
                pt_holder[idx] = -1;
            for (int k = 0; k < pt_noverlaps; k++)
                if (pt_overlaps[k].port == idx + pt_base && pt_overlaps[k].earlier == me)
                    pt_overlaps[k].reported = true;
        }
        pthread_mutex_unlock(&pt_mu);
    }
    pt_conflict_events += c->conflicts - *seen_conflicts;
    pt_reasserted_events += c->reasserted - *seen_reasserted;
    *seen_conflicts = c->conflicts;
    *seen_reasserted = c->reasserted;
}

/* The client's claims end (release sent, connection closed or lost). */
static void pt_drop_port(int me, int port)
{
    int idx = port - pt_base;
    pthread_mutex_lock(&pt_mu);
    if (idx >= 0 && idx < PT_POOL_PORTS && pt_holder[idx] == me)
        pt_holder[idx] = -1;
    pthread_mutex_unlock(&pt_mu);
}

static void pt_take_port(int me, int port)
{
    int idx = port - pt_base;
    pthread_mutex_lock(&pt_mu);
    if (idx >= 0 && idx < PT_POOL_PORTS) {
        int prev = pt_holder[idx];
        if (prev >= 0 && prev != me && pt_noverlaps < PT_MAX_OVERLAPS)
            pt_overlaps[pt_noverlaps++] = (pt_overlap){port, prev, me, false};
        pt_holder[idx] = me;
    }
    pthread_mutex_unlock(&pt_mu);
}

static void *pt_client_main(void *arg)
{
    int me = (int)(intptr_t)arg;
    int agent = me / PT_CLIENTS_PER_AGENT;
    unsigned seed = (unsigned)(me * 7919 + getpid());
    pt_cli c = {.fd = -1};
    int seen_conf = 0, seen_re = 0;
    int held = 0;
    while (!pt_stop) {
        if (c.fd < 0) {
            if (pt_agent_down[agent] || pt_cli_open(&c, pt_ags[agent].sock) < 0) {
                pt_nap_ms(50);
                continue;
            }
            seen_conf = seen_re = 0;
        }
        portco_claim cl;
        char msg[512] = "";
        pt_ops++;
        int rc = pt_cli_acquire(&c, "web", "chaos", 0, "connection", &cl, msg, sizeof(msg));
        pt_absorb_events(&c, me, &seen_conf, &seen_re);
        if (rc > 0) {
            pt_grants++;
            held = rc;
            pt_take_port(me, held);
            pt_nap_ms(10 + (int)(rand_r(&seed) % 60));
            if (rand_r(&seed) % 5 == 0) {
                /* Leave by closing: the connection's claims go with it. */
                pt_drop_port(me, held);
                pt_cli_close(&c);
                pt_closes++;
                held = 0;
                continue;
            }
            pt_drop_port(me, held); /* ownership ends when the release is sent */
            pt_ops++;
            rc = pt_cli_release(&c, "web", held);
            pt_absorb_events(&c, me, &seen_conf, &seen_re);
            held = 0;
            if (rc == 0) {
                pt_releases++;
                continue;
            }
            snprintf(msg, sizeof(msg), "release");
        }
        pt_count_error(rc, msg);
        if (rc == -EPIPE || rc == -ECONNRESET || rc == -ETIMEDOUT || rc == PORTCO_EPROTO) {
            /* The agent is gone (or broken): so are this connection's claims. */
            pt_transport_losses++;
            pt_cli_close(&c);
        }
        if (rc == PORTCO_EZKUNAVAIL || rc == PORTCO_ENOTREADY || rc == PORTCO_EEXHAUSTED)
            pt_nap_ms(20);
    }
    pt_cli_close(&c);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* the checker                                                              */

typedef struct pt_stats {
    long long samples, zk_samples_failed, socket_dups, view_suspects;
    long long max_claims_seen;
} pt_stats;

/* Ports of the pool bound by more than one agent process at this moment. */
static int pt_socket_dups(void)
{
    pc_sockvec sv = PC_SOCKVEC_INIT;
    pc_error err;
    if (pc_procnet_scan(NULL, PC_PROTO_TCP, 0, &sv, &err) < 0)
        return 0;
    if (pc_sock_owners(NULL, &sv, &err) < 0) {
        pc_sockvec_free(&sv);
        return 0;
    }
    pid_t owner[PT_POOL_PORTS] = {0};
    int dups = 0;
    for (size_t i = 0; i < sv.n; i++) {
        const pc_sock *s = &sv.v[i];
        int idx = (int)s->local_port - pt_base;
        if (idx < 0 || idx >= PT_POOL_PORTS || s->pid <= 0 || s->state == PC_SS_TIME_WAIT ||
            s->remote_port != 0)
            continue;
        bool is_agent = false;
        for (int a = 0; a < PT_AGENTS; a++)
            is_agent |= pt_ags[a].pid == s->pid;
        if (!is_agent)
            continue;
        if (owner[idx] && owner[idx] != s->pid) {
            dups++;
            fprintf(stderr, "chaos: port %d bound by agents %d and %d at once\n",
                    (int)s->local_port, (int)owner[idx], (int)s->pid);
        }
        owner[idx] = s->pid;
    }
    pc_sockvec_free(&sv);
    return dups;
}

/*
 * One sample. ZooKeeper's owner of each port against the clients' view: a
 * client that believes it holds a port whose owner in ZooKeeper is another
 * agent's claim, for several samples running, is a suspect; it is cleared
 * when its agent reports the conflict to it.
 */
static void pt_sample(pt_stats *st, int *mismatch_run)
{
    st->samples++;
    st->socket_dups += pt_socket_dups();
    pt_portnode *ports = NULL;
    int n = 0;
    if (pt_check_pool(pt_z, pt_root, "web", &ports, &n) < 0) {
        st->zk_samples_failed++;
        return;
    }
    char zk_owner[PT_POOL_PORTS][128];
    memset(zk_owner, 0, sizeof(zk_owner));
    long long claims = 0;
    for (int i = 0; i < n; i++) {
        int idx = ports[i].port - pt_base;
        claims += ports[i].nclaims;
        if (idx >= 0 && idx < PT_POOL_PORTS)
            snprintf(zk_owner[idx], sizeof(zk_owner[idx]), "%s", ports[i].owner_host);
    }
    free(ports);
    if (claims > st->max_claims_seen)
        st->max_claims_seen = claims;
    pthread_mutex_lock(&pt_mu);
    for (int idx = 0; idx < PT_POOL_PORTS; idx++) {
        int h = pt_holder[idx];
        const char *want = h >= PT_CLIENTS ? pt_hosts[2]
                           : h >= 0        ? pt_hosts[h / PT_CLIENTS_PER_AGENT]
                                           : NULL;
        bool mismatch = want && zk_owner[idx][0] && strcmp(zk_owner[idx], want) != 0;
        mismatch_run[idx] = mismatch ? mismatch_run[idx] + 1 : 0;
        if (mismatch_run[idx] == 4 && pt_noverlaps < PT_MAX_OVERLAPS) {
            st->view_suspects++;
            pt_overlaps[pt_noverlaps++] = (pt_overlap){idx + pt_base, h, -1, false};
        }
    }
    pthread_mutex_unlock(&pt_mu);
}

/* ------------------------------------------------------------------------ */
/* faults                                                                   */

typedef struct pt_faults {
    long long random_cuts, mid_create_cuts, expiries, agent_kills, leader_kills, foreign_claims;
} pt_faults;

static long long pt_presence_owner(const char *host)
{
    char path[512];
    pc_zkp_host(path, sizeof(path), pt_root, host);
    struct Stat st;
    return pt_zkr_exists(pt_z, path, &st) == 0 ? st.ephemeralOwner : 0;
}

/* Partition agent a until its session is expired on the server. Before, a
 * sentinel client of a holds a claim; while a is cut off, a foreign host
 * (h9, the checker's second session) claims that port. When a is back, it
 * must tell the sentinel about the conflict. Returns the sentinel's port or 0. */
static int pt_expire_agent(int a, pt_zkr **foreign, pt_cli *sentinel, pt_faults *f)
{
    int port = 0;
    portco_claim cl;
    if (pt_cli_open(sentinel, pt_ags[a].sock) == 0) {
        for (int i = 0; i < 50 && port <= 0; i++) {
            port = pt_cli_acquire(sentinel, "web", "sentinel", 0, "connection", &cl, NULL, 0);
            if (port <= 0)
                pt_nap_ms(50);
        }
    }
    if (port > 0)
        pt_take_port(PT_CLIENTS, port);
    else
        port = 0;
    long long owner = pt_presence_owner(pt_hosts[a]);
    pt_proxy_cmd(&pt_pxs[a], "block", NULL, 0);
    pt_proxy_cmd(&pt_pxs[a], "cut", NULL, 0);
    long long end = pt_now_ms() + PT_SESSION_MS + 15000;
    while (pt_now_ms() < end && owner && pt_presence_owner(pt_hosts[a]) == owner)
        pt_nap_ms(100);
    f->expiries++;
    if (port) {
        /* A session of its own, opened now: a blocking handle left idle
         * would have expired. It lives until the end of the run. */
        int rc = pt_claim_as(pt_ens.connect, pt_root, "web", port, "h9", "foreign", foreign);
        if (rc == 0)
            f->foreign_claims++;
        else
            fprintf(stderr, "chaos: the foreign claim on port %d failed: %s\n", port,
                    strerror(-rc));
    }
    pt_proxy_cmd(&pt_pxs[a], "unblock", NULL, 0);
    return port;
}

static void *pt_restart_member(void *arg)
{
    int node = (int)(intptr_t)arg;
    pt_zk_restart(&pt_ens, node);
    return NULL;
}

/* ------------------------------------------------------------------------ */

static void pt_setup(void)
{
    cr_assert_eq(pt_zk_start(&pt_ens, 3), 0, "cannot start a 3-node ensemble");
    pt_unique_root("chaos", pt_root, sizeof(pt_root));
    pt_dir = pt_tmpdir("pt-chaos");
    cr_assert_not_null(pt_dir);
    cr_assert_eq(pt_zkr_connect(&pt_z, pt_ens.connect, 30000, 10000), 0);
    pt_base = pt_port_run(PT_POOL_PORTS);
    cr_assert_gt(pt_base, 0, "no run of %d free ports", PT_POOL_PORTS);
    pt_pool_def web = {.name = "web", .lo = pt_base, .hi = pt_base + PT_POOL_PORTS - 1};
    cr_assert_eq(pt_zkr_publish_pool(pt_z, pt_root, &web), 0);
    for (int i = 0; i < PT_POOL_PORTS; i++)
        pt_holder[i] = -1;
}

static void pt_teardown(void)
{
    for (int a = 0; a < PT_AGENTS; a++) {
        pt_agent_stop(&pt_ags[a]);
        cr_expect_eq(pt_agent_sanitizer_report(&pt_ags[a]), 0,
                     "agent %s reported a sanitizer error", pt_hosts[a]);
        pt_proxy_stop(&pt_pxs[a]);
    }
    pt_zkr_close(pt_z);
    pt_z = NULL;
    pt_zk_stop(&pt_ens);
    if (pt_dir) {
        if (getenv("PORTCO_CHAOS_KEEP")) /* keep the agents' logs for a post-mortem */
            fprintf(stderr, "chaos: logs kept in %s\n", pt_dir);
        else
            pt_rmtree(pt_dir);
        free(pt_dir);
        pt_dir = NULL;
    }
}

TestSuite(chaos, .init = pt_setup, .fini = pt_teardown, .timeout = 480);

static long long pt_agent_counter(int a, const char *name)
{
    pt_cli c;
    if (pt_cli_open(&c, pt_ags[a].sock) < 0)
        return 0;
    long long v = pt_cli_counter(&c, name);
    pt_cli_close(&c);
    return v < 0 ? 0 : v;
}

Test(chaos, claims_stay_unique_and_leak_free_under_faults)
{
    int seconds = pt_chaos_seconds();
    for (int a = 0; a < PT_AGENTS; a++) {
        cr_assert_eq(pt_proxy_start(&pt_pxs[a], pt_dir, pt_ens.connect), 0);
        cr_assert_eq(pt_agent_run(&pt_ags[a], pt_dir, pt_hosts[a], pt_pxs[a].connect, pt_root,
                                  PT_SESSION_MS),
                     0);
    }
    pt_zkr *foreign = NULL;

    pthread_t th[PT_CLIENTS];
    for (int i = 0; i < PT_CLIENTS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, pt_client_main, (void *)(intptr_t)i), 0);

    pt_stats st = {0};
    pt_faults f = {0};
    int mismatch_run[PT_POOL_PORTS] = {0};
    long long conflicts_counted = 0, reasserted_counted = 0; /* from agents killed later */
    long long lost_answers = 0, found_by_uuid = 0;
    long long t0 = pt_now_ms(), end = t0 + seconds * 1000LL;
    long long next_mid = t0 + 8000;
    bool random_on = false, expired = false, killed = false, leader_killed = false;
    int leader_node = 0;
    pt_cli sentinel = {.fd = -1};
    int sentinel_port = 0, sentinel_conf = 0, sentinel_re = 0;
    long long leader_back_at = 0;
    pthread_t leader_th;
    bool leader_th_running = false;
    /* The schedule scales with the run: fractions of its length. */
    long long at_expire = t0 + seconds * 250LL, at_kill = t0 + seconds * 450LL,
              at_leader = t0 + seconds * 650LL;
    while (pt_now_ms() < end) {
        long long now = pt_now_ms();
        if (!random_on && now >= t0 + 3000) {
            pt_proxy_cmd(&pt_pxs[0], "random 1500 4000", NULL, 0);
            random_on = true;
        }
        if (now >= next_mid) {
            pt_proxy_cmd(&pt_pxs[1], "cut-on-chunk 150 150", NULL, 0);
            next_mid = now + 15000;
        }
        if (!expired && now >= at_expire) {
            sentinel_port = pt_expire_agent(2, &foreign, &sentinel, &f);
            expired = true;
        }
        if (!killed && now >= at_kill) {
            conflicts_counted += pt_agent_counter(1, "conflicts");
            reasserted_counted += pt_agent_counter(1, "reasserted");
            lost_answers += pt_agent_counter(1, "lost_answers");
            found_by_uuid += pt_agent_counter(1, "found_by_uuid");
            pt_agent_down[1] = 1;
            pt_agent_crash(&pt_ags[1]);
            f.agent_kills++;
            pt_nap_ms(500);
            cr_assert_eq(pt_agent_restart(&pt_ags[1]), 0, "agent h2 did not restart");
            pt_agent_down[1] = 0;
            killed = true;
        }
        if (!leader_killed && now >= at_leader) {
            cr_assert_eq(pt_zk_kill(&pt_ens, "leader", &leader_node), 0);
            f.leader_kills++;
            leader_killed = true;
            leader_back_at = now + 8000;
        }
        if (leader_back_at && now >= leader_back_at) {
            leader_th_running = pthread_create(&leader_th, NULL, pt_restart_member,
                                               (void *)(intptr_t)leader_node) == 0;
            leader_back_at = 0;
        }
        if (sentinel.fd >= 0) {
            /* The sentinel reads its events; after the conflict it lets go. */
            pt_cli_events(&sentinel, 1, 1);
            pt_absorb_events(&sentinel, PT_CLIENTS, &sentinel_conf, &sentinel_re);
            if (sentinel.conflicts > 0 || sentinel.reasserted > 0) {
                pt_drop_port(PT_CLIENTS, sentinel_port);
                pt_cli_close(&sentinel);
            }
        }
        pt_sample(&st, mismatch_run);
        pt_nap_ms(PT_SAMPLE_MS);
    }
    if (sentinel.fd >= 0) {
        pt_cli_events(&sentinel, 100, 1);
        pt_absorb_events(&sentinel, PT_CLIENTS, &sentinel_conf, &sentinel_re);
        pt_drop_port(PT_CLIENTS, sentinel_port);
        pt_cli_close(&sentinel);
    }

    /* Quiet down, let the clients finish, then every claim must go. */
    pt_proxy_cmd(&pt_pxs[0], "random off", NULL, 0);
    f.random_cuts = pt_proxy_stat(&pt_pxs[0], "cuts");
    f.mid_create_cuts = pt_proxy_stat(&pt_pxs[1], "cuts");
    pt_stop = true;
    for (int i = 0; i < PT_CLIENTS; i++)
        pthread_join(th[i], NULL);
    if (leader_th_running)
        pthread_join(leader_th, NULL);
    pt_sample(&st, mismatch_run);
    for (int a = 0; a < PT_AGENTS; a++) {
        conflicts_counted += pt_agent_counter(a, "conflicts");
        reasserted_counted += pt_agent_counter(a, "reasserted");
        lost_answers += pt_agent_counter(a, "lost_answers");
        found_by_uuid += pt_agent_counter(a, "found_by_uuid");
    }
    if (foreign)
        pt_zkr_close(foreign); /* the foreign claim goes with its session */

    int left = -1;
    for (long long stop_at = pt_now_ms() + PT_SESSION_MS + 15000; pt_now_ms() < stop_at;
         pt_nap_ms(200)) {
        left = pt_check_count(pt_z, pt_root, "web");
        if (left == 0)
            break;
    }
    if (left > 0) {
        pt_portnode *ports = NULL;
        int n = 0;
        if (pt_check_pool(pt_z, pt_root, "web", &ports, &n) == 0)
            for (int i = 0; i < n; i++)
                fprintf(stderr,
                        "chaos: left on port %d: %d claims, owner %s of %s, session 0x%llx\n",
                        ports[i].port, ports[i].nclaims, ports[i].owner, ports[i].owner_host,
                        (unsigned long long)ports[i].owner_session);
        free(ports);
    }
    int unbindable = 0;
    for (int i = 0; i < PT_POOL_PORTS; i++)
        unbindable += !pt_port_bindable(pt_base + i);

    int silent = 0;
    pthread_mutex_lock(&pt_mu);
    for (int k = 0; k < pt_noverlaps; k++)
        if (!pt_overlaps[k].reported) {
            silent++;
            fprintf(stderr, "chaos: port %d owned by client %d and %s %d, no conflict reported\n",
                    pt_overlaps[k].port, pt_overlaps[k].earlier,
                    pt_overlaps[k].later >= 0 ? "client" : "(ZooKeeper) another host",
                    pt_overlaps[k].later);
        }
    int overlaps = pt_noverlaps;
    pthread_mutex_unlock(&pt_mu);

    printf("chaos: %d s, %d agents, %d clients, pool of %d ports\n", seconds, PT_AGENTS, PT_CLIENTS,
           PT_POOL_PORTS);
    printf("chaos: operations %lld (grants %lld, releases %lld, closes %lld), errors %lld "
           "documented / %lld undocumented, connection losses seen by clients %lld\n",
           (long long)pt_ops, (long long)pt_grants, (long long)pt_releases, (long long)pt_closes,
           (long long)pt_errors_documented, (long long)pt_errors_undocumented,
           (long long)pt_transport_losses);
    for (int i = 1; i < 32; i++)
        if (pt_err_by_code[i])
            printf("chaos:   %s %lld\n", portco_err_name(-1000 - i), (long long)pt_err_by_code[i]);
    printf("chaos: sentinel on h3 held port %d through the expiry: %d conflict, %d reasserted "
           "events\n",
           sentinel_port, sentinel_conf, sentinel_re);
    printf("chaos: faults: random cuts %lld, mid-create cuts %lld, session expiries %lld, "
           "foreign claims %lld, agent kills %lld, leader kills %lld\n",
           f.random_cuts, f.mid_create_cuts, f.expiries, f.foreign_claims, f.agent_kills,
           f.leader_kills);
    printf("chaos: conflicts detected by agents %lld, reported to clients %lld; re-asserted %lld "
           "(events %lld)\n",
           conflicts_counted, (long long)pt_conflict_events, reasserted_counted,
           (long long)pt_reasserted_events);
    printf("chaos: claim creates whose answer was lost %lld, their nodes found by uuid %lld\n",
           lost_answers, found_by_uuid);
    printf("chaos: checker: %lld samples (%lld unreadable), socket duplicates %lld, overlaps %d "
           "(silent %d), claim nodes left %d, ports still bound %d, max claims seen %lld\n",
           st.samples, st.zk_samples_failed, st.socket_dups, overlaps, silent, left, unbindable,
           st.max_claims_seen);
    fflush(stdout);

    cr_expect_gt(pt_grants, 100, "too little traffic to mean anything");
    cr_expect_eq(pt_errors_undocumented, 0, "undocumented client errors, e.g. %s",
                 pt_undoc_example);
    cr_expect_eq(st.socket_dups, 0, "a port was bound by two agents at once");
    cr_expect_eq(silent, 0, "a port was owned twice without a conflict being reported");
    cr_expect_eq(left, 0, "claim nodes left without a living claimant");
    cr_expect_eq(unbindable, 0, "ports still held after every claim ended");
    cr_expect_eq(conflicts_counted >= (long long)pt_conflict_events, true,
                 "clients got more conflict events than agents counted");
}
