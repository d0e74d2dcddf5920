/* test_cluster.c - cluster-unique claims end to end: ZooKeeper, coordinator, three agents in
 * their own network namespaces, hundreds of concurrent clients, checked in ZooKeeper itself. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "fixture.h"
#include "portco.h"
#include "support.h"
#include "zkread.h"

#define NAGENTS  3
#define NCLIENTS 300
#define POOLSZ   100

static pt_cluster cl;
static pt_zkr *zr;

static void fini(void)
{
    pt_cluster_down(&cl, &zr);
}

TestSuite(cluster, .fini = fini, .timeout = 150);

/* Start 3 agents in namespaces, an own ZooKeeper on the bridge, one coordinator. */
static void start_cluster(const char *yaml)
{
    pt_cluster_opts o = {
        .agents = NAGENTS, .coordinators = 1, .netns = true, .own_zk = true, .cluster = yaml};
    pt_cluster_up(&cl, &o, &zr);
}

static void wait_pool_everywhere(const char *pool)
{
    for (int i = 0; i < cl.nagents; i++)
        cr_assert(pt_cluster_wait_pool(&cl, i, pool, 20000), "agent h%d never loaded pool %s", i,
                  pool);
}

/* Acquire on c: any port (port 0) or `port`; returns 0 or the error code. */
static int acquire(portco_client *c, const char *pool, int port, portco_claim *out,
                   portco_status *st)
{
    portco_acquire_opts ao = {.pool = pool, .service = "cluster-test", .port = (uint16_t)port};
    return portco_acquire(c, &ao, out, st);
}

/* Children of path; ENOENT counts as none. Caller frees with pt_zkr_free_strings. */
static int children(const char *path, char ***names)
{
    int n = 0;
    *names = NULL;
    int rc = pt_zkr_children(zr, path, names, &n, NULL);
    if (rc == -ENOENT)
        return 0;
    cr_assert_eq(rc, 0, "children of %s: %d", path, rc);
    return n;
}

/* Sequence number of a claim node name (its last 10 digits). */
static long long seq_of(const char *name)
{
    size_t len = strlen(name);
    return len >= 10 ? atoll(name + len - 10) : -1;
}

/* Name of the lowest-sequence child (the owner) of a port node; NULL when none. */
static char *owner_of(const char *port_dir)
{
    char **names;
    int n = children(port_dir, &names);
    char *best = NULL;
    long long bs = 0;
    for (int i = 0; i < n; i++)
        if (!best || seq_of(names[i]) < bs) {
            best = names[i];
            bs = seq_of(names[i]);
        }
    char *r = best ? strdup(best) : NULL;
    pt_zkr_free_strings(names, n);
    return r;
}

typedef struct settle_arg {
    const char *dir;
} settle_arg;

static bool one_child(void *arg)
{
    return pt_zkr_nchildren(zr, ((settle_arg *)arg)->dir) == 1;
}

/* ------------------------------------------------------------------------ */
/* 1. 300 clients, 3 hosts, 100 ports of which one is busy on every host     */

typedef struct racer {
    portco_client *c;
    int agent;
    pthread_barrier_t *bar;
    int rc;
    portco_claim claim;
    portco_status st;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(r->bar);
    r->rc = acquire(r->c, "big", 0, &r->claim, &r->st);
    return NULL;
}

