/* test_handoff.c - socket handoff end to end: portco run, the examples, a bind competitor. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "portco.h"
#include "support.h"
#include "zkread.h"

/*
 * Every test of the "handoff" suite gets the environment of fixture.h (its
 * own ZooKeeper root on the shared server, temp dir and free ports), two
 * pools published there by hand (no coordinator needed), and its own
 * portco-agent. Commands run exactly as docs/handoff.md shows them, with the
 * agent socket passed through --socket or $PORTCO_SOCKET.
 */

#define PT_POOL      "web" /* tcp, E.lo-E.hi */
#define PT_UDP_POOL  "dns" /* udp, the PT_UDP_SIZE ports after E.hi */
#define PT_POOL_SIZE 20    /* both pools together, from pt_base */
#define PT_UDP_SIZE  5
#define PT_HOST_ID   "handoff-host"

static struct {
    pt_agent agent;
    char env_sock[600]; /* "PORTCO_SOCKET=..." */
    int lo, hi;
} E;

static char pt_portco[512]; /* the CLI binary */

/* ---- small helpers ---- */

static void pt_path_in(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", pt_dir, name);
}

static const char *pt_example(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/examples/handoff/%s", pt_source_dir(), name);
    return buf;
}

/* Closes every inherited fd above 2 before exec'ing argv[1:], so the command
 * sees only what portco run itself passes on. */
static const char pt_closer[] =
    "import os,sys; os.closerange(3, 65536); os.execv(sys.argv[1], sys.argv[1:])";

typedef struct {
    char *v[40];
} pt_argv;

/*
 * Fill a with `portco --socket S run OPTS... -- CMD...` (both lists
 * NULL-terminated), behind the fd closer when `closer` is set; returns a->v.
 */
static char **pt_run_argv(pt_argv *a, bool closer, char *const *opts, char *const *cmd)
{
    int i = 0;
    if (closer) {
        a->v[i++] = "python3";
        a->v[i++] = "-c";
        a->v[i++] = (char *)pt_closer;
    }
    a->v[i++] = pt_portco;
    a->v[i++] = "--socket";
    a->v[i++] = E.agent.sock;
    a->v[i++] = "run";
    for (; *opts; opts++)
        a->v[i++] = *opts;
    a->v[i++] = "--";
    for (; *cmd; cmd++)
        a->v[i++] = *cmd;
    a->v[i] = NULL;
    return a->v;
}

#define PT_LIST(...) ((char *[]){__VA_ARGS__, NULL})

/* The number of claim nodes on a port of the tcp pool. */
static int pt_claims(int port)
{
    return pt_nclaims(PT_POOL, NULL, port);
}

static bool pt_claimed(void *arg)
{
    return pt_claims(*(int *)arg) > 0;
}

static bool pt_unclaimed(void *arg)
{
    return pt_claims(*(int *)arg) == 0;
}

/* The data of the port's only claim node (malloc'd). */
static char *pt_only_claim_data(int port)
{
    char dir[512], path[800];
    pt_port_dir(dir, sizeof(dir), PT_POOL, NULL, port);
    char **names = NULL;
    int n = 0;
    cr_assert_eq(pt_zkr_children(pt_z, dir, &names, &n, NULL), 0, "reading %s", dir);
    cr_assert_eq(n, 1, "%d claim nodes on port %d", n, port);
    snprintf(path, sizeof(path), "%s/%s", dir, names[0]);
    pt_zkr_free_strings(names, n);
    char *data = NULL;
    cr_assert_eq(pt_zkr_get(pt_z, path, &data, NULL, NULL), 0, "reading %s", path);
    return data;
}

/* The claim of `port` as `portco ls --pool web --json` prints it, or NULL. */
static json_t *pt_ls_find(int port)
{
    char *argv[] = {pt_portco, "--socket", E.agent.sock, "ls", "--pool", PT_POOL, "--json", NULL};
    char *out = NULL, *err = NULL;
    int status = -1;
    cr_assert_eq(pt_run(argv, NULL, 10000, &out, &err, &status), 0);
    cr_assert_eq(status, 0, "portco ls failed: %s", err);
    json_error_t je;
    json_t *arr = json_loads(out, 0, &je);
    cr_assert(json_is_array(arr), "portco ls --json printed: %s", out);
    json_t *found = NULL, *v;
    size_t i;
    json_array_foreach(arr, i, v)
    {
        if (json_integer_value(json_object_get(v, "port")) == port)
            found = json_incref(v);
    }
    json_decref(arr);
    free(out);
    free(err);
    return found;
}

/* Wait for the first line of a program's stdout file and parse it as JSON. */
typedef struct {
    const char *path;
    json_t *v;
} pt_line_wait;

