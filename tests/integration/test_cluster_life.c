/* test_cluster_life.c - claims across the whole stack: lifetimes, queued waiters on several
 * hosts, and a pool added after a coordinator failover reaching a running agent. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "fixture.h"
#include "portco.h"
#include "support.h"
#include "zkcheck.h"
#include "zkread.h"

static pt_cluster cl;
static pt_zkr *zr;

static void fini(void)
{
    pt_cluster_down(&cl, &zr);
}

TestSuite(life, .fini = fini, .timeout = 120);

/* Number of claim nodes under a port of a cluster pool. */
static int nclaims(const char *pool, int port)
{
    int n = pt_check_claims(zr, cl.root, pool, NULL, port);
    cr_assert_geq(n, 0, "reading the claims of %s/%d: %d", pool, port, n);
    return n;
}

typedef struct port_ref {
    const char *pool;
    int port;
    int want;
} port_ref;

static bool claims_are(void *arg)
{
    port_ref *r = arg;
    return nclaims(r->pool, r->port) == r->want;
}

static void wait_claims(const char *pool, int port, int want, const char *why)
{
    port_ref r = {pool, port, want};
    cr_assert(pt_wait_until(claims_are, &r, 15000), "port %d: %d claims, expected %d (%s)", port,
              nclaims(pool, port), want, why);
}

/* ------------------------------------------------------------------------ */
/* 4. lifetimes through the coordinator-published config                    */

/* A child process that claims a connection-bound port, reports it on a pipe,
 * and then waits for its end (parent closing the pipe, or a signal). */
static pid_t claimer(int agent, int *port_out, int *release_fd)
{
    int up[2], down[2];
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        portco_client *c = NULL;
        portco_claim cl_;
        int port = -1;
        if (portco_connect(cl.agents[agent].sock, &c, NULL) == 0) {
            portco_acquire_opts ao = {.pool = "life", .service = "child"};
            if (portco_acquire(c, &ao, &cl_, NULL) == 0)
                port = cl_.port;
        }
        if (write(up[1], &port, sizeof(port)) != sizeof(port))
            _exit(3);
        char b;
        while (read(down[0], &b, 1) < 0 && errno == EINTR)
            ;
        _exit(0); /* the connection closes with the process */
    }
    close(up[1]);
    close(down[0]);
    int port = -1;
    cr_assert_eq(read(up[0], &port, sizeof(port)), (ssize_t)sizeof(port));
    close(up[0]);
    cr_assert_gt(port, 0, "the child got no port");
    *port_out = port;
    *release_fd = down[1]; /* closing it makes the child exit */
    return pid;
}