Test(cluster, three_hosts_300_clients_exactly_99_ports)
{
    int base = pt_cluster_port_run(true, POOLSZ);
    cr_assert_gt(base, 0);
    int held = base + 37;
    char yaml[512];
    snprintf(yaml, sizeof(yaml), "pools:\n  - name: big\n    range: %d-%d\n    scope: cluster\n",
             base, base + POOLSZ - 1);
    start_cluster(yaml);
    /* Without namespaces every agent shares the root namespace: one listener is on every host. */
    for (int i = 0; i < (cl.hosts ? NAGENTS : 1); i++)
        cr_assert_gt(pt_cluster_listen(&cl, i, held), 0, "listener on h%d", i);
    wait_pool_everywhere("big");

    static racer rs[NCLIENTS];
    static pthread_t th[NCLIENTS];
    pthread_barrier_t bar;
    cr_assert_eq(pthread_barrier_init(&bar, NULL, NCLIENTS), 0);
    memset(rs, 0, sizeof(rs));
    for (int k = 0; k < NCLIENTS; k++) {
        rs[k].agent = k % NAGENTS;
        rs[k].c = pt_cluster_client(&cl, rs[k].agent);
        rs[k].bar = &bar;
    }
    long long t0 = pt_now_ms();
    for (int k = 0; k < NCLIENTS; k++)
        cr_assert_eq(pthread_create(&th[k], NULL, race, &rs[k]), 0);
    for (int k = 0; k < NCLIENTS; k++)
        pthread_join(th[k], NULL);
    long long t1 = pt_now_ms();
    pthread_barrier_destroy(&bar);

    /* Exactly 99 grants, every other answer POOL_EXHAUSTED, no port twice. */
    static int granted_by[65536];
    memset(granted_by, -1, sizeof(granted_by));
    int grants = 0, exhausted = 0;
    for (int k = 0; k < NCLIENTS; k++) {
        if (rs[k].rc == 0) {
            int p = rs[k].claim.port;
            cr_assert(p >= base && p < base + POOLSZ, "port %d outside the pool", p);
            cr_assert_neq(p, held, "the port busy on every host was granted");
            cr_assert_eq(granted_by[p], -1, "port %d granted to clients %d and %d", p,
                         granted_by[p], k);
            cr_assert_str_eq(rs[k].claim.host, cl.agents[rs[k].agent].id);
            granted_by[p] = k;
            grants++;
        } else {
            cr_assert_eq(rs[k].rc, PORTCO_EEXHAUSTED, "client %d on h%d: %s: %s", k, rs[k].agent,
                         portco_err_name(rs[k].rc), rs[k].st.message);
            exhausted++;
        }
    }
    cr_log_info("300 acquires over 3 agents: %d granted, %d POOL_EXHAUSTED in %lld ms", grants,
                exhausted, t1 - t0);
    cr_assert_eq(grants, POOLSZ - 1);
    cr_assert_eq(exhausted, NCLIENTS - (POOLSZ - 1));

    /* ZooKeeper itself: the owned ports are exactly the granted ones, each with one claim
     * naming the granting host; the busy port has no claim. */
    char ports_dir[512];
    snprintf(ports_dir, sizeof(ports_dir), "%s/pools/big/ports", cl.root);
    char **names;
    int n = children(ports_dir, &names);
    int owned = 0;
    for (int i = 0; i < n; i++) {
        int p = atoi(names[i]);
        char dir[600];
        snprintf(dir, sizeof(dir), "%s/%s", ports_dir, names[i]);
        settle_arg sa = {dir};
        char *own = owner_of(dir);
        if (!own)
            continue; /* an empty port node left between a withdraw and its cleanup */
        owned++;
        cr_assert_neq(p, held, "a claim exists for the busy port");
        cr_assert(p >= base && p < base + POOLSZ && granted_by[p] >= 0,
                  "port %d is owned in ZooKeeper but was never granted", p);
        /* Withdrawn claims of losers are deleted before their agent answers. */
        cr_assert(pt_wait_until(one_child, &sa, 5000), "port %d keeps several claims", p);
        const racer *r = &rs[granted_by[p]];
        cr_assert_str_eq(own, r->claim.claim, "port %d: owner %s, granted claim %s", p, own,
                         r->claim.claim);
        char path[800], *data = NULL;
        int len = 0;
        struct Stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, own);
        cr_assert_eq(pt_zkr_get(zr, path, &data, &len, &st), 0);
        json_t *j = json_loads(data, 0, NULL);
        cr_assert_not_null(j, "claim data is not JSON: %s", data);
        cr_assert_str_eq(json_string_value(json_object_get(j, "host")) ?: "",
                         cl.agents[r->agent].id, "port %d: %s", p, data);
        cr_assert_eq((long long)st.czxid, (long long)r->claim.czxid);
        json_decref(j);
        free(data);
        free(own);
    }
    pt_zkr_free_strings(names, n);
    cr_assert_eq(owned, POOLSZ - 1);
    char held_dir[600];
    snprintf(held_dir, sizeof(held_dir), "%s/%d", ports_dir, held);
    n = children(held_dir, &names);
    pt_zkr_free_strings(names, n);
    cr_assert_eq(n, 0, "claim nodes exist for the busy port %d", held);

    for (int k = 0; k < NCLIENTS; k++)
        portco_close(rs[k].c);
}

/* ------------------------------------------------------------------------ */
/* 2. a port busy on one host only                                           */