static bool pt_json_line(void *arg)
{
    pt_line_wait *w = arg;
    char buf[4096];
    int fd = open(w->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *nl = strchr(buf, '\n');
    if (!nl)
        return false;
    *nl = '\0';
    w->v = json_loads(buf, 0, NULL);
    return w->v != NULL;
}

static json_t *pt_wait_json_line(const char *path, pid_t pid, const char *errfile)
{
    pt_line_wait w = {.path = path};
    if (!pt_wait_until(pt_json_line, &w, 20000)) {
        char err[4096] = "";
        pt_read_file(errfile, err, sizeof(err));
        cr_assert_fail("no ready line in %s (pid %d alive: %d); stderr: %s", path, (int)pid,
                       pt_pid_alive(pid), err);
    }
    return w.v;
}

/* A port of the pool that a plain bind on the wildcard can take right now. */
static int pt_free_pool_port(void)
{
    for (int p = E.lo; p <= E.hi; p++)
        if (pt_port_bindable(p))
            return p;
    cr_assert_fail("no free port in %d-%d", E.lo, E.hi);
    return -1;
}

/* Start `portco run ARGS -- CMD...` with stdout/stderr in the test dir. */
static pid_t pt_start_run(char *const argv[], char *out, char *err, size_t len, const char *tag)
{
    snprintf(out, len, "%s/%s.out", pt_dir, tag);
    snprintf(err, len, "%s/%s.err", pt_dir, tag);
    pid_t pid = pt_track(pt_spawn(argv, NULL, out, err));
    cr_assert_gt(pid, 0, "spawn %s: %d", argv[0], (int)pid);
    return pid;
}

static long pt_jint(json_t *o, const char *k)
{
    return (long)json_integer_value(json_object_get(o, k));
}

static const char *pt_jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- suite setup: ZooKeeper root with the pools, one agent ---- */

static void pt_handoff_setup(void)
{
    memset(&E, 0, sizeof(E));
    pt_bin("portco", pt_portco, sizeof(pt_portco));
    pt_setup();
    E.lo = pt_base;
    E.hi = E.lo + PT_POOL_SIZE - PT_UDP_SIZE - 1;
    pt_publish_def(&(pt_pool_def){.name = PT_POOL, .lo = E.lo, .hi = E.hi, .proto = "tcp"});
    pt_publish_def(&(pt_pool_def){
        .name = PT_UDP_POOL, .lo = E.hi + 1, .hi = E.hi + PT_UDP_SIZE, .proto = "udp"});
    pt_start_agent(&E.agent, PT_HOST_ID);
    snprintf(E.env_sock, sizeof(E.env_sock), "PORTCO_SOCKET=%s", E.agent.sock);
}

TestSuite(handoff, .init = pt_handoff_setup, .fini = pt_teardown, .timeout = 120);

/* ---- portco run with the Python server of the docs ---- */

/* docs/handoff.md: portco run --pool web --service hello -- python3 examples/handoff/serve_fd3.py
 */
static pid_t pt_start_serve_fd3(char *out, char *err, size_t len, json_t **ready, const char *tag)
{
    char script[512];
    pt_example("serve_fd3.py", script, sizeof(script));
    pt_argv a;
    char **argv = pt_run_argv(&a, false, PT_LIST("--pool", PT_POOL, "--service", "hello"),
                              PT_LIST("python3", script));
    pid_t pid = pt_start_run(argv, out, err, len, tag);
    *ready = pt_wait_json_line(out, pid, err);
    return pid;
}

Test(handoff, run_serves_http_and_the_claim_lives_exactly_as_long)
{
    char out[700], err[700];
    json_t *ready;
    pid_t run = pt_start_serve_fd3(out, err, sizeof(out), &ready, "serve");
    int port = (int)pt_jint(ready, "port");
    pid_t server = (pid_t)pt_jint(ready, "pid");
    cr_assert(port >= E.lo && port <= E.hi, "port %d outside the pool %d-%d", port, E.lo, E.hi);
    cr_assert_str_eq(pt_jstr(ready, "name"), "hello", "LISTEN_FDNAMES is the service");

    char body[4096];
    cr_assert_eq(pt_http_get(port, "/ping", body, sizeof(body)), 200);
    json_t *b = json_loads(body, 0, NULL);
    cr_assert(b, "body: %s", body);
    cr_assert_eq(pt_jint(b, "port"), port);
    cr_assert_eq(pt_jint(b, "pid"), server);
    cr_assert_str_eq(pt_jstr(b, "path"), "/ping");
    json_decref(b);

    /* Visible in ZooKeeper and in portco ls while it runs. */
    char *data = pt_only_claim_data(port);
    json_t *cd = json_loads(data, 0, NULL);
    cr_assert(cd, "claim data: %s", data);
    cr_assert_str_eq(pt_jstr(cd, "service"), "hello");
    cr_assert_str_eq(pt_jstr(cd, "host"), PT_HOST_ID);
    json_decref(cd);
    free(data);
    json_t *ls = pt_ls_find(port);
    cr_assert(ls, "port %d missing from portco ls", port);
    cr_assert_str_eq(pt_jstr(ls, "service"), "hello");
    json_decref(ls);

    /* SIGTERM to portco run reaches the server, which stops cleanly: exit 0. */
    cr_assert_eq(kill(run, SIGTERM), 0);
    int status = -1;
    cr_assert_eq(pt_wait_pid(run, 10000, &status), 0);
    cr_assert_eq(status, 0, "portco run exited %d", status);
    cr_assert_not(pt_pid_alive(server));
    cr_assert(pt_wait_until(pt_unclaimed, &port, 10000), "claim left in ZooKeeper");
    cr_assert_null(pt_ls_find(port), "claim still listed by portco ls");
    json_decref(ready);
}

Test(handoff, claim_ends_when_the_server_is_killed)
{
    char out[700], err[700];
    json_t *ready;
    pid_t run = pt_start_serve_fd3(out, err, sizeof(out), &ready, "killed");
    int port = (int)pt_jint(ready, "port");
    pid_t server = (pid_t)pt_jint(ready, "pid");
    cr_assert(pt_wait_until(pt_claimed, &port, 5000));

    cr_assert_eq(kill(server, SIGKILL), 0);
    int status = -1;
    cr_assert_eq(pt_wait_pid(run, 10000, &status), 0);
    cr_assert_eq(status, 128 + SIGKILL, "portco run exited %d", status);
    cr_assert(pt_wait_until(pt_unclaimed, &port, 10000), "claim left in ZooKeeper");
    cr_assert_null(pt_ls_find(port));
    json_decref(ready);
}

Test(handoff, claim_follows_the_server_when_portco_run_itself_is_killed)
{
    char out[700], err[700];
    json_t *ready;
    pid_t run = pt_start_serve_fd3(out, err, sizeof(out), &ready, "orphan");
    int port = (int)pt_jint(ready, "port");
    pid_t server = pt_track((pid_t)pt_jint(ready, "pid"));

    int status;
    cr_assert_eq(kill(run, SIGKILL), 0);
    cr_assert_eq(pt_wait_pid(run, 10000, &status), 0);
    /* The claim is bound to the server's pid, not to portco run's connection. */
    char body[4096];
    cr_assert_eq(pt_http_get(port, "/", body, sizeof(body)), 200);
    cr_assert_eq(pt_claims(port), 1, "claim ended with portco run, not with the server");

    cr_assert_eq(kill(server, SIGTERM), 0); /* not our child any more: poll for its end */
    long long deadline = pt_now_ms() + 10000;
    while (pt_pid_alive(server) && pt_now_ms() < deadline)
        pt_nap_ms(10);
    cr_assert_not(pt_pid_alive(server));
    cr_assert(pt_wait_until(pt_unclaimed, &port, 10000),
              "the agent did not end the pid-bound claim when the server exited");
    json_decref(ready);
}

/* ---- the race: a competitor hammering bind() on the port during the handoff ---- */

enum { PT_KINDS = 6 };
static const char *const pt_kind_name[PT_KINDS] = {
    "0.0.0.0 plain",          "0.0.0.0 SO_REUSEADDR",  "127.0.0.1 plain",
    "127.0.0.1 SO_REUSEADDR", "[::] dual-stack plain", "[::] dual-stack SO_REUSEADDR"};

typedef struct {
    long attempts[PT_KINDS];
    long wins[PT_KINDS];
    long long first_win_us, last_win_us; /* after the start signal; -1: no win */
} pt_compete_result;

static long long pt_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One bind attempt; 1 = the competitor got the port, 0 = refused, -1 = not attempted. */
static int pt_compete_once(int kind, int port)
{
    bool v6 = kind >= 4;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    if (kind & 1)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int rc;
    if (v6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        struct sockaddr_in6 sa = {
            .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_any};
        rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    } else {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(kind < 2 ? INADDR_ANY : INADDR_LOOPBACK);
        rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    }
    int e = errno;
    close(fd);
    if (rc == 0)
        return 1;
    return e == EADDRINUSE ? 0 : -1;
}

/*
 * Fork a competitor: it waits for a byte on `go`, then binds in a loop
 * (every kind in turn) until `go` is closed, and writes its counts to `res`.
 * It has its own 60 s bound so it never outlives a broken test for long.
 */
static pid_t pt_start_competitor(int port, int *go_w, int *res_r)
{
    int go[2], res[2];
    cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(res, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(go[1]);
        close(res[0]);
        char b;
        if (read(go[0], &b, 1) != 1)
            _exit(1);
        pt_compete_result r;
        memset(&r, 0, sizeof(r));
        r.first_win_us = r.last_win_us = -1;
        long long start = pt_now_us(), end = pt_now_ms() + 60000;
        for (unsigned round = 0;; round++) {
            for (int k = 0; k < PT_KINDS; k++) {
                int w = pt_compete_once(k, port);
                if (w >= 0) {
                    r.attempts[k]++;
                    r.wins[k] += w;
                }
                if (w == 1) {
                    r.last_win_us = pt_now_us() - start;
                    if (r.first_win_us < 0)
                        r.first_win_us = r.last_win_us;
                }
            }
            if (round % 16 == 0) {
                struct pollfd p = {.fd = go[0], .events = POLLIN};
                if (poll(&p, 1, 0) != 0 || pt_now_ms() > end)
                    break;
            }
        }
        ssize_t n = write(res[1], &r, sizeof(r));
        _exit(n == (ssize_t)sizeof(r) ? 0 : 1);
    }
    close(go[0]);
    close(res[1]);
    *go_w = go[1];
    *res_r = res[0];
    return pid;
}

Test(handoff, competitor_never_binds_the_port_during_the_handoff)
{
    int port = pt_free_pool_port();
    int go, res;
    pid_t comp = pt_track(pt_start_competitor(port, &go, &res));

    char script[512], portarg[16], out[700], err[700];
    pt_example("serve_fd3.py", script, sizeof(script));
    snprintf(portarg, sizeof(portarg), "%d", port);
    pt_argv a;
    char **argv =
        pt_run_argv(&a, false, PT_LIST("--pool", PT_POOL, "--service", "hello", "--port", portarg),
                    PT_LIST("python3", script));
    pid_t run = pt_start_run(argv, out, err, sizeof(out), "race");

    /* Start the competitor the moment the claim exists: from then on the port
     * must stay out of its reach, through the agent, portco run, the fork, the
     * exec and Python's start-up, until the server answers. */
    long long deadline = pt_now_ms() + 15000;
    while (pt_claims(port) == 0 && pt_now_ms() < deadline)
        pt_nap_ms(1);
    cr_assert_gt(pt_claims(port), 0, "no claim on port %d", port);
    cr_assert_eq(write(go, "g", 1), 1);
    long long go_us = pt_now_us();

    json_t *ready = pt_wait_json_line(out, run, err);
    cr_log_info("server ready within %lld us of the start signal", pt_now_us() - go_us);
    cr_assert_eq(pt_jint(ready, "port"), port);
    char body[4096];
    for (int i = 0; i < 20; i++) /* and while it serves */
        cr_assert_eq(pt_http_get(port, "/", body, sizeof(body)), 200);

    close(go);
    pt_compete_result r;
    cr_assert_eq(read(res, &r, sizeof(r)), (ssize_t)sizeof(r));
    close(res);
    int cst;
    cr_assert_eq(pt_wait_pid(comp, 10000, &cst), 0);
    if (r.first_win_us >= 0)
        cr_log_error("competitor won from %lld us to %lld us after the start signal",
                     r.first_win_us, r.last_win_us);
    long total = 0;
    for (int k = 0; k < PT_KINDS; k++) {
        cr_log_info("competitor %-28s attempts %ld wins %ld", pt_kind_name[k], r.attempts[k],
                    r.wins[k]);
        total += r.attempts[k];
        cr_expect_eq(r.wins[k], 0, "competitor (%s) bound port %d %ld times", pt_kind_name[k], port,
                     r.wins[k]);
    }
    cr_assert_gt(r.attempts[0], 0);
    cr_assert_gt(r.attempts[1], 0, "no SO_REUSEADDR attempts");
    cr_assert_gt(total, 0);

    cr_assert_eq(kill(run, SIGTERM), 0);
    int status;
    cr_assert_eq(pt_wait_pid(run, 10000, &status), 0);
    cr_assert_eq(status, 0);
    json_decref(ready);
}

/* ---- the contract with the command: fd 3, variables, exit status ---- */

static const char pt_env_probe[] =
    "import json, os, socket, subprocess, sys\n"
    "fds = []\n"
    "for fd in range(64):\n"
    "    try:\n"
    "        os.fstat(fd); fds.append(fd)\n"
    "    except OSError:\n"
    "        pass\n"
    "s = socket.socket(fileno=3)\n"
    "port = s.getsockname()[1]\n"
    "ss = subprocess.run(['ss', '-Hltn', 'sport = :%d' % port], capture_output=True, text=True)\n"
    "keys = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES', 'PORT', 'PORTCO_PORT', 'PORTCO_POOL',\n"
    "        'PORTCO_HOST', 'PORTCO_CLAIM', 'PORTCO_ADDRESS']\n"
    "print(json.dumps({'pid': os.getpid(), 'env': {k: os.environ.get(k) for k in keys},\n"
    "    'fds': fds, 'port': port, 'addr': s.getsockname()[0], 'type': int(s.type),\n"
    "    'listening': s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN),\n"
    "    'reuseaddr': s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR),\n"
    "    'blocking': s.getblocking(), 'ss': ss.stdout}), flush=True)\n"
    "sys.exit(7)\n";

/* Run the probe under portco run with extra options; returns its JSON and exit status. */
static json_t *pt_run_env_probe(char *const *opts, int *status)
{
    pt_argv a;
    char **argv = pt_run_argv(&a, true, opts, PT_LIST("python3", "-c", (char *)pt_env_probe));
    char *out = NULL, *err = NULL;
    cr_assert_eq(pt_run(argv, NULL, 20000, &out, &err, status), 0);
    json_t *v = json_loads(out, 0, NULL);
    cr_assert(v, "probe printed: %s; stderr: %s", out, err);
    free(out);
    free(err);
    return v;
}

Test(handoff, command_gets_fd3_the_systemd_variables_and_nothing_else)
{
    int status = -1;
    json_t *v = pt_run_env_probe(PT_LIST("--pool", PT_POOL, "--service", "probe", "--backlog", "7"),
                                 &status);
    cr_assert_eq(status, 7, "portco run passes the command's exit status on");
    json_t *env = json_object_get(v, "env");
    char pid[32], port[16];
    snprintf(pid, sizeof(pid), "%ld", pt_jint(v, "pid"));
    snprintf(port, sizeof(port), "%ld", pt_jint(v, "port"));
    cr_assert_str_eq(pt_jstr(env, "LISTEN_PID"), pid, "LISTEN_PID is the command's own pid");
    cr_assert_str_eq(pt_jstr(env, "LISTEN_FDS"), "1");
    cr_assert_str_eq(pt_jstr(env, "LISTEN_FDNAMES"), "probe");
    cr_assert_str_eq(pt_jstr(env, "PORT"), port, "PORT is the port fd 3 is bound to");
    cr_assert_str_eq(pt_jstr(env, "PORTCO_PORT"), port);
    cr_assert_str_eq(pt_jstr(env, "PORTCO_POOL"), PT_POOL);
    cr_assert_str_eq(pt_jstr(env, "PORTCO_HOST"), PT_HOST_ID);
    cr_assert_str_eq(pt_jstr(env, "PORTCO_ADDRESS"), "0.0.0.0");
    cr_assert_str_eq(pt_jstr(v, "addr"), "0.0.0.0");
    const char *claim = pt_jstr(env, "PORTCO_CLAIM");
    cr_assert(strncmp(claim, "_c_", 3) == 0 && strstr(claim, "-lock-"), "claim name '%s'", claim);
    cr_assert(pt_jint(v, "port") >= E.lo && pt_jint(v, "port") <= E.hi);
    cr_assert_eq(pt_jint(v, "type"), SOCK_STREAM);
    cr_assert(json_is_true(json_object_get(v, "blocking")), "fd 3 is handed over blocking");
    cr_assert_eq(pt_jint(v, "listening"), 1, "fd 3 already listens");
    /* ss -lt shows a listening socket's backlog in its Send-Q column. */
    const char *ss = pt_jstr(v, "ss");
    cr_assert(strstr(ss, " 7 "), "backlog 7 not applied: ss says '%s'", ss);

    /* fds 0-2 and 3, nothing else: no agent connection, no handoff pipe. */
    json_t *fds = json_object_get(v, "fds");
    cr_assert_eq(json_array_size(fds), 4, "open fds: %s", json_dumps(fds, 0));
    for (size_t k = 0; k < 4; k++)
        cr_assert_eq(json_integer_value(json_array_get(fds, k)), (json_int_t)k);
    int p = (int)pt_jint(v, "port");
    cr_assert(pt_wait_until(pt_unclaimed, &p, 10000), "claim outlived the command");
    json_decref(v);
}

Test(handoff, no_listen_hands_over_a_bound_socket_that_a_server_can_share)
{
    int status = -1;
    json_t *v =
        pt_run_env_probe(PT_LIST("--pool", PT_POOL, "--service", "probe", "--no-listen"), &status);
    cr_assert_eq(status, 7);
    cr_assert_eq(pt_jint(v, "type"), SOCK_STREAM);
    cr_assert_eq(pt_jint(v, "listening"), 0, "--no-listen: fd 3 is bound, not listening");
    cr_assert_eq(pt_jint(v, "reuseaddr"), 1,
                 "fd 3 needs SO_REUSEADDR so that a server binding $PORT itself can share it");
    json_decref(v);
}

Test(handoff, udp_pool_hands_over_a_bound_datagram_socket)
{
    /* docs/handoff.md: portco run --pool dns --service resolver -- CMD. A
     * datagram socket never listens, so --no-listen makes no difference. */
    for (int no_listen = 0; no_listen < 2; no_listen++) {
        int status = -1;
        json_t *v = pt_run_env_probe(
            no_listen ? PT_LIST("--pool", PT_UDP_POOL, "--service", "probe", "--no-listen")
                      : PT_LIST("--pool", PT_UDP_POOL, "--service", "probe"),
            &status);
        cr_assert_eq(status, 7, "with%s --no-listen", no_listen ? "" : "out");
        cr_assert_eq(pt_jint(v, "type"), SOCK_DGRAM);
        cr_assert_eq(pt_jint(v, "listening"), 0);
        long port = pt_jint(v, "port");
        cr_assert(port > E.hi && port <= E.hi + PT_UDP_SIZE, "port %ld outside the udp pool", port);
        char want[16];
        snprintf(want, sizeof(want), "%ld", port);
        cr_assert_str_eq(pt_jstr(json_object_get(v, "env"), "PORT"), want);
        json_decref(v);
    }
}

static const char pt_sig_probe[] =
    "import os, signal\n"
    "def h(n, f): os._exit(40 + n)\n"
    "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP): signal.signal(s, h)\n"
    "print('{\"ready\": true}', flush=True)\n"
    "while True: signal.pause()\n";

Test(handoff, sigterm_sigint_sighup_are_forwarded_and_the_exit_status_kept)
{
    const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < 3; i++) {
        char out[700], err[700], tag[16];
        snprintf(tag, sizeof(tag), "sig%d", sigs[i]);
        pt_argv a;
        char **argv = pt_run_argv(&a, false, PT_LIST("--pool", PT_POOL, "--service", "sig"),
                                  PT_LIST("python3", "-c", (char *)pt_sig_probe));
        pid_t run = pt_start_run(argv, out, err, sizeof(out), tag);
        json_decref(pt_wait_json_line(out, run, err));
        cr_assert_eq(kill(run, sigs[i]), 0);
        int status = -1;
        cr_assert_eq(pt_wait_pid(run, 10000, &status), 0);
        cr_assert_eq(status, 40 + sigs[i], "signal %d: portco run exited %d", sigs[i], status);
    }
}

