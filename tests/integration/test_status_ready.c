/* test_status_ready.c - `portco status` and /v1/status tell whether the agent can serve claims. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h"
#include "zkread.h"

/*
 * An agent can serve claims when it is connected to ZooKeeper and has read
 * the pools. `portco status` prints the status either way and exits 0 only
 * then; /v1/status answers the same JSON with 200 only then, else 503. The
 * outage test runs a ZooKeeper of its own, killed and restarted by pid
 * through deploy/zk/zk-harness.
 */

static struct {
    char *dir;
    pid_t agents[4];
    int nagents;
    pt_zk zk;
    bool zk_started;
} S;

static void setup(void)
{
    memset(&S, 0, sizeof(S));
    S.dir = pt_tmpdir("pt-ready");
    cr_assert_not_null(S.dir);
}

static void teardown(void)
{
    for (int i = 0; i < S.nagents; i++)
        pt_stop_pid(S.agents[i], SIGTERM, 10000);
    if (S.zk_started)
        pt_zk_stop(&S.zk);
    if (S.dir) {
        pt_rmtree(S.dir);
        free(S.dir);
    }
    memset(&S, 0, sizeof(S));
}

TestSuite(status_ready, .init = setup, .fini = teardown, .timeout = 180);

typedef struct agent {
    char sock[300];
    char log[300];
    char url[64]; /* http://127.0.0.1:P/v1/status */
    pid_t pid;
} agent;

/* Start an agent with its HTTP endpoints on a free loopback port. */
static void agent_start(agent *a, const char *host, const char *zk, const char *root,
                        const char *state_file)
{
    char bin[512], listen[64];
    pt_bin("portco-agent", bin, sizeof(bin));
    int port = pt_free_port();
    cr_assert_gt(port, 0);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(a->url, sizeof(a->url), "127.0.0.1:%d", port);
    snprintf(a->sock, sizeof(a->sock), "%s/%s.sock", S.dir, host);
    snprintf(a->log, sizeof(a->log), "%s/%s.log", S.dir, host);
    char *argv[] = {bin,
                    "--zk",
                    (char *)zk,
                    "--root",
                    (char *)root,
                    "--host-id",
                    (char *)host,
                    "--socket",
                    a->sock,
                    "--session-timeout",
                    "20000",
                    "--state-file",
                    (char *)state_file,
                    "--metrics-listen",
                    listen,
                    "--log-level",
                    "debug",
                    NULL};
    a->pid = pt_spawn(argv, NULL, a->log, a->log);
    cr_assert_gt(a->pid, 0);
    S.agents[S.nagents++] = a->pid;
    cr_assert(pt_wait_unix_socket(a->sock, 20000), "agent %s: no socket (log %s)", host, a->log);
}

/* GET /v1/status over plain HTTP/1.0: the status code (or -errno), the body into body. */
static int http_status(const agent *a, char *body, size_t len)
{
    int port = atoi(strchr(a->url, ':') + 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    const char req[] = "GET /v1/status HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1)) {
        int e = errno;
        close(fd);
        return -e;
    }
    char resp[16384];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(resp) - 1 && (n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0)) > 0)
        got += (size_t)n;
    close(fd);
    resp[got] = '\0';
    int code = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1)
        return -EPROTO;
    const char *b = strstr(resp, "\r\n\r\n");
    snprintf(body, len, "%s", b ? b + 4 : "");
    return code;
}

/* `portco status --json`: exit status; out and err owned. */
static int cli_status(const agent *a, char **out, char **err)
{
    char bin[512];
    pt_bin("portco", bin, sizeof(bin));
    char *argv[] = {bin, "--socket", (char *)a->sock, "status", "--json", NULL};
    int st = -1;
    cr_assert_eq(pt_run(argv, NULL, 20000, out, err, &st), 0);
    return st;
}

typedef struct want_exit {
    const agent *a;
    int exit;
    const char *zk; /* the "zookeeper" field wanted, or NULL */
} want_exit;

static bool status_is(void *arg)
{
    want_exit *w = arg;
    char *out = NULL, *err = NULL;
    int st = cli_status(w->a, &out, &err);
    json_t *v = json_loads(out ? out : "", 0, NULL);
    const char *zk = json_string_value(json_object_get(v, "zookeeper"));
    bool ok = st == w->exit && (!w->zk || (zk && strcmp(zk, w->zk) == 0));
    json_decref(v);
    free(out);
    free(err);
    return ok;
}

