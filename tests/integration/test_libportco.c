/* test_libportco.c - libportco and the acquire example against a real agent and ZooKeeper. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "fixture.h"
#include "support.h"

static pt_agent A;

/* Pool "web" (pt_base..+19; +20..+24 stay free), then the agent. */
static void pt_agent_start(void)
{
    pt_setup();
    pt_publish_def(
        &(pt_pool_def){.name = "web", .lo = pt_base, .hi = pt_base + 19, .address = "127.0.0.1"});
    pt_start_agent(&A, "h-lib");
}

static portco_client *pt_connect(void)
{
    portco_client *c;
    portco_status st;
    int rc = portco_connect(A.sock, &c, &st);
    cr_assert_eq(rc, 0, "connect: %s", st.message);
    return c;
}

static bool pt_listed(portco_client *c, int port)
{
    portco_claim *cls;
    size_t n;
    portco_status st;
    cr_assert_eq(portco_list(c, "web", &cls, &n, &st), 0, "list: %s", st.message);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found |= cls[i].port == port;
    portco_list_free(cls);
    return found;
}

typedef struct pt_port_ref {
    int port;
} pt_port_ref;

static bool pt_zk_port_free(void *arg)
{
    return pt_nclaims("web", NULL, ((pt_port_ref *)arg)->port) == 0;
}

static const portco_acquire_opts pt_web = {.pool = "web", .service = "api"};

TestSuite(libportco, .init = pt_agent_start, .fini = pt_teardown, .timeout = 120);
TestSuite(libportco_install, .timeout = 300);

Test(libportco, acquire_list_release_round_trip)
{
    portco_client *c = pt_connect();
    portco_claim cl;
    portco_status st;
    portco_acquire_opts o = pt_web;
    o.instance = "r-1";
    o.lifetime = PORTCO_LIFETIME_EXPLICIT;
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), 0, "acquire: %s", st.message);
    cr_assert(cl.port >= pt_base && cl.port <= pt_base + 19, "port %u", cl.port);
    cr_assert_str_eq(cl.pool, "web");
    cr_assert_str_eq(cl.host, A.host);
    cr_assert_str_eq(cl.service, "api");
    cr_assert_str_eq(cl.instance, "r-1");
    cr_assert_str_eq(cl.address, "127.0.0.1");
    cr_assert_eq(cl.pid, getpid(), "the agent saw this process (SO_PEERCRED)");
    cr_assert_eq(cl.fd, -1);
    cr_assert_gt(cl.czxid, 0);

    /* ZooKeeper has the node, and its czxid is the fencing token. */
    char path[400];
    snprintf(path, sizeof(path), "%s/pools/web/ports/%u/%s", pt_root, cl.port, cl.claim);
    struct Stat zst;
    cr_assert_eq(pt_zkr_exists(pt_z, path, &zst), 0, "no node %s", path);
    cr_assert_eq(zst.czxid, cl.czxid);

    portco_claim *cls;
    size_t n;
    cr_assert_eq(portco_list(c, NULL, &cls, &n, &st), 0, "list: %s", st.message);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (cls[i].port == cl.port && strcmp(cls[i].pool, "web") == 0) {
            found = true;
            cr_assert_str_eq(cls[i].claim, cl.claim);
            cr_assert_eq(cls[i].czxid, cl.czxid);
            cr_assert_str_eq(cls[i].host, A.host);
        }
    portco_list_free(cls);
    cr_assert(found, "the claim is listed");

    cr_assert_eq(portco_release(c, "web", cl.port, &st), 0, "release: %s", st.message);
    cr_assert_not(pt_listed(c, cl.port));
    cr_assert_eq(pt_zkr_exists(pt_z, path, NULL), -ENOENT);
    cr_assert_eq(portco_release(c, "web", cl.port, &st), PORTCO_ENOTOWNER);
    portco_close(c);
}

/*
 * A release that names its claim never ends a successor's claim on the same
 * port: the stale name is refused with NOT_OWNER and the new claim stays.
 */