/*
 * Ctrl-C on a terminal: the kernel sends SIGINT to the whole foreground
 * process group, so portco run must not forward it a second time. The driver
 * runs portco run on a pseudo-terminal and types ^C; the command counts the
 * SIGINTs it gets within 300 ms of the first and exits with 10 + count.
 */
static const char pt_tty_driver[] =
    "import os, pty, select, sys\n"
    "child = '''\n"
    "import os, signal\n"
    "n = 0\n"
    "def h(s, f):\n"
    "    global n\n"
    "    n += 1\n"
    "    if n == 1: signal.setitimer(signal.ITIMER_REAL, 0.3)\n"
    "signal.signal(signal.SIGINT, h)\n"
    "signal.signal(signal.SIGALRM, lambda s, f: os._exit(10 + n))\n"
    "print('ready', flush=True)\n"
    "while True: signal.pause()\n"
    "'''\n"
    "pid, fd = pty.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.argv[1], sys.argv[1:] + ['--', 'python3', '-c', child])\n"
    "buf = b''\n"
    "while b'ready' not in buf:\n"
    "    if not select.select([fd], [], [], 15)[0]: sys.exit(99)\n"
    "    buf += os.read(fd, 1024)\n"
    "os.write(fd, b'\\x03')\n"
    "sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n";