static void wait_status(const agent *a, int exit, const char *zk)
{
    want_exit w = {a, exit, zk};
    cr_assert(pt_wait_until(status_is, &w, 30000), "portco status never exited %d (zookeeper %s)",
              exit, zk ? zk : "-");
}

/* /v1/status answers `code`, and its body is the status JSON with "zookeeper" = zk. */
static void expect_http(const agent *a, int code, const char *zk)
{
    char body[8192];
    int got = http_status(a, body, sizeof(body));
    cr_assert_eq(got, code, "/v1/status: %d, body %s", got, body);
    json_t *v = json_loads(body, 0, NULL);
    cr_assert(json_is_object(v), "/v1/status body is not JSON: %s", body);
    cr_assert_str_eq(json_string_value(json_object_get(v, "zookeeper")), zk);
    json_decref(v);
}

static bool log_has(const agent *a, const char *needle)
{
    char *buf = calloc(1, 1 << 18);
    cr_assert_not_null(buf);
    pt_read_file(a->log, buf, 1 << 18);
    bool yes = strstr(buf, needle) != NULL;
    free(buf);
    return yes;
}

Test(status_ready, not_ready_until_the_pools_are_read)
{
    const char *zk = pt_zk_shared();
    cr_assert_not_null(zk, "no shared ZooKeeper: run through ctest (fixture zk)");
    char root[128];
    pt_unique_root("ready", root, sizeof(root));
    agent a;
    agent_start(&a, "h-nopools", zk, root, "");
    /* Nothing is published under the root: connected, but not ready. */
    wait_status(&a, 1, "connected");
    char *out, *err;
    cr_assert_eq(cli_status(&a, &out, &err), 1);
    cr_assert_not_null(strstr(err, "portco: NOT_READY: "), "stderr: %s", err);
    json_t *v = json_loads(out, 0, NULL);
    cr_assert(json_is_false(json_object_get(v, "ready")), "the status is printed: %s", out);
    json_decref(v);
    free(out);
    free(err);
    expect_http(&a, 503, "connected");

    pt_zkr *z;
    cr_assert_eq(pt_zkr_connect(&z, zk, 10000, 10000), 0);
    pt_pool_def d = {.name = "web", .lo = 24300, .hi = 24309, .address = "127.0.0.1"};
    cr_assert_eq(pt_zkr_publish_pool(z, root, &d), 0);
    wait_status(&a, 0, "connected");
    expect_http(&a, 200, "connected");
    pt_zkr_delete_tree(z, root);
    pt_zkr_close(z);
}

Test(status_ready, zookeeper_outage_is_not_ready_and_logged_at_warn)
{
    cr_assert_eq(pt_zk_start(&S.zk, 1), 0);
    S.zk_started = true;
    char root[128], state[400];
    pt_unique_root("outage", root, sizeof(root));
    pt_zkr *z;
    cr_assert_eq(pt_zkr_connect(&z, S.zk.connect, 10000, 10000), 0);
    pt_pool_def d = {.name = "web", .lo = 24310, .hi = 24319, .address = "127.0.0.1"};
    cr_assert_eq(pt_zkr_publish_pool(z, root, &d), 0);
    pt_zkr_close(z);
    /* A state file in a directory that does not exist: said at warn level. */
    snprintf(state, sizeof(state), "%s/no-such-dir/agent.state", S.dir);
    agent a;
    agent_start(&a, "h-outage", S.zk.connect, root, state);
    wait_status(&a, 0, "connected");
    expect_http(&a, 200, "connected");
    cr_assert(log_has(&a, " warn: no directory "), "the missing state directory: log %s", a.log);

    int node = 0;
    cr_assert_eq(pt_zk_kill(&S.zk, "1", &node), 0);
    wait_status(&a, 1, "connecting");
    char *out, *err;
    cr_assert_eq(cli_status(&a, &out, &err), 1);
    cr_assert_not_null(strstr(err, "portco: ZK_UNAVAILABLE: "), "stderr: %s", err);
    cr_assert_not_null(strstr(err, "not connected to ZooKeeper (connecting)"), "stderr: %s", err);
    cr_assert_not_null(strstr(out, "\"host\": \"h-outage\""), "the status is printed: %s", out);
    free(out);
    free(err);
    expect_http(&a, 503, "connecting");
    cr_assert(log_has(&a, " warn: zookeeper connection lost"), "the outage at warn: log %s", a.log);

    cr_assert_eq(pt_zk_restart(&S.zk, node), 0);
    wait_status(&a, 0, "connected");
    expect_http(&a, 200, "connected");
}
