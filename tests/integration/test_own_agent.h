/* test_own_agent.h - one agent of the test's own, with its own root on the shared ZooKeeper. */
#ifndef PT_TEST_OWN_AGENT_H
#define PT_TEST_OWN_AGENT_H

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portco.h"
#include "support.h"
#include "zkread.h"

typedef struct pt_agent {
    char *dir;
    char sock[108];
    char root[128];
    char host[64];
    char log[600];
    pid_t pid;
    pt_zkr *zk;
    int base; /* pool "web" is base..base+19; base+20..base+24 are free for more */
} pt_agent;

static pt_agent A;

static inline void pt_publish_pool(pt_agent *a, const char *name, int lo, int hi)
{
    pt_pool_def d = {.name = name, .lo = lo, .hi = hi, .address = "127.0.0.1"};
    int rc = pt_zkr_publish_pool(a->zk, a->root, &d);
    cr_assert_eq(rc, 0, "publish pool %s: %d", name, rc);
}

/* True once the agent answers a list of pool "web". */
static inline bool pt_agent_ready(void *arg)
{
    pt_agent *a = arg;
    portco_client *c;
    if (portco_connect(a->sock, &c, NULL) != 0)
        return false;
    portco_claim *cls = NULL;
    size_t n = 0;
    int rc = portco_list(c, "web", &cls, &n, NULL);
    free(cls);
    portco_close(c);
    return rc == 0;
}

/*
 * Start A: a temp dir, a ZooKeeper root of its own named after `tag`, pool
 * "web" and what `publish` adds (NULL: nothing), then the agent, ready once
 * it serves pool "web".
 */
static inline void pt_agent_start_with(const char *tag, void (*publish)(pt_agent *a))
{
    pt_agent *a = &A;
    memset(a, 0, sizeof(*a));
    a->pid = -1;
    const char *zk = pt_zk_shared();
    cr_assert_not_null(zk, "no shared ZooKeeper: run through ctest (fixture zk)");
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "pt-%s", tag);
    a->dir = pt_tmpdir(prefix);
    cr_assert_not_null(a->dir);
    pt_unique_root(tag, a->root, sizeof(a->root));
    snprintf(a->host, sizeof(a->host), "h-%s-%d", tag, (int)getpid());
    snprintf(a->sock, sizeof(a->sock), "%s/a.sock", a->dir);
    snprintf(a->log, sizeof(a->log), "%s/agent.log", a->dir);
    cr_assert_eq(pt_zkr_connect(&a->zk, zk, 10000, 10000), 0);
    /* Above the kernel's default ephemeral range, spread by pid. */
    a->base = 61000 + (int)(getpid() % 180) * 25;
    pt_publish_pool(a, "web", a->base, a->base + 19);
    if (publish)
        publish(a);

    char cfg[600];
    snprintf(cfg, sizeof(cfg), "%s/agent.yaml", a->dir);
    FILE *f = fopen(cfg, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "zookeeper: \"%s\"\nhost_id: %s\nsocket: %s\nroot: %s\nsession_timeout_ms: 4000\n"
            "state_file: \"\"\nmetrics_listen: \"\"\n",
            zk, a->host, a->sock, a->root);
    fclose(f);
    char bin[600];
    pt_bin("portco-agent", bin, sizeof(bin));
    char *argv[] = {bin, "--config", cfg, NULL};
    /* The file names ZooKeeper: a $PORTCO_ZK of the caller's would win over it. */
    char *env[] = {"PORTCO_ZK=", NULL};
    a->pid = pt_spawn(argv, env, a->log, a->log);
    cr_assert_gt(a->pid, 0, "spawn %s: %d", bin, (int)a->pid);
    cr_assert(pt_wait_unix_socket(a->sock, 20000), "agent socket %s never answered (log %s)",
              a->sock, a->log);
    cr_assert(pt_wait_until(pt_agent_ready, a, 20000), "agent never served pool web (log %s)",
              a->log);
}

static inline void pt_agent_stop(void)
{
    pt_agent *a = &A;
    if (a->pid > 0)
        pt_stop_pid(a->pid, SIGTERM, 10000);
    if (a->zk) {
        pt_zkr_delete_tree(a->zk, a->root);
        pt_zkr_close(a->zk);
    }
    if (a->dir) {
        pt_rmtree(a->dir);
        free(a->dir);
    }
    memset(a, 0, sizeof(*a));
}

#endif