Test(life, connection_pid_and_explicit_lifetimes)
{
    int base = pt_cluster_port_run(false, 10);
    cr_assert_gt(base, 0);
    char yaml[256];
    snprintf(yaml, sizeof(yaml), "pools:\n  - name: life\n    range: %d-%d\n", base, base + 9);
    pt_cluster_opts o = {.agents = 2, .coordinators = 1, .cluster = yaml};
    pt_cluster_up(&cl, &o, &zr);
    for (int i = 0; i < 2; i++)
        cr_assert(pt_cluster_wait_pool(&cl, i, "life", 20000));
    int status;

    /* Connection-bound, the process exits on its own. */
    int port, release_fd;
    pid_t child = claimer(0, &port, &release_fd);
    wait_claims("life", port, 1, "connection claim held by the child");
    close(release_fd);
    cr_assert_eq(pt_wait_pid(child, 5000, &status), 0);
    cr_assert_eq(status, 0);
    wait_claims("life", port, 0, "child exited");

    /* Connection-bound, the process is killed with SIGKILL. */
    child = claimer(1, &port, &release_fd);
    wait_claims("life", port, 1, "connection claim held by the child");
    cr_assert_eq(kill(child, SIGKILL), 0);
    close(release_fd);
    cr_assert_eq(pt_wait_pid(child, 5000, &status), 0);
    cr_assert_eq(status, 128 + SIGKILL);
    wait_claims("life", port, 0, "child killed");

    /* Pid-bound: outlives the connection that made it, ends with the pid. */
    pid_t sleeper = pt_spawn((char *[]){"sleep", "600", NULL}, NULL, NULL, NULL);
    cr_assert_gt(sleeper, 0);
    cl.extra[cl.nextra++] = sleeper; /* stopped by the fixture if an assertion fails */
    portco_client *c = pt_cluster_client(&cl, 0);
    portco_acquire_opts ao = {.pool = "life",
                              .service = "pidbound",
                              .lifetime = PORTCO_LIFETIME_PID,
                              .hold_pid = sleeper};
    portco_claim claim;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &ao, &claim, &st), 0, "%s", st.message);
    portco_close(c);
    /* A request on a new connection is answered after the agent saw the close. */
    c = pt_cluster_client(&cl, 0);
    portco_claim *all = NULL;
    size_t n = 0;
    cr_assert_eq(portco_list(c, "life", &all, &n, &st), 0, "%s", st.message);
    free(all);
    portco_close(c);
    cr_assert_eq(nclaims("life", claim.port), 1, "pid claim gone with its connection");
    cr_assert_eq(pt_stop_pid(sleeper, SIGTERM, 5000), 0);
    cl.extra[--cl.nextra] = 0;
    wait_claims("life", claim.port, 0, "held pid exited");

    /* Explicit, through the CLI: survives the CLI process, goes with `portco release`. */
    char bin[512];
    pt_bin("portco", bin, sizeof(bin));
    char *out = NULL, *err = NULL;
    char *acq[] = {bin,         "--socket", cl.agents[1].sock, "acquire", "--pool", "life",
                   "--service", "cli",      "--explicit",      NULL};
    cr_assert_eq(pt_run(acq, NULL, 15000, &out, &err, &status), 0);
    cr_assert_eq(status, 0, "portco acquire: %s", err);
    int xport = atoi(out);
    free(out);
    free(err);
    cr_assert_gt(xport, 0);
    cr_assert_eq(nclaims("life", xport), 1, "explicit claim gone with the CLI process");
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", xport);
    char *rel[] = {bin, "--socket", cl.agents[1].sock, "release", "--pool", "life", port_s, NULL};
    out = err = NULL;
    cr_assert_eq(pt_run(rel, NULL, 15000, &out, &err, &status), 0);
    cr_assert_eq(status, 0, "portco release: %s", err);
    free(out);
    free(err);
    wait_claims("life", xport, 0, "explicit claim released");
}

/* ------------------------------------------------------------------------ */
/* 5. waiters on three hosts: each release wakes exactly one                 */

typedef struct waiter {
    portco_client *c;
    int port;
    int rc;
    portco_claim claim;
    portco_status st;
    atomic_int *done;
    atomic_int finished;
} waiter;

static void *wait_for_port(void *arg)
{
    waiter *w = arg;
    portco_acquire_opts ao = {
        .pool = "w", .service = "waiter", .port = (uint16_t)w->port, .wait_ms = 60000};
    w->rc = portco_acquire(w->c, &ao, &w->claim, &w->st);
    atomic_store(&w->finished, 1);
    atomic_fetch_add(w->done, 1);
    return NULL;
}

typedef struct done_ref {
    atomic_int *done;
    int want;
} done_ref;

static bool done_reaches(void *arg)
{
    done_ref *d = arg;
    return atomic_load(d->done) >= d->want;
}

/* Claim node names under port x, sorted by sequence. */
static int sorted_claims(int x, char ***names)
{
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/pools/w/ports/%d", cl.root, x);
    int n = 0;
    cr_assert_eq(pt_zkr_children(zr, dir, names, &n, NULL), 0);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            const char *a = (*names)[i], *b = (*names)[j];
            if (strcmp(a + strlen(a) - 10, b + strlen(b) - 10) > 0) {
                char *t = (*names)[i];
                (*names)[i] = (*names)[j];
                (*names)[j] = t;
            }
        }
    return n;
}

