/* test_agent_util.h - helpers of the agent integration tests: fixture, agent processes, a protocol
 * client. */
#ifndef PT_TEST_AGENT_UTIL_H
#define PT_TEST_AGENT_UTIL_H
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "message.h"
#include "support.h"
#include "zkpath.h"
#include "zkread.h"
#include "zksync.h"

/* ------------------------------------------------------------------------ */
/* fixture: a ZooKeeper root, a session to inspect it, one agent            */

typedef struct pt_agent {
    pid_t pid;
    char sock[600];
    char log[600];
} pt_agent;

static char pt_root[256];
static char *pt_dir;
static pc_zks *pt_zs;
static const char *pt_zkc;
static int pt_base; /* first port of this test's pools */
/* Agents started by the running test, stopped by pid in the teardown even
 * when an assertion ended the test early. */
static pid_t pt_agents[8];

/* Per-test setup against the ZooKeeper at `connect`. */
static inline void pt_setup_on(const char *connect)
{
    pt_zkc = connect;
    cr_assert_not_null(pt_zkc, "the ctest zk fixture is required");
    pt_unique_root("agent", pt_root, sizeof(pt_root));
    pt_dir = pt_tmpdir("pt-agent");
    cr_assert_not_null(pt_dir);
    pc_error err;
    cr_assert_eq(pc_zks_connect(pt_zkc, 10000, 10000, &pt_zs, &err), 0, "%s", err.msg);
    pt_base = pt_port_run(8);
    cr_assert_gt(pt_base, 0, "no run of %d free ports", 8);
}

static inline void pt_setup(void)
{
    pt_setup_on(pt_zk_shared());
}

static inline void pt_teardown(void)
{
    for (size_t i = 0; i < sizeof(pt_agents) / sizeof(pt_agents[0]); i++)
        if (pt_agents[i] > 0) {
            pt_stop_pid(pt_agents[i], SIGTERM, 10000);
            pt_agents[i] = 0;
        }
    if (pt_zs) {
        pc_zks_delete_tree(pt_zs, pt_root, NULL);
        pc_zks_close(pt_zs);
        pt_zs = NULL;
    }
    if (pt_dir) {
        pt_rmtree(pt_dir);
        free(pt_dir);
        pt_dir = NULL;
    }
}

/* Publish a pool as the coordinator would. */
/* Publish a pool definition under this test's root. */
static inline void pt_publish_def(const pt_pool_def *d)
{
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s/config/pools", pt_root);
    pc_error err;
    cr_assert_eq(pc_zks_mkdirs(pt_zs, dir, &err), 0, "%s", err.msg);
    snprintf(path, sizeof(path), "%s/%s", dir, d->name);
    char *json = pt_pool_json(d);
    cr_assert_not_null(json);
    int rc = pc_zks_create(pt_zs, path, json, (int)strlen(json), 0, NULL, 0, &err);
    free(json);
    cr_assert_eq(rc, 0, "%s", err.msg);
}

static inline void pt_publish_pool(const char *name, int lo, int hi, const char *scope,
                                   const char *exclude)
{
    pt_pool_def d = {.name = name, .lo = lo, .hi = hi, .scope = scope, .exclude = exclude};
    pt_publish_def(&d);
}

static inline void pt_publish_static(const char *pool, int port, const char *service)
{
    char dir[512], path[600], json[256];
    snprintf(dir, sizeof(dir), "%s/config/static/%s", pt_root, pool);
    pc_error err;
    cr_assert_eq(pc_zks_mkdirs(pt_zs, dir, &err), 0, "%s", err.msg);
    snprintf(path, sizeof(path), "%s/%d", dir, port);
    snprintf(json, sizeof(json), "{\"service\":\"%s\"}", service);
    cr_assert_eq(pc_zks_create(pt_zs, path, json, (int)strlen(json), 0, NULL, 0, &err), 0, "%s",
                 err.msg);
}

static inline void pt_agent_wait_ready(const pt_agent *ag, bool need_pools);

static inline void pt_agent_start_opt(pt_agent *ag, const char *host, bool need_pools)
{
    char bin[512];
    pt_bin("portco-agent", bin, sizeof(bin));
    snprintf(ag->sock, sizeof(ag->sock), "%s/%s/agent.sock", pt_dir, host);
    snprintf(ag->log, sizeof(ag->log), "%s/%s.log", pt_dir, host);
    char *argv[] = {bin,         "--zk",        (char *)pt_zkc, "--root", pt_root,
                    "--host-id", (char *)host,  "--socket",     ag->sock, "--session-timeout",
                    "4000",      "--log-level", "debug",        NULL};
    ag->pid = pt_spawn(argv, NULL, NULL, ag->log);
    cr_assert_gt(ag->pid, 0);
    for (size_t i = 0; i < sizeof(pt_agents) / sizeof(pt_agents[0]); i++)
        if (pt_agents[i] <= 0) {
            pt_agents[i] = ag->pid;
            break;
        }
    cr_assert(pt_wait_unix_socket(ag->sock, 15000), "agent socket %s never came up", ag->sock);
    pt_agent_wait_ready(ag, need_pools);
}

