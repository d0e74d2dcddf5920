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
#include <unistd.h>

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
    free(cls);
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
    free(cls);
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