Test(handoff, ctrl_c_on_a_terminal_reaches_the_command_once)
{
    char *argv[] = {
        "python3", "-c",    (char *)pt_tty_driver, pt_portco, "--socket", E.agent.sock, "run",
        "--pool",  PT_POOL, "--service",           "tty",     NULL};
    char *err = NULL;
    int status = -1;
    cr_assert_eq(pt_run(argv, NULL, 20000, NULL, &err, &status), 0);
    cr_assert_eq(status, 11, "the command counted %d SIGINTs (exit %d); stderr: %s", status - 10,
                 status, err);
    free(err);
}

/* ---- failures: the command never runs without its claim ---- */

static void pt_expect_refused(const char *port, const char *pool, const char *code)
{
    char marker[600];
    pt_path_in(marker, sizeof(marker), "ran");
    char touch[700];
    snprintf(touch, sizeof(touch), "touch '%s'", marker);
    pt_argv a;
    char **argv = pt_run_argv(
        &a, false,
        port ? PT_LIST("--pool", (char *)pool, "--service", "late", "--port", (char *)port)
             : PT_LIST("--pool", (char *)pool, "--service", "late"),
        PT_LIST("sh", "-c", touch));
    char *err = NULL;
    int status = -1;
    cr_assert_eq(pt_run(argv, NULL, 20000, NULL, &err, &status), 0);
    cr_assert_eq(status, 1, "exit %d, stderr: %s", status, err);
    cr_assert(strstr(err, code), "stderr lacks %s: %s", code, err);
    cr_assert_neq(access(marker, F_OK), 0, "the command ran without a claim");
    free(err);
}