static long long wakeups(int agent)
{
    long long v = pt_cluster_counter(&cl, agent, "watch_wakeups");
    cr_assert_geq(v, 0, "agent h%d: no watch_wakeups counter (%lld)", agent, v);
    return v;
}

Test(life, release_wakes_exactly_one_waiter_across_hosts)
{
    int base = pt_cluster_port_run(true, 10);
    char yaml[256];
    snprintf(yaml, sizeof(yaml), "pools:\n  - name: w\n    range: %d-%d\n", base, base + 9);
    pt_cluster_opts o = {
        .agents = 3, .coordinators = 1, .netns = true, .own_zk = true, .cluster = yaml};
    pt_cluster_up(&cl, &o, &zr);
    for (int i = 0; i < 3; i++)
        cr_assert(pt_cluster_wait_pool(&cl, i, "w", 20000));
    int x = base;

    portco_client *holder = pt_cluster_client(&cl, 0);
    portco_acquire_opts ao = {.pool = "w", .service = "holder", .port = (uint16_t)x};
    portco_claim hc;
    portco_status st;
    cr_assert_eq(portco_acquire(holder, &ao, &hc, &st), 0, "%s", st.message);

    /* Waiters on h1, h2, h0, queued in that order (each one's node is in place
     * before the next asks). */
    static const int on[3] = {1, 2, 0};
    static waiter ws[3];
    pthread_t th[3];
    atomic_int done = 0;
    for (int k = 0; k < 3; k++) {
        memset(&ws[k], 0, sizeof(ws[k]));
        ws[k].c = pt_cluster_client(&cl, on[k]);
        ws[k].port = x;
        ws[k].done = &done;
        cr_assert_eq(pthread_create(&th[k], NULL, wait_for_port, &ws[k]), 0);
        wait_claims("w", x, k + 2, "waiter queued");
    }
    char **names;
    int n = sorted_claims(x, &names);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(names[0], hc.claim, "the holder's claim is not the lowest");
    char *queued[3];
    for (int k = 0; k < 3; k++)
        queued[k] = strdup(names[k + 1]);
    pt_zkr_free_strings(names, n);
    cr_assert_eq(atomic_load(&done), 0, "a waiter returned while the port was held: %s",
                 ws[0].st.message);

    long long w0[3];
    for (int i = 0; i < 3; i++)
        w0[i] = wakeups(i);

    portco_client *releaser = holder;
    for (int round = 0; round < 3; round++) {
        /* Release the current owner: the next waiter in line, and only it, is granted. */
        const char *pool = "w";
        cr_assert_eq(portco_release(releaser, pool, (uint16_t)x, &st), 0, "round %d: %s", round,
                     st.message);
        done_ref d = {&done, round + 1};
        cr_assert(pt_wait_until(done_reaches, &d, 15000), "round %d: no waiter was granted", round);
        cr_assert_eq(ws[round].rc, 0, "waiter %d on h%d: %s: %s", round, on[round],
                     portco_err_name(ws[round].rc), ws[round].st.message);
        cr_assert_eq(ws[round].claim.port, x);
        cr_assert_str_eq(ws[round].claim.host, cl.agents[on[round]].id);
        cr_assert_str_eq(ws[round].claim.claim, queued[round]);
        /* The others' nodes are still there, in order, and they still wait. */
        n = sorted_claims(x, &names);
        cr_assert_eq(n, 3 - round, "round %d: %d claim nodes", round, n);
        for (int k = 0; k < n; k++)
            cr_assert_str_eq(names[k], queued[round + k], "round %d: node %d", round, k);
        pt_zkr_free_strings(names, n);
        for (int k = round + 1; k < 3; k++)
            cr_assert_not(atomic_load(&ws[k].finished), "round %d: waiter %d returned too: %s",
                          round, k, ws[k].st.message);
        /* One watch fired, on the granted waiter's agent. */
        long long total = 0;
        for (int i = 0; i < 3; i++)
            total += wakeups(i) - w0[i];
        cr_assert_eq(total, round + 1, "round %d: %lld watch wakeups in all", round, total);
        cr_assert_eq(atomic_load(&done), round + 1, "round %d: more than one waiter granted",
                     round);
        releaser = ws[round].c;
    }
    cr_assert_eq(portco_release(releaser, "w", (uint16_t)x, &st), 0, "%s", st.message);
    for (int k = 0; k < 3; k++) {
        pthread_join(th[k], NULL);
        portco_close(ws[k].c);
        free(queued[k]);
    }
    portco_close(holder);
    wait_claims("w", x, 0, "everyone released");
}