Test(libportco, release_of_an_ended_claim_spares_its_successor)
{
    portco_client *c = pt_connect();
    portco_status st;
    portco_acquire_opts o = pt_web;
    o.port = (uint16_t)(pt_base + 7);
    o.lifetime = PORTCO_LIFETIME_EXPLICIT;
    portco_claim first, second;
    cr_assert_eq(portco_acquire(c, &o, &first, &st), 0, "acquire: %s", st.message);
    cr_assert_eq(portco_release_claim(c, &first, &st), 0, "release: %s", st.message);
    cr_assert_eq(portco_acquire(c, &o, &second, &st), 0, "acquire again: %s", st.message);
    cr_assert_str_neq(first.claim, second.claim, "a new claim has a new node");

    cr_assert_eq(portco_release_claim(c, &first, &st), PORTCO_ENOTOWNER,
                 "the ended claim's release was taken: %s", st.message);
    cr_assert(strstr(st.message, second.claim), "the refusal names the holder: %s", st.message);
    cr_assert(pt_listed(c, second.port), "the successor's claim was released");
    cr_assert_eq(pt_nclaims("web", NULL, second.port), 1);

    cr_assert_eq(portco_release_claim(c, &second, &st), 0, "release: %s", st.message);
    cr_assert_not(pt_listed(c, second.port));
    cr_assert_eq(portco_release_claim(c, NULL, &st), PORTCO_EBADREQ);
    portco_close(c);
}

Test(libportco, connection_claim_ends_with_the_connection)
{
    portco_client *c = pt_connect();
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &pt_web, &cl, &st), 0, "acquire: %s", st.message);
    cr_assert_eq(pt_nclaims("web", NULL, cl.port), 1);
    portco_close(c);
    pt_port_ref r = {cl.port};
    cr_assert(pt_wait_until(pt_zk_port_free, &r, 10000), "claim on %u outlived its connection",
              cl.port);
}

Test(libportco, listening_socket_is_handed_over)
{
    portco_client *c = pt_connect();
    portco_acquire_opts o = pt_web;
    o.flags = PORTCO_ACQ_SOCKET | PORTCO_ACQ_LISTEN;
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), 0, "acquire: %s", st.message);
    cr_assert_geq(cl.fd, 0);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    cr_assert_eq(getsockname(cl.fd, (struct sockaddr *)&sa, &sl), 0);
    cr_assert_eq(ntohs(sa.sin_port), cl.port);
    /* Nobody else can bind it now. */
    int other = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(other, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in lo = {.sin_family = AF_INET,
                             .sin_port = htons(cl.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_neq(bind(other, (struct sockaddr *)&lo, sizeof(lo)), 0);
    close(other);
    /* And it serves. */
    int cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(connect(cli, (struct sockaddr *)&lo, sizeof(lo)), 0);
    int conn = accept4(cl.fd, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(conn, 0);
    cr_assert_eq(send(conn, "hi\n", 3, MSG_NOSIGNAL), 3);
    char buf[8] = {0};
    cr_assert_eq(recv(cli, buf, sizeof(buf) - 1, 0), 3);
    cr_assert_str_eq(buf, "hi\n");
    close(conn);
    close(cli);
    close(cl.fd);
    cr_assert_eq(portco_release(c, "web", cl.port, &st), 0, "release: %s", st.message);
    portco_close(c);
}

typedef struct pt_waiter {
    portco_client *c;
    uint16_t port;
    int rc;
    portco_claim cl;
    portco_status st;
} pt_waiter;

static void *pt_waiter_main(void *p)
{
    pt_waiter *w = p;
    portco_acquire_opts o = pt_web;
    o.port = w->port;
    o.wait_ms = 15000;
    w->rc = portco_acquire(w->c, &o, &w->cl, &w->st);
    return NULL;
}

Test(libportco, specific_port_taken_then_waited_for)
{
    portco_client *a = pt_connect(), *b = pt_connect();
    portco_acquire_opts o = pt_web;
    o.port = (uint16_t)(pt_base + 7);
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(a, &o, &cl, &st), 0, "acquire: %s", st.message);
    cr_assert_eq(cl.port, o.port);
    portco_claim cl2;
    cr_assert_eq(portco_acquire(b, &o, &cl2, &st), PORTCO_ETAKEN, "%s", st.message);
    o.wait_ms = 300;
    long long t0 = pt_now_ms();
    cr_assert_eq(portco_acquire(b, &o, &cl2, &st), PORTCO_EWAITTIMEOUT, "%s", st.message);
    cr_assert_geq(pt_now_ms() - t0, 300);

    /* A waiter gets the port once the holder lets go. */
    pt_waiter w = {.c = b, .port = o.port};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, pt_waiter_main, &w), 0);
    cr_assert_eq(portco_release(a, "web", o.port, &st), 0, "release: %s", st.message);
    pthread_join(th, NULL);
    cr_assert_eq(w.rc, 0, "waiter: %s", w.st.message);
    cr_assert_eq(w.cl.port, o.port);
    portco_close(a);
    portco_close(b);
}