Test(handoff, refused_claims_exit_1_with_the_agent_error_and_do_not_run_the_command)
{
    pt_expect_refused(NULL, "nosuchpool", "NO_SUCH_POOL");
    char outside[16];
    snprintf(outside, sizeof(outside), "%d", E.hi + 1);
    pt_expect_refused(outside, PT_POOL, "PORT_OUT_OF_POOL");

    /* A port already held through portco run is refused to a second one. */
    char out[700], err[700], portarg[16];
    json_t *ready;
    pid_t run = pt_start_serve_fd3(out, err, sizeof(out), &ready, "holder");
    snprintf(portarg, sizeof(portarg), "%ld", pt_jint(ready, "port"));
    pt_expect_refused(portarg, PT_POOL, "PORT_TAKEN");
    cr_assert_eq(pt_stop_pid(run, SIGTERM, 10000), 0);
    json_decref(ready);
}

/* A portco run serving the port (serve_fd3.py as the holder), and a second
 * portco run for the same port queued behind it (--wait `wait`, running
 * `cmd` once granted) with its output in out2/err2: waiting, its claim node
 * behind the holder's. Returns the second's pid; *holder, *port and *ready
 * describe the first. */
static pid_t pt_queue_behind_holder(const char *wait, char *const *cmd, const char *tag, char *out2,
                                    char *err2, size_t len, pid_t *holder, int *port,
                                    json_t **ready)
{
    char out[700], err[700], holder_tag[32], portarg[16];
    snprintf(holder_tag, sizeof(holder_tag), "%s-holder", tag);
    *holder = pt_start_serve_fd3(out, err, sizeof(out), ready, holder_tag);
    *port = (int)pt_jint(*ready, "port");
    snprintf(portarg, sizeof(portarg), "%d", *port);
    pt_argv a;
    char **argv = pt_run_argv(
        &a, false,
        PT_LIST("--pool", PT_POOL, "--service", "next", "--port", portarg, "--wait", (char *)wait),
        cmd);
    pid_t second = pt_start_run(argv, out2, err2, len, tag);
    pt_wait_nclaims(PT_POOL, *port, 2);
    return second;
}