/* ------------------------------------------------------------------------ */
/* 7. after the leader's kill -9, a reloaded survivor publishes a new pool   */

static bool leader_known(void *arg)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/coordinator/leader", cl.root);
    return pt_zkr_exists(zr, path, NULL) == 0;
}

Test(life, new_pool_after_failover_reaches_running_agent)
{
    int base = pt_cluster_port_run(false, 20);
    cr_assert_gt(base, 0);
    char yaml[512];
    snprintf(yaml, sizeof(yaml), "pools:\n  - name: a\n    range: %d-%d\n", base, base + 9);
    pt_cluster_opts o = {.agents = 1, .coordinators = 2, .cluster = yaml};
    pt_cluster_up(&cl, &o, &zr);
    cr_assert(pt_cluster_wait_pool(&cl, 0, "a", 20000));
    cr_assert(pt_wait_until(leader_known, NULL, 15000), "no leader node");

    char path[512], *data = NULL;
    int len = 0;
    snprintf(path, sizeof(path), "%s/coordinator/leader", cl.root);
    cr_assert_eq(pt_zkr_get(zr, path, &data, &len, NULL), 0);
    json_t *j = json_loads(data, 0, NULL);
    cr_assert_not_null(j, "leader data: %s", data);
    const char *id = json_string_value(json_object_get(j, "id"));
    cr_assert(id && (strcmp(id, "c0") == 0 || strcmp(id, "c1") == 0), "leader data: %s", data);
    int leader = id[1] - '0';
    json_decref(j);
    free(data);
    int survivor = 1 - leader;

    pid_t lpid = cl.coords[leader];
    cr_assert_eq(kill(lpid, SIGKILL), 0);
    int status;
    cr_assert_eq(pt_wait_pid(lpid, 5000, &status), 0);
    cl.coords[leader] = 0;

    snprintf(yaml, sizeof(yaml),
             "pools:\n  - name: a\n    range: %d-%d\n  - name: b\n    range: %d-%d\n", base,
             base + 9, base + 10, base + 19);
    cr_assert_eq(pt_cluster_write_file(&cl, yaml), 0);
    cr_assert_eq(kill(cl.coords[survivor], SIGHUP), 0);

    /* The agent was never restarted: it serves the new pool once it is published. */
    portco_client *c = pt_cluster_client(&cl, 0);
    portco_acquire_opts ao = {.pool = "b", .service = "after-failover"};
    portco_claim claim;
    portco_status st;
    int rc = PORTCO_ENOPOOL;
    long long deadline = pt_now_ms() + 20000;
    while ((rc = portco_acquire(c, &ao, &claim, &st)) == PORTCO_ENOPOOL && pt_now_ms() < deadline)
        pt_nap_ms(50);
    cr_assert_eq(rc, 0, "%s: %s", portco_err_name(rc), st.message);
    cr_assert(claim.port >= base + 10 && claim.port <= base + 19, "port %d", claim.port);
    cr_assert(pt_pid_alive(cl.agents[0].pid), "the agent restarted or died");
    snprintf(path, sizeof(path), "%s/coordinator/leader", cl.root);
    data = NULL;
    cr_assert_eq(pt_zkr_get(zr, path, &data, &len, NULL), 0);
    char want[16];
    snprintf(want, sizeof(want), "\"c%d\"", survivor);
    cr_assert(strstr(data, want), "leader is not the survivor: %s", data);
    free(data);
    portco_close(c);
}