Test(libportco, refusals_carry_their_codes)
{
    portco_client *c = pt_connect();
    portco_claim cl;
    portco_status st;
    portco_acquire_opts o = pt_web;
    o.pool = "nosuch";
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), PORTCO_ENOPOOL, "%s", st.message);
    cr_assert_neq(st.message[0], '\0');
    o = pt_web;
    o.port = (uint16_t)(pt_base + 100);
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), PORTCO_EOUTOFPOOL, "%s", st.message);
    cr_assert_eq(portco_release(c, "web", (uint16_t)(pt_base + 1), &st), PORTCO_ENOTOWNER, "%s",
                 st.message);
    portco_close(c);
}

Test(libportco, agent_gone_is_enoagent)
{
    portco_client *c = pt_connect();
    pt_stop_agent(&A);
    portco_claim *cls;
    size_t n;
    portco_status st;
    int rc = portco_list(c, NULL, &cls, &n, &st);
    cr_assert(rc == PORTCO_ENOAGENT || rc == PORTCO_ESHUTDOWN, "rc %d %s", rc, st.message);
    cr_assert_eq(portco_list(c, NULL, &cls, &n, &st), PORTCO_ENOAGENT);
    portco_close(c);
}

/*
 * Who may release (portco.h, portco_release): a connection-bound claim only
 * its own connection; an explicit one any connection of the same user.
 */
Test(libportco, release_follows_the_lifetime_and_the_user)
{
    portco_client *a = pt_connect(), *b = pt_connect();
    portco_status st;
    portco_claim conn_cl, expl_cl;
    cr_assert_eq(portco_acquire(a, &pt_web, &conn_cl, &st), 0, "acquire: %s", st.message);
    cr_assert_eq(portco_release(b, "web", conn_cl.port, &st), PORTCO_ENOTOWNER, "%s", st.message);
    cr_assert_not_null(strstr(st.message, "another connection"), "%s", st.message);
    cr_assert(pt_listed(a, conn_cl.port), "the refused release took the claim");
    portco_acquire_opts o = pt_web;
    o.lifetime = PORTCO_LIFETIME_EXPLICIT;
    cr_assert_eq(portco_acquire(a, &o, &expl_cl, &st), 0, "acquire: %s", st.message);
    cr_assert_eq(portco_release_claim(b, &expl_cl, &st), 0, "same user: %s", st.message);
    cr_assert_not(pt_listed(a, expl_cl.port));
    cr_assert_eq(portco_release(a, "web", conn_cl.port, &st), 0, "own connection: %s", st.message);
    portco_close(a);
    portco_close(b);
}