Test(handoff, wait_queues_for_a_held_port_and_runs_when_it_is_released)
{
    char out2[700], err2[700];
    pid_t first;
    int port;
    json_t *ready;
    pid_t second =
        pt_queue_behind_holder("30", PT_LIST("sh", "-c", "echo \"{\\\"port\\\": $PORT}\""),
                               "second", out2, err2, sizeof(out2), &first, &port, &ready);
    /* Queued, its command has not run. */
    char buf[256] = "";
    cr_assert_leq(pt_read_file(out2, buf, sizeof(buf)), 0, "ran while the port was held: %s", buf);

    cr_assert_eq(pt_stop_pid(first, SIGTERM, 10000), 0);
    json_t *got = pt_wait_json_line(out2, second, err2);
    cr_assert_eq(pt_jint(got, "port"), port);
    int status = -1;
    cr_assert_eq(pt_wait_pid(second, 10000, &status), 0);
    cr_assert_eq(status, 0);
    cr_assert(pt_wait_until(pt_unclaimed, &port, 10000));
    json_decref(got);
    json_decref(ready);
}

Test(handoff, a_signal_while_waiting_gives_up_without_running_the_command)
{
    char out2[700], err2[700];
    pid_t first;
    int port;
    json_t *ready;
    pid_t second = pt_queue_behind_holder("-1", PT_LIST("sh", "-c", "echo ran"), "waiter", out2,
                                          err2, sizeof(out2), &first, &port, &ready);

    cr_assert_eq(kill(second, SIGTERM), 0);
    int status = -1;
    cr_assert_eq(pt_wait_pid(second, 10000, &status), 0);
    cr_assert_eq(status, 128 + SIGTERM);
    char buf[256] = "";
    cr_assert_leq(pt_read_file(out2, buf, sizeof(buf)), 0, "the command ran: %s", buf);
    pt_wait_nclaims(PT_POOL, port, 1); /* the queued claim node is withdrawn */
    char body[4096];
    cr_assert_eq(pt_http_get(port, "/", body, sizeof(body)), 200, "the holder lost its port");
    cr_assert_eq(pt_stop_pid(first, SIGTERM, 10000), 0);
    json_decref(ready);
}

Test(handoff, a_command_that_cannot_start_exits_127_and_releases_the_claim)
{
    pt_argv a;
    char **argv = pt_run_argv(&a, false, PT_LIST("--pool", PT_POOL, "--service", "none"),
                              PT_LIST("/nonexistent/server"));
    char *err = NULL;
    int status = -1;
    cr_assert_eq(pt_run(argv, NULL, 20000, NULL, &err, &status), 0);
    cr_assert_eq(status, 127, "stderr: %s", err);
    cr_assert(strstr(err, "/nonexistent/server"), "stderr: %s", err);
    free(err);
    portco_client *c = NULL;
    cr_assert_eq(portco_connect(E.agent.sock, &c, NULL), 0);
    portco_claim *cls = NULL;
    size_t n = 99;
    cr_assert_eq(portco_list(c, PT_POOL, &cls, &n, NULL), 0);
    cr_assert_eq(n, 0, "a claim outlived the command");
    free(cls);
    portco_close(c);
}

/* ---- the other examples of docs/handoff.md ---- */