static inline void pt_agent_start(pt_agent *ag, const char *host)
{
    pt_agent_start_opt(ag, host, true);
}

static inline void pt_forget_agent(pid_t pid)
{
    for (size_t i = 0; i < sizeof(pt_agents) / sizeof(pt_agents[0]); i++)
        if (pt_agents[i] == pid)
            pt_agents[i] = 0;
}

/* SIGTERM, and check the agent exits cleanly (status 0: under ASan that
 * also means no leak was reported). */
static inline void pt_agent_stop(pt_agent *ag)
{
    if (ag->pid > 0) {
        int st = -1;
        cr_assert_eq(kill(ag->pid, SIGTERM), 0);
        int rc = pt_wait_pid(ag->pid, 10000, &st);
        if (rc < 0)
            pt_stop_pid(ag->pid, SIGKILL, 5000);
        pt_forget_agent(ag->pid);
        ag->pid = 0;
        cr_assert_eq(rc, 0, "agent did not stop on SIGTERM");
        if (st != 0) {
            char *log = NULL;
            FILE *f = fopen(ag->log, "r");
            if (f) {
                log = calloc(1, 1 << 16);
                fread(log, 1, (1 << 16) - 1, f);
                fclose(f);
            }
            cr_assert_eq(st, 0, "agent exit status %d; log:\n%s", st, log ? log : "");
            free(log);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* a client connection speaking lib/proto                                   */

typedef struct pt_cli {
    int fd;
    pc_linebuf in;
    int64_t next_id;
} pt_cli;

static inline void pt_connect(pt_cli *c, const pt_agent *ag)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    cr_assert_lt(strlen(ag->sock), sizeof(sa.sun_path));
    memcpy(sa.sun_path, ag->sock, strlen(ag->sock) + 1);
    cr_assert_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
    pc_linebuf_init(&c->in, 0, 4);
    c->next_id = 1;
}

static inline void pt_close(pt_cli *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    pc_linebuf_free(&c->in);
}

static inline void pt_send_raw(pt_cli *c, const char *line)
{
    cr_assert_eq(pc_frame_send_all(c->fd, line, strlen(line), -1, 5000), 0);
}

/* Read the next answer (events skipped). Returns 1, 0 at EOF, -ETIMEDOUT. */
static inline int pt_read_answer(pt_cli *c, pc_answer *a, int timeout_ms)
{
    for (;;) {
        char *line;
        size_t len;
        int rc = pc_frame_read_line(&c->in, c->fd, timeout_ms, &line, &len);
        if (rc <= 0)
            return rc;
        pc_error err;
        cr_assert_eq(pc_answer_parse(line, len, a, &err), 0, "bad answer %s: %s", line, err.msg);
        if (!a->is_event)
            return 1;
        pc_answer_free(a);
    }
}

/* Send a request object (consumed), with v and id added, and wait for its answer. */
static inline void pt_call(pt_cli *c, json_t *req, pc_answer *a)
{
    int64_t id = c->next_id++;
    json_object_set_new(req, "v", json_integer(1));
    json_object_set_new(req, "id", json_integer(id));
    char *s = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char line[70000];
    snprintf(line, sizeof(line), "%s\n", s);
    free(s);
    pt_send_raw(c, line);
    cr_assert_eq(pt_read_answer(c, a, 20000), 1, "no answer to %s", line);
    cr_assert(a->has_id && a->id == id, "answer id %lld for request %lld", (long long)a->id,
              (long long)id);
}

static inline json_t *pt_acq_req(const char *pool, const char *service, int port)
{
    return json_pack("{s:s, s:s, s:s, s:i}", "op", "acquire", "pool", pool, "service", service,
                     "port", port);
}

/* The port an acquire's answer grants (its claim in *out), or its error code;
 * the answer is freed. */
static inline int pt_grant_of(pc_answer *a, portco_claim *out)
{
    int rc;
    if (a->ok) {
        portco_claim cl;
        cr_assert_eq(pc_claim_from_json(json_object_get(a->root, "claim"), &cl, NULL), 0);
        if (out)
            *out = cl;
        rc = cl.port;
    } else {
        rc = a->code;
    }
    pc_answer_free(a);
    return rc;
}

/* Acquire; returns the port, or the negative error code. */
static inline int pt_acquire(pt_cli *c, json_t *req, portco_claim *out)
{
    pc_answer a;
    pt_call(c, req, &a);
    return pt_grant_of(&a, out);
}

/* The answer to an acquire sent earlier (pt_send_acquire): as pt_acquire(). */
static inline int pt_read_grant(pt_cli *c, int timeout_ms, portco_claim *out)
{
    pc_answer a;
    cr_assert_eq(pt_read_answer(c, &a, timeout_ms), 1, "no answer within %d ms", timeout_ms);
    return pt_grant_of(&a, out);
}

static inline int pt_release(pt_cli *c, const char *pool, int port)
{
    pc_answer a;
    pt_call(c, json_pack("{s:s, s:s, s:i}", "op", "release", "pool", pool, "port", port), &a);
    int rc = a.ok ? 0 : a.code;
    pc_answer_free(&a);
    return rc;
}

static inline json_int_t pt_counter(pt_cli *c, const char *name)
{
    pc_answer a;
    pt_call(c, json_pack("{s:s}", "op", "status"), &a);
    cr_assert(a.ok);
    json_int_t v = json_integer_value(json_object_get(json_object_get(a.root, "counters"), name));
    pc_answer_free(&a);
    return v;
}

/* Poll `status` until the agent is connected (and has read the pools). */
static inline void pt_agent_wait_ready(const pt_agent *ag, bool need_pools)
{
    pt_cli c;
    pt_connect(&c, ag);
    long long end = pt_now_ms() + 15000;
    bool ok = false;
    while (!ok && pt_now_ms() < end) {
        pc_answer a;
        pt_call(&c, json_pack("{s:s}", "op", "status"), &a);
        const char *zk = json_string_value(json_object_get(a.root, "zookeeper"));
        ok = zk && strcmp(zk, "connected") == 0 &&
             (!need_pools || json_is_true(json_object_get(a.root, "ready")));
        pc_answer_free(&a);
        if (!ok)
            pt_nap_ms(20);
    }
    pt_close(&c);
    cr_assert(ok, "agent never became ready");
}

/* ------------------------------------------------------------------------ */
/* ZooKeeper inspection                                                     */

static inline void pt_port_dir(char *buf, size_t len, const char *pool, const char *host, int port)
{
    cr_assert_eq(pc_zkp_port_dir(buf, len, pt_root, pool, host, port), 0);
}

/* Number of children of a port node; -1 when the port node does not exist. */
static inline int pt_nclaims(const char *pool, const char *host, int port)
{
    char dir[600];
    pt_port_dir(dir, sizeof(dir), pool, host, port);
    struct String_vector sv;
    int rc = pc_zks_get_children(pt_zs, dir, &sv, NULL, NULL);
    if (rc == -ENOENT)
        return -1;
    cr_assert_eq(rc, 0);
    int n = sv.count;
    deallocate_String_vector(&sv);
    return n;
}

/* Send an acquire of `port` that may wait; its answer is read later. */
static inline void pt_send_acquire(pt_cli *c, const char *pool, int port, int wait_ms)
{
    char line[256];
    snprintf(line, sizeof(line),
             "{\"v\":1,\"id\":%lld,\"op\":\"acquire\",\"pool\":\"%s\",\"service\":\"w\","
             "\"port\":%d,\"wait_ms\":%d}\n",
             (long long)c->next_id++, pool, port, wait_ms);
    pt_send_raw(c, line);
}

/* Wait until the agent has n claim nodes on the port (waiters included). */
static inline void pt_wait_nclaims(const char *pool, int port, int n)
{
    long long end = pt_now_ms() + 10000;
    while (pt_nclaims(pool, NULL, port) != n && pt_now_ms() < end)
        pt_nap_ms(20);
    cr_assert_eq(pt_nclaims(pool, NULL, port), n);
}

typedef struct pt_gone_arg {
    const char *pool;
    int port;
} pt_gone_arg;

static inline bool pt_port_gone(void *arg)
{
    pt_gone_arg *g = arg;
    return pt_nclaims(g->pool, NULL, g->port) == -1;
}

static inline void pt_assert_released(const char *pool, int port)
{
    pt_gone_arg g = {pool, port};
    cr_assert(pt_wait_until(pt_port_gone, &g, 10000), "port node %s/%d still exists", pool, port);
}

#endif