/* Release by another user through a child process; 0 when it got ENOTOWNER. */
static int pt_release_as(uid_t uid, const portco_claim *cl)
{
    if (setgid(uid) != 0 || setuid(uid) != 0)
        return 10;
    portco_client *c;
    portco_status st;
    if (portco_connect(A.sock, &c, &st) != 0) {
        fprintf(stderr, "connect as uid %u: %s\n", (unsigned)uid, st.message);
        return 11;
    }
    int rc = portco_release_claim(c, cl, &st);
    portco_close(c);
    if (rc != PORTCO_ENOTOWNER || !strstr(st.message, "only that user or root")) {
        fprintf(stderr, "release as uid %u: %d %s\n", (unsigned)uid, rc, st.message);
        return 12;
    }
    return 0;
}

Test(libportco, another_user_cannot_release_an_explicit_claim)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to act as another user");
    portco_client *c = pt_connect();
    portco_status st;
    portco_acquire_opts o = pt_web;
    o.lifetime = PORTCO_LIFETIME_EXPLICIT;
    portco_claim cl;
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), 0, "acquire: %s", st.message);
    /* The socket itself is 0666; its directories must let uid 65534 reach it. */
    char sockdir[sizeof(A.sock)];
    snprintf(sockdir, sizeof(sockdir), "%s", A.sock);
    *strrchr(sockdir, '/') = '\0';
    cr_assert_eq(chmod(pt_dir, 0755), 0);
    cr_assert_eq(chmod(sockdir, 0755), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(pt_release_as(65534, &cl));
    int status;
    cr_assert_eq(pt_wait_pid(pid, 30000, &status), 0);
    cr_assert_eq(status, 0, "the other user's release: exit %d (see stderr)", status);
    cr_assert(pt_listed(c, cl.port), "another user released the claim");
    cr_assert_eq(portco_release_claim(c, &cl, &st), 0, "root may: %s", st.message);
    portco_close(c);
}

Test(libportco, agent_status_is_the_agents_view)
{
    portco_client *c = pt_connect();
    char *text = NULL;
    portco_status st;
    cr_assert_eq(portco_agent_status(c, &text, &st), 0, "status: %s", st.message);
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    cr_assert_not_null(o, "not JSON: %s", text);
    portco_agent_status_free(text);
    cr_assert_str_eq(json_string_value(json_object_get(o, "host")), A.host);
    cr_assert_str_eq(json_string_value(json_object_get(o, "version")), portco_version_string(),
                     "the agent and the library come from one build");
    cr_assert_str_eq(json_string_value(json_object_get(o, "zookeeper")), "connected");
    cr_assert(json_is_true(json_object_get(o, "ready")));
    cr_assert(json_is_array(json_object_get(o, "pools")));
    cr_assert(json_is_object(json_object_get(o, "counters")));
    cr_assert_null(json_object_get(o, "ok"));
    json_decref(o);
    portco_close(c);
}

static bool pt_agent_stopped(void *arg)
{
    return pt_pid_state(A.pid) == 'T';
}

/* Margin above a timeout for a loaded machine (2 cores shared with parallel builds). */
#define PT_TIMEOUT_SLACK_MS 5000

/*
 * A stopped agent (SIGSTOP) still completes connects into its listen queue
 * but answers nothing: every call returns -ETIMEDOUT within its bound
 * instead of hanging, and the agent serves again once continued.
 */