/* The claim of service `svc`, polled through portco ls; returns its port. */
static int pt_wait_listed_service(const char *svc)
{
    long long deadline = pt_now_ms() + 15000;
    do {
        char *argv[] = {pt_portco, "--socket", E.agent.sock, "ls",
                        "--pool",  PT_POOL,    "--json",     NULL};
        char *out = NULL;
        int status = -1, port = 0;
        if (pt_run(argv, NULL, 10000, &out, NULL, &status) == 0 && status == 0) {
            json_t *arr = json_loads(out, 0, NULL), *v;
            size_t i;
            json_array_foreach(arr, i, v)
            {
                if (strcmp(pt_jstr(v, "service"), svc) == 0)
                    port = (int)pt_jint(v, "port");
            }
            json_decref(arr);
        }
        free(out);
        if (port > 0)
            return port;
        pt_nap_ms(20);
    } while (pt_now_ms() < deadline);
    cr_assert_fail("service %s never listed", svc);
    return -1;
}

Test(handoff, no_listen_example_serves_a_program_that_binds_PORT_itself)
{
    /* docs/handoff.md: portco run --no-listen --pool web --service files -- \
     *     sh -c 'exec python3 -m http.server --bind "$PORTCO_ADDRESS" "$PORT"' */
    char out[700], err[700];
    pt_argv a;
    char **argv = pt_run_argv(
        &a, false, PT_LIST("--no-listen", "--pool", PT_POOL, "--service", "files"),
        PT_LIST("sh", "-c", "exec python3 -m http.server --bind \"$PORTCO_ADDRESS\" \"$PORT\""));
    pid_t run = pt_start_run(argv, out, err, sizeof(out), "files");
    int port = pt_wait_listed_service("files");
    if (!pt_wait_until(pt_http_serves, &port, 20000)) {
        char e[4096] = "";
        pt_read_file(err, e, sizeof(e));
        cr_assert_fail("python3 -m http.server never answered on %d: %s", port, e);
    }
    cr_assert_eq(kill(run, SIGTERM), 0);
    int status = -1;
    cr_assert_eq(pt_wait_pid(run, 10000, &status), 0);
    cr_assert_eq(status, 128 + SIGTERM, "http.server dies of SIGTERM; portco run says so");
    cr_assert(pt_wait_until(pt_unclaimed, &port, 10000));
}

/* ---- --listen-grace: has the command taken up its socket? ---- */

typedef struct file_has {
    const char *path;
    const char *needle;
} file_has;

static bool file_has_pred(void *arg)
{
    file_has *f = arg;
    char buf[8192];
    return pt_read_file(f->path, buf, sizeof(buf)) > 0 && strstr(buf, f->needle) != NULL;
}

/* Wait for portco run's warning on `err`, check what it says, then stop portco run. */
static void expect_listen_warning(pid_t run, const char *err, const char *what)
{
    file_has w = {err, "portco run: warning: "};
    cr_assert(pt_wait_until(file_has_pred, &w, 40000), "no warning from portco run");
    char text[8192];
    pt_read_file(err, text, sizeof(text));
    cr_assert_not_null(strstr(text, what), "the warning should say '%s': %s", what, text);
    cr_assert_not_null(strstr(text, "seems to bind its own port"), "%s", text);
    cr_assert_not_null(strstr(text, "fd 3 (LISTEN_FDS)"), "%s", text);
    cr_assert_not_null(strstr(text, "docs/handoff.md"), "%s", text);
    cr_assert_eq(kill(run, SIGTERM), 0);
    cr_assert_eq(pt_wait_pid(run, 10000, NULL), 0);
}

Test(handoff, run_warns_when_the_command_binds_a_port_of_its_own)
{
    /* The socket is handed over listening, so the claimed port listens all
     * along; http.server ignores fd 3 and listens on a port of its own. */
    char out[700], err[700];
    pt_argv a;
    char **argv = pt_run_argv(&a, false,
                              PT_LIST("--listen-grace", "1", "--pool", PT_POOL, "--service", "own"),
                              PT_LIST("python3", "-m", "http.server", "--bind", "127.0.0.1", "0"));
    pid_t run = pt_start_run(argv, out, err, sizeof(out), "own");
    int port = pt_wait_listed_service("own");
    char what[64];
    snprintf(what, sizeof(what), "not on the claimed port %d", port);
    expect_listen_warning(run, err, what);
}

Test(handoff, run_warns_when_nothing_listens_on_a_socket_handed_over_bound)
{
    char out[700], err[700];
    pt_argv a;
    char **argv = pt_run_argv(
        &a, false,
        PT_LIST("--no-listen", "--listen-grace", "0.5", "--pool", PT_POOL, "--service", "idle"),
        PT_LIST("sleep", "60"));
    pid_t run = pt_start_run(argv, out, err, sizeof(out), "idle");
    int port = pt_wait_listed_service("idle");
    char what[64];
    snprintf(what, sizeof(what), "nothing listens on the claimed port %d", port);
    expect_listen_warning(run, err, what);
}

Test(handoff, run_warns_when_the_command_closes_its_socket)
{
    char out[700], err[700];
    pt_argv a;
    char **argv = pt_run_argv(
        &a, false, PT_LIST("--listen-grace", "0.5", "--pool", PT_POOL, "--service", "shut"),
        PT_LIST("sh", "-c", "exec 3>&-; exec sleep 60"));
    pid_t run = pt_start_run(argv, out, err, sizeof(out), "shut");
    expect_listen_warning(run, err, "it closed the socket of the claimed port");
}