Test(cluster, port_busy_on_one_host_goes_to_another)
{
    if (!pt_hosts_supported())
        cr_skip("needs network namespaces: a port busy on one host only");
    int base = pt_cluster_port_run(true, 10);
    int busy = base + 3;
    char yaml[512];
    snprintf(yaml, sizeof(yaml), "pools:\n  - name: small\n    range: %d-%d\n", base, base + 9);
    start_cluster(yaml);
    pid_t lpid = pt_cluster_listen(&cl, 0, busy);
    cr_assert_gt(lpid, 0);
    wait_pool_everywhere("small");

    portco_client *c0 = pt_cluster_client(&cl, 0);
    portco_claim claim;
    portco_status st;
    int rc = acquire(c0, "small", busy, &claim, &st);
    cr_assert_eq(rc, PORTCO_EUNUSABLE, "%s: %s", portco_err_name(rc), st.message);
    char owner[32];
    snprintf(owner, sizeof(owner), "pid %d", (int)lpid);
    cr_log_info("h0 refuses port %d: %s", busy, st.message);
    cr_assert(strstr(st.message, owner), "the reason does not name the listener (%s): %s", owner,
              st.message);

    int grants = 0;
    for (int i = 0; i < 20; i++) {
        rc = acquire(c0, "small", 0, &claim, &st);
        if (rc == PORTCO_EEXHAUSTED)
            break;
        cr_assert_eq(rc, 0, "%s: %s", portco_err_name(rc), st.message);
        cr_assert_neq(claim.port, busy, "h0 was given the port its listener holds");
        grants++;
    }
    cr_assert_eq(rc, PORTCO_EEXHAUSTED);
    cr_assert_eq(grants, 9);

    portco_client *c1 = pt_cluster_client(&cl, 1);
    rc = acquire(c1, "small", busy, &claim, &st);
    cr_assert_eq(rc, 0, "%s: %s", portco_err_name(rc), st.message);
    cr_assert_str_eq(claim.host, "h1");
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/pools/small/ports/%d", cl.root, busy);
    char *own = owner_of(dir);
    cr_assert_not_null(own);
    cr_assert_str_eq(own, claim.claim);
    free(own);
    portco_close(c1);
    portco_close(c0);
}

/* ------------------------------------------------------------------------ */
/* 3. host scope: one number on every host, once per host                    */

Test(cluster, host_scope_same_port_on_every_host_once_per_host)
{
    if (!pt_hosts_supported())
        cr_skip("needs network namespaces: host-scope ports on separate socket tables");
    int base = pt_cluster_port_run(true, 10);
    int x = base + 5;
    char yaml[512];
    snprintf(yaml, sizeof(yaml), "pools:\n  - name: hs\n    range: %d-%d\n    scope: host\n", base,
             base + 9);
    start_cluster(yaml);
    wait_pool_everywhere("hs");

    portco_client *c[NAGENTS];
    for (int i = 0; i < NAGENTS; i++) {
        c[i] = pt_cluster_client(&cl, i);
        portco_claim claim;
        portco_status st;
        int rc = acquire(c[i], "hs", x, &claim, &st);
        cr_assert_eq(rc, 0, "h%d: %s: %s", i, portco_err_name(rc), st.message);
        cr_assert_eq(claim.port, x);
        cr_assert_str_eq(claim.host, cl.agents[i].id);
        char dir[600];
        snprintf(dir, sizeof(dir), "%s/pools/hs/hosts/%s/ports/%d", cl.root, cl.agents[i].id, x);
        char *own = owner_of(dir);
        cr_assert_not_null(own, "no claim under %s", dir);
        cr_assert_str_eq(own, claim.claim);
        free(own);
    }

    /* A second ask on one host, from another connection: taken. */
    portco_client *again = pt_cluster_client(&cl, 0);
    portco_claim claim;
    portco_status st;
    int rc = acquire(again, "hs", x, &claim, &st);
    cr_assert_eq(rc, PORTCO_ETAKEN, "%s: %s", portco_err_name(rc), st.message);
    /* Any-port asks on that host get the other nine, never x again. */
    int grants = 0;
    for (int i = 0; i < 20; i++) {
        rc = acquire(again, "hs", 0, &claim, &st);
        if (rc == PORTCO_EEXHAUSTED)
            break;
        cr_assert_eq(rc, 0, "%s: %s", portco_err_name(rc), st.message);
        cr_assert_neq(claim.port, x, "port %d handed out twice on h0", x);
        grants++;
    }
    cr_assert_eq(grants, 9);
    portco_close(again);
    for (int i = 0; i < NAGENTS; i++)
        portco_close(c[i]);
}