Test(libportco, stopped_agent_times_out_instead_of_hanging)
{
    portco_connect_opts co = {.path = A.sock, .timeout_ms = 500};
    portco_client *c, *d;
    portco_status st, st_list, st_status, st_acq;
    cr_assert_eq(portco_connect_with(&co, &c, &st), 0, "connect: %s", st.message);
    cr_assert_eq(kill(A.pid, SIGSTOP), 0);
    bool stopped = pt_wait_until(pt_agent_stopped, NULL, 10000);

    portco_claim *cls = NULL;
    size_t n = 0;
    long long t0 = pt_now_ms();
    int rc_list = portco_list(c, "web", &cls, &n, &st_list);
    long long took_list = pt_now_ms() - t0;

    int rc_conn = portco_connect_with(&co, &d, &st);
    int rc_status = -1;
    long long took_status = 0;
    char *text = NULL;
    if (rc_conn == 0) {
        t0 = pt_now_ms();
        rc_status = portco_agent_status(d, &text, &st_status);
        took_status = pt_now_ms() - t0;
        portco_close(d);
    }

    portco_client *e;
    int rc_acq = -1;
    long long took_acq = 0;
    portco_claim cl;
    if (portco_connect_with(&co, &e, &st) == 0) {
        cr_assert_eq(portco_set_timeout(e, 300), 0);
        portco_acquire_opts o = pt_web;
        o.port = (uint16_t)(pt_base + 3);
        o.wait_ms = 700;
        t0 = pt_now_ms();
        rc_acq = portco_acquire(e, &o, &cl, &st_acq);
        took_acq = pt_now_ms() - t0;
        portco_close(e);
    }
    kill(A.pid, SIGCONT); /* before any assert: the agent must not stay stopped */

    cr_assert(stopped, "the agent (pid %d) never showed as stopped", (int)A.pid);
    cr_assert_eq(rc_list, -ETIMEDOUT, "list: %d %s", rc_list, st_list.message);
    cr_assert_geq(took_list, 500);
    cr_assert_lt(took_list, 500 + PT_TIMEOUT_SLACK_MS);
    cr_assert_null(cls);
    cr_assert_eq(rc_conn, 0, "a connect into the queue completes: %s", st.message);
    cr_assert_eq(rc_status, -ETIMEDOUT, "status: %d %s", rc_status, st_status.message);
    cr_assert_null(text);
    cr_assert_geq(took_status, 500);
    cr_assert_lt(took_status, 500 + PT_TIMEOUT_SLACK_MS);
    cr_assert_eq(rc_acq, -ETIMEDOUT, "acquire: %d %s", rc_acq, st_acq.message);
    cr_assert_geq(took_acq, 300 + 700, "the wait extends the timeout");
    cr_assert_lt(took_acq, 300 + 700 + PT_TIMEOUT_SLACK_MS);
    cr_assert_eq(cl.fd, -1);
    cr_assert_eq(portco_list(c, "web", &cls, &n, &st), PORTCO_ENOAGENT,
                 "the timed-out connection is closed");
    portco_close(c);

    /* Continued, it serves new connections. */
    portco_client *f = pt_connect();
    cr_assert_eq(portco_agent_status(f, &text, &st), 0, "after SIGCONT: %s", st.message);
    portco_agent_status_free(text);
    portco_close(f);
}

typedef struct pt_line_file {
    const char *path;
    char line[256];
} pt_line_file;

static bool pt_has_line(void *arg)
{
    pt_line_file *f = arg;
    FILE *fp = fopen(f->path, "re");
    if (!fp)
        return false;
    bool ok = fgets(f->line, sizeof(f->line), fp) && strchr(f->line, '\n');
    fclose(fp);
    return ok;
}