Test(handoff, run_does_not_warn_when_the_command_serves_on_fd3_or_on_PORT)
{
    /* serve_fd3.py serves on fd 3; the --no-listen recipe binds $PORT itself. */
    char script[512], out1[700], err1[700], out2[700], err2[700];
    pt_example("serve_fd3.py", script, sizeof(script));
    pt_argv a1, a2;
    char **argv1 = pt_run_argv(
        &a1, false, PT_LIST("--listen-grace", "0.3", "--pool", PT_POOL, "--service", "fd3"),
        PT_LIST("python3", script));
    char **argv2 = pt_run_argv(
        &a2, false,
        PT_LIST("--no-listen", "--listen-grace", "4", "--pool", PT_POOL, "--service", "num"),
        PT_LIST("sh", "-c", "exec python3 -m http.server --bind \"$PORTCO_ADDRESS\" \"$PORT\""));
    long long t0 = pt_now_ms();
    pid_t run1 = pt_start_run(argv1, out1, err1, sizeof(out1), "fd3");
    pid_t run2 = pt_start_run(argv2, out2, err2, sizeof(out2), "num");
    json_t *ready = pt_wait_json_line(out1, run1, err1);
    int port1 = (int)pt_jint(ready, "port");
    json_decref(ready);
    int port2 = pt_wait_listed_service("num");
    cr_assert(pt_wait_until(pt_http_serves, &port1, 20000), "serve_fd3.py never answered");
    cr_assert(pt_wait_until(pt_http_serves, &port2, 20000), "http.server never answered");
    /* The absence of a warning needs a window: serve_fd3.py's command is
     * looked at 0.3, 0.6, 1.2 and 2.4 s after the handoff, http.server's at
     * 4 s (it serves by now, so it listens on the claimed port). */
    while (pt_now_ms() < t0 + 6000)
        pt_nap_ms(100);
    char text[8192] = "";
    pt_read_file(err1, text, sizeof(text));
    cr_assert_null(strstr(text, "warning"), "serve_fd3.py: %s", text);
    pt_read_file(err2, text, sizeof(text));
    cr_assert_null(strstr(text, "warning"), "http.server on $PORT: %s", text);
    cr_assert_eq(kill(run1, SIGTERM), 0);
    cr_assert_eq(kill(run2, SIGTERM), 0);
    cr_assert_eq(pt_wait_pid(run1, 10000, NULL), 0);
    cr_assert_eq(pt_wait_pid(run2, 10000, NULL), 0);
}

static bool pt_text_line(void *arg)
{
    char buf[1024];
    return pt_read_file((const char *)arg, buf, sizeof(buf)) > 0;
}

Test(handoff, c_example_serves_on_the_socket_it_received)
{
    /* docs/handoff.md: PORTCO_SOCKET=... example-acquire web hello-c */
    char bin[512], out[700], err[700];
    pt_bin("acquire", bin, sizeof(bin));
    char *argv[] = {bin, PT_POOL, "hello-c", NULL};
    char *env[] = {E.env_sock, NULL};
    pt_path_in(out, sizeof(out), "c.out");
    pt_path_in(err, sizeof(err), "c.err");
    pid_t pid = pt_track(pt_spawn(argv, env, out, err));
    cr_assert_gt(pid, 0);
    cr_assert(pt_wait_until(pt_text_line, out, 20000), "example-acquire printed nothing");
    char line[1024];
    pt_read_file(out, line, sizeof(line));
    int port = 0;
    cr_assert_eq(sscanf(line, "listening on %*[^:]:%d", &port), 1, "printed: %s", line);
    cr_assert_eq(pt_claims(port), 1);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_WAITALL);
    close(fd);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    char want[64];
    snprintf(want, sizeof(want), "hello from hello-c on port %d", port);
    cr_assert(strstr(buf, want), "answer: %s", buf);
    int status = -1;
    cr_assert_eq(pt_wait_pid(pid, 10000, &status), 0);
    cr_assert_eq(status, 0);
    cr_assert(pt_wait_until(pt_unclaimed, &port, 10000));
}

Test(handoff, python_example_acquires_from_the_agent_and_serves)
{
    /* docs/handoff.md: PORTCO_SOCKET=... python3 examples/handoff/acquire.py --pool web --service
     * hello-py */
    char script[512], out[700], err[700];
    pt_example("acquire.py", script, sizeof(script));
    char *argv[] = {"python3", script, "--pool", PT_POOL, "--service", "hello-py", NULL};
    char *env[] = {E.env_sock, NULL};
    pt_path_in(out, sizeof(out), "py.out");
    pt_path_in(err, sizeof(err), "py.err");
    pid_t pid = pt_track(pt_spawn(argv, env, out, err));
    cr_assert_gt(pid, 0);
    json_t *ready = pt_wait_json_line(out, pid, err);
    int port = (int)pt_jint(ready, "port");
    char body[4096];
    cr_assert_eq(pt_http_get(port, "/", body, sizeof(body)), 200);
    json_t *b = json_loads(body, 0, NULL);
    cr_assert(b, "body: %s", body);
    cr_assert_eq(pt_jint(b, "port"), port);
    cr_assert_str_eq(pt_jstr(b, "claim"), pt_jstr(ready, "claim"));
    json_decref(b);
    cr_assert_eq(pt_claims(port), 1);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int status = -1;
    cr_assert_eq(pt_wait_pid(pid, 10000, &status), 0);
    cr_assert_eq(status, 0);
    cr_assert(pt_wait_until(pt_unclaimed, &port, 10000));
    json_decref(ready);

    /* A refused claim: the agent's code on stderr, exit 1. */
    char *bad[] = {"python3", script, "--pool", "nosuchpool", "--service", "x", NULL};
    char *e = NULL;
    cr_assert_eq(pt_run(bad, env, 20000, NULL, &e, &status), 0);
    cr_assert_eq(status, 1);
    cr_assert(strstr(e, "NO_SUCH_POOL"), "stderr: %s", e);
    free(e);
}