Test(libportco, example_serves_a_connection)
{
    char bin[600], out[600], err[600], env[200];
    pt_bin("example-acquire", bin, sizeof(bin));
    snprintf(out, sizeof(out), "%s/example.out", pt_dir);
    snprintf(err, sizeof(err), "%s/example.err", pt_dir);
    snprintf(env, sizeof(env), "PORTCO_SOCKET=%s", A.sock);
    char *argv[] = {bin, "web", "greeter", NULL};
    char *envv[] = {env, NULL};
    pid_t pid = pt_spawn(argv, envv, out, err);
    cr_assert_gt(pid, 0);
    pt_line_file lf = {.path = out};
    cr_assert(pt_wait_until(pt_has_line, &lf, 15000), "the example printed nothing (stderr %s)",
              err);
    unsigned port = 0;
    cr_assert_eq(sscanf(lf.line, "listening on 127.0.0.1:%u", &port), 1, "line: %s", lf.line);
    cr_assert(port >= (unsigned)pt_base && port <= (unsigned)pt_base + 19);

    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char buf[512] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(buf) - 1 && (r = recv(s, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
        got += (size_t)r;
    close(s);
    cr_assert_not_null(strstr(buf, "hello from greeter on port"), "answer: %s", buf);
    int status;
    cr_assert_eq(pt_wait_pid(pid, 15000, &status), 0);
    cr_assert_eq(status, 0, "example exit status %d", status);
    pt_port_ref ref = {(int)port};
    cr_assert(pt_zk_port_free(&ref), "the example released its claim");
}

/* ---------- the installed library ---------- */

Test(libportco_install, installed_library_builds_the_example)
{
    char *dir = pt_tmpdir("pt-install");
    cr_assert_not_null(dir);
    char bdir[600], prefix[600], pcpath[700], exe[700];
    snprintf(bdir, sizeof(bdir), "%s/lib/client", pt_build_dir());
    snprintf(prefix, sizeof(prefix), "%s/prefix", dir);
    snprintf(exe, sizeof(exe), "%s/acquire", dir);
    char *inst[] = {"cmake", "--install", bdir, "--prefix", prefix, NULL};
    char *out = NULL, *err = NULL;
    int st;
    cr_assert_eq(pt_run(inst, NULL, 120000, &out, &err, &st), 0);
    cr_assert_eq(st, 0, "cmake --install: %s %s", out, err);
    free(out);
    free(err);

    /* pkg-config points into the prefix. */
    snprintf(pcpath, sizeof(pcpath), "PKG_CONFIG_PATH=%s/lib/pkgconfig", prefix);
    char *pcenv[] = {pcpath, NULL};
    char *pc[] = {"pkg-config", "--cflags", "--libs", "portco", NULL};
    cr_assert_eq(pt_run(pc, pcenv, 30000, &out, &err, &st), 0);
    cr_assert_eq(st, 0, "pkg-config: %s", err);
    cr_assert_not_null(strstr(out, prefix), "flags %s", out);
    free(out);
    free(err);

    /* Compile the example against the installed copy only (with the
     * sanitizers when the library was built with them). */
    char cmd[3000];
    snprintf(cmd, sizeof(cmd),
             "san=; nm -D '%s/lib/libportco.so' | grep -q __asan_init && "
             "san=-fsanitize=address,undefined; "
             "cc -std=c11 -Wall -Wextra -Werror $san -o '%s' '%s/examples/acquire.c' "
             "$(pkg-config --cflags --libs portco) -Wl,-rpath,'%s/lib'",
             prefix, exe, pt_source_dir(), prefix);
    char *cc[] = {"/bin/sh", "-c", cmd, NULL};
    cr_assert_eq(pt_run(cc, pcenv, 120000, &out, &err, &st), 0);
    cr_assert_eq(st, 0, "compile: %s", err);
    free(out);
    free(err);

    /* The binary loads the installed library and reports a missing agent. */
    char *run[] = {exe, "web", NULL};
    char *runenv[] = {"PORTCO_SOCKET=/nonexistent/agent.sock", NULL};
    cr_assert_eq(pt_run(run, runenv, 30000, &out, &err, &st), 0);
    cr_assert_eq(st, 1, "exit %d: %s", st, err);
    cr_assert_not_null(strstr(err, "AGENT_UNAVAILABLE"), "stderr: %s", err);
    cr_assert_not_null(strstr(err, "/nonexistent/agent.sock"), "stderr: %s", err);
    free(out);
    free(err);

    /* Only portco_* is exported. */
    char nm[1000];
    snprintf(nm, sizeof(nm), "nm -D --defined-only '%s/lib/libportco.so' | awk '{print $3}'",
             prefix);
    char *nmcmd[] = {"/bin/sh", "-c", nm, NULL};
    cr_assert_eq(pt_run(nmcmd, NULL, 30000, &out, &err, &st), 0);
    cr_assert_eq(st, 0, "nm: %s", err);
    int syms = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        cr_assert_eq(strncmp(line, "portco_", 7), 0, "exported: %s", line);
        syms++;
    }
    cr_assert_geq(syms, 12, "portco_* symbols exported: %d", syms);
    free(out);
    free(err);
    pt_rmtree(dir);
    free(dir);
}
