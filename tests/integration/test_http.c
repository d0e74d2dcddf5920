/* test_http.c - the daemons' HTTP(S) endpoints: metrics, JSON views, 404/405, TLS and mutual TLS,
 * fatal TLS errors at start; against a real agent, coordinator and ZooKeeper. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "portco.h"
#include "support.h"
#include "zkread.h"

/* HTTP client: python3's urllib/ssl, one request per run, bounded by pt_run's deadline.
 * Prints the status, the Allow header (or -), then the body; exit 3 when no HTTP
 * answer came (refused connection, failed TLS handshake). All of it goes through
 * sys.stdout.buffer in one write: mixing sys.stdout (a buffered text layer) with the
 * byte buffer under it reorders the output unless PYTHONUNBUFFERED is set. */
static const char *PT_PY_GET =
    "import sys, ssl, urllib.request, urllib.error\n"
    "url, method = sys.argv[1], sys.argv[2]\n"
    "ca, cert, key = (sys.argv[3:6] + ['', '', ''])[:3]\n"
    "ctx = None\n"
    "if url.startswith('https'):\n"
    "    ctx = ssl.create_default_context(cafile=ca)\n"
    "    if cert:\n"
    "        ctx.load_cert_chain(cert, key)\n"
    "req = urllib.request.Request(url, method=method)\n"
    "try:\n"
    "    with urllib.request.urlopen(req, context=ctx, timeout=5) as r:\n"
    "        code, allow, body = r.status, r.headers.get('Allow', '-'), r.read()\n"
    "except urllib.error.HTTPError as e:\n"
    "    code, allow, body = e.code, e.headers.get('Allow', '-'), e.read()\n"
    "except Exception as e:\n"
    "    print('ERROR', type(e).__name__, e)\n"
    "    sys.exit(3)\n"
    "sys.stdout.buffer.write(('%d\\n%s\\n' % (code, allow)).encode() + body)\n";

typedef struct pt_resp {
    int status;     /* HTTP status, or -1 when no answer came */
    char allow[64]; /* Allow header or "-" */
    char *body;     /* owned */
    char *raw;      /* whole output (owned), for messages */
} pt_resp;

static char *dir;
static char root[256];
static char cluster_file[600];
static int pool_base;
static pid_t daemons[4];
static pt_zkr *zs;

static void pt_track(pid_t pid)
{
    for (size_t i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++)
        if (daemons[i] <= 0) {
            daemons[i] = pid;
            return;
        }
    cr_assert_fail("too many daemons");
}

static void setup(void)
{
    const char *zk = pt_zk_shared();
    cr_assert_not_null(zk, "the ctest zk fixture is required");
    pt_unique_root("http", root, sizeof(root));
    dir = pt_tmpdir("pt-http");
    cr_assert_not_null(dir);
    pool_base = pt_cluster_port_run(false, 8);
    cr_assert_gt(pool_base, 0, "no free port run");
    snprintf(cluster_file, sizeof(cluster_file), "%s/cluster.yaml", dir);
    FILE *f = fopen(cluster_file, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "root: %s\npools:\n  - name: web\n    range: %d-%d\nstatic:\n"
            "  - {pool: web, port: %d, service: frontend}\n",
            root, pool_base, pool_base + 7, pool_base + 7);
    fclose(f);
    cr_assert_eq(pt_zkr_connect(&zs, zk, 10000, 10000), 0);
}

static void teardown(void)
{
    for (size_t i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++)
        if (daemons[i] > 0) {
            pt_stop_pid(daemons[i], SIGTERM, 10000);
            daemons[i] = 0;
        }
    if (zs) {
        pt_zkr_delete_tree(zs, root);
        pt_zkr_close(zs);
        zs = NULL;
    }
    if (dir) {
        if (!getenv("PORTCO_TEST_KEEP"))
            pt_rmtree(dir);
        free(dir);
        dir = NULL;
    }
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 120);

static void pt_resp_free(pt_resp *r)
{
    free(r->body);
    free(r->raw);
    memset(r, 0, sizeof(*r));
}

/* One request; ca/cert/key may be NULL. Never fails the test by itself. */
static pt_resp http_req(const char *method, const char *url, const char *ca, const char *cert,
                        const char *key)
{
    pt_resp r = {.status = -1, .allow = "-"};
    char *argv[] = {"python3",
                    "-c",
                    (char *)PT_PY_GET,
                    (char *)url,
                    (char *)method,
                    (char *)(ca ? ca : ""),
                    (char *)(cert ? cert : ""),
                    (char *)(key ? key : ""),
                    NULL};
    char *out = NULL, *err = NULL;
    int st = -1;
    int rc = pt_run(argv, NULL, 15000, &out, &err, &st);
    r.raw = out ? out : strdup("");
    free(err);
    if (rc < 0 || st != 0)
        return r;
    char *nl1 = strchr(r.raw, '\n');
    char *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
    if (!nl2)
        return r;
    r.status = atoi(r.raw);
    snprintf(r.allow, sizeof(r.allow), "%.*s", (int)(nl2 - nl1 - 1), nl1 + 1);
    r.body = strdup(nl2 + 1);
    return r;
}

static pt_resp http_get(const char *url)
{
    return http_req("GET", url, NULL, NULL, NULL);
}

static json_t *body_json(const pt_resp *r)
{
    json_error_t je;
    json_t *j = r->body ? json_loads(r->body, 0, &je) : NULL;
    cr_assert_not_null(j, "not JSON: %s", r->raw);
    return j;
}

/*
 * Check the whole exposition (every sample has a TYPE line before it and a
 * numeric value; every TYPE has a HELP) and return the value of the sample
 * whose name-and-labels part is `series` exactly, or NAN.
 */
static double prom_value(const char *text, const char *series)
{
    double found = NAN;
    char *copy = strdup(text);
    char *save = NULL;
    char typed[64][96];
    int ntyped = 0;
    bool helped = false;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[96], kind[32];
        if (strncmp(line, "# HELP ", 7) == 0) {
            helped = true;
            continue;
        }
        if (sscanf(line, "# TYPE %95s %31s", name, kind) == 2) {
            cr_assert(helped, "TYPE without HELP: %s", line);
            cr_assert(strcmp(kind, "counter") == 0 || strcmp(kind, "gauge") == 0, "type %s", kind);
            cr_assert_lt(ntyped, 64);
            snprintf(typed[ntyped++], sizeof(typed[0]), "%s", name);
            helped = false;
            continue;
        }
        cr_assert_neq(line[0], '#', "stray comment: %s", line);
        char *sp = strrchr(line, ' ');
        cr_assert_not_null(sp, "sample without value: %s", line);
        char *end;
        double v = strtod(sp + 1, &end);
        cr_assert(*end == '\0' && end != sp + 1, "bad value in: %s", line);
        size_t nlen = strcspn(line, "{ ");
        bool known = false;
        for (int i = 0; i < ntyped; i++)
            known = known || (strlen(typed[i]) == nlen && strncmp(typed[i], line, nlen) == 0);
        cr_assert(known, "sample before its TYPE line: %s", line);
        *sp = '\0';
        if (strcmp(line, series) == 0)
            found = v;
    }
    free(copy);
    return found;
}

static double scrape(const char *base, const char *series)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", base);
    pt_resp r = http_get(url);
    cr_assert_eq(r.status, 200, "GET %s: %s", url, r.raw);
    double v = prom_value(r.body, series);
    pt_resp_free(&r);
    return v;
}

/* ------------------------------------------------------------------------ */
/* daemons                                                                  */

/* Start an agent with extra arguments (NULL-terminated); returns its pid. */
static pid_t agent_spawn(const char *host, const char *log, char *const extra[])
{
    char bin[512], sock[600];
    pt_bin("portco-agent", bin, sizeof(bin));
    snprintf(sock, sizeof(sock), "%s/%s.sock", dir, host);
    char *argv[32] = {bin,  "--zk",      (char *)pt_zk_shared(), "--root",
                      root, "--host-id", (char *)host,           "--socket",
                      sock, NULL};
    int n = 9;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return pt_spawn(argv, NULL, log, log);
}

typedef struct ready_arg {
    const char *url;
    const char *ca, *cert, *key;
} ready_arg;

static bool agent_ready(void *arg)
{
    ready_arg *a = arg;
    pt_resp r = http_req("GET", a->url, a->ca, a->cert, a->key);
    bool ok = false;
    if (r.status == 200) {
        json_t *j = json_loads(r.body, 0, NULL);
        ok = json_is_true(json_object_get(j, "ready")) &&
             json_array_size(json_object_get(j, "pools")) == 1;
        json_decref(j);
    }
    pt_resp_free(&r);
    return ok;
}

/* A plain-HTTP agent "h1", ready with pool web; base gets "http://127.0.0.1:P". */
static pid_t agent_plain(char *base, size_t len, char *sock, size_t slen)
{
    int port = pt_free_port();
    char listen[64], log[600];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(log, sizeof(log), "%s/h1.log", dir);
    snprintf(base, len, "http://127.0.0.1:%d", port);
    snprintf(sock, slen, "%s/h1.sock", dir);
    char *extra[] = {"--metrics-listen", listen, NULL};
    pid_t pid = agent_spawn("h1", log, extra);
    cr_assert_gt(pid, 0);
    pt_track(pid);
    char url[128];
    snprintf(url, sizeof(url), "%s/v1/status", base);
    ready_arg ra = {url, NULL, NULL, NULL};
    cr_assert(pt_wait_until(agent_ready, &ra, 30000), "agent never ready at %s", url);
    return pid;
}

/* A coordinator named `id` with --listen; base gets its URL; logs to <dir>/<id>.log. */
static pid_t coord_start_id(const char *id, char *base, size_t len)
{
    char bin[512], log[600], listen[64];
    pt_bin("portco-coordinator", bin, sizeof(bin));
    snprintf(log, sizeof(log), "%s/%s.log", dir, id);
    int port = pt_free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(base, len, "http://127.0.0.1:%d", port);
    char *argv[] = {bin,    "--config", cluster_file, "--zk", (char *)pt_zk_shared(),
                    "--id", (char *)id, "--listen",   listen, "--session-timeout",
                    "2000", NULL};
    pid_t pid = pt_spawn(argv, NULL, log, log);
    cr_assert_gt(pid, 0);
    pt_track(pid);
    return pid;
}

/* The coordinator "c-http". */
static pid_t coord_start(char *base, size_t len)
{
    return coord_start_id("c-http", base, len);
}

static bool published(void *arg)
{
    return scrape(arg, "portco_coordinator_pools_published") == 1;
}

/* Coordinator first (it publishes the pool), then the plain agent. */
static pid_t start_both(char *cbase, char *abase, char *sock)
{
    coord_start(cbase, 64);
    cr_assert(pt_wait_until(published, cbase, 30000), "the coordinator never published");
    return agent_plain(abase, 64, sock, 600);
}

/* SIGTERM and expect exit status 0 (under ASan: no leak report either). */
static void stop_clean(pid_t pid, const char *log)
{
    int st = -1;
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int rc = pt_wait_pid(pid, 15000, &st);
    for (size_t i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++)
        if (daemons[i] == pid)
            daemons[i] = rc == 0 ? 0 : daemons[i];
    char text[8192] = "";
    pt_read_file(log, text, sizeof(text));
    cr_assert_eq(rc, 0, "did not stop on SIGTERM");
    cr_assert_eq(st, 0, "exit status %d; log:\n%s", st, text);
}

static portco_client *client(const char *sock)
{
    portco_client *c = NULL;
    portco_status st;
    cr_assert_eq(portco_connect(sock, &c, &st), 0, "%s", st.message);
    return c;
}

/* ------------------------------------------------------------------------ */
/* agent, plain HTTP                                                        */

Test(http, agent_metrics_move_after_acquire_and_release)
{
    char cbase[64], abase[64], sock[600], log[600];
    pid_t agent = start_both(cbase, abase, sock);
    cr_expect_eq(scrape(abase, "portco_agent_grants_total"), 0);
    cr_expect_eq(scrape(abase, "portco_agent_claims"), 0);
    cr_expect_eq(scrape(abase, "portco_agent_zookeeper_connected"), 1);
    cr_expect_eq(scrape(abase, "portco_agent_pools"), 1);
    cr_expect_eq(scrape(abase, "portco_agent_ready"), 1);
    cr_expect_eq(scrape(abase, "portco_agent_build_info{version=\"0.1.0\",host=\"h1\"}"), 1);

    portco_client *c = client(sock);
    portco_acquire_opts ao = {
        .pool = "web", .service = "api", .lifetime = PORTCO_LIFETIME_EXPLICIT};
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &ao, &cl, &st), 0, "%s", st.message);
    cr_expect_eq(scrape(abase, "portco_agent_grants_total"), 1);
    cr_expect_geq(scrape(abase, "portco_agent_creates_total"), 1);
    cr_expect_eq(scrape(abase, "portco_agent_claims"), 1);
    cr_assert_eq(portco_release(c, "web", cl.port, &st), 0, "%s", st.message);
    cr_expect_eq(scrape(abase, "portco_agent_releases_total"), 1);
    cr_expect_eq(scrape(abase, "portco_agent_claims"), 0);
    portco_close(c);
    snprintf(log, sizeof(log), "%s/h1.log", dir);
    stop_clean(agent, log);
}

Test(http, agent_claims_lists_the_claim)
{
    char cbase[64], abase[64], sock[600], url[160];
    start_both(cbase, abase, sock);
    portco_client *c = client(sock);
    portco_acquire_opts ao = {.pool = "web", .service = "api", .instance = "i-1"};
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &ao, &cl, &st), 0, "%s", st.message);

    const char *queries[] = {"", "?pool=web"};
    for (int q = 0; q < 2; q++) {
        snprintf(url, sizeof(url), "%s/v1/claims%s", abase, queries[q]);
        pt_resp r = http_get(url);
        cr_assert_eq(r.status, 200, "%s: %s", url, r.raw);
        json_t *j = body_json(&r);
        json_t *claims = json_object_get(j, "claims");
        cr_assert_eq(json_array_size(claims), 1, "%s", r.body);
        json_t *one = json_array_get(claims, 0);
        cr_expect_str_eq(json_string_value(json_object_get(one, "pool")), "web");
        cr_expect_eq(json_integer_value(json_object_get(one, "port")), cl.port);
        cr_expect_str_eq(json_string_value(json_object_get(one, "host")), "h1");
        cr_expect_str_eq(json_string_value(json_object_get(one, "service")), "api");
        cr_expect_str_eq(json_string_value(json_object_get(one, "instance")), "i-1");
        json_decref(j);
        pt_resp_free(&r);
    }
    snprintf(url, sizeof(url), "%s/v1/claims?pool=nope", abase);
    pt_resp r = http_get(url);
    cr_expect_eq(r.status, 404, "%s", r.raw);
    json_t *j = body_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(j, "error")), "NO_SUCH_POOL");
    json_decref(j);
    pt_resp_free(&r);
    snprintf(url, sizeof(url), "%s/v1/claims?pool=a%%2Fb", abase);
    r = http_get(url);
    cr_expect_eq(r.status, 400, "%s", r.raw);
    pt_resp_free(&r);
    portco_close(c);
}

Test(http, agent_status_is_the_status_answer)
{
    char cbase[64], abase[64], sock[600], url[160];
    start_both(cbase, abase, sock);
    snprintf(url, sizeof(url), "%s/v1/status", abase);
    pt_resp r = http_get(url);
    cr_assert_eq(r.status, 200, "%s", r.raw);
    json_t *j = body_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(j, "host")), "h1");
    cr_expect_str_eq(json_string_value(json_object_get(j, "zookeeper")), "connected");
    cr_expect(json_is_true(json_object_get(j, "ready")));
    cr_expect(json_is_integer(json_object_get(json_object_get(j, "counters"), "grants")));
    json_decref(j);
    pt_resp_free(&r);
}

Test(http, agent_unknown_path_404_other_methods_405)
{
    char cbase[64], abase[64], sock[600], url[160];
    start_both(cbase, abase, sock);
    snprintf(url, sizeof(url), "%s/nope", abase);
    pt_resp r = http_get(url);
    cr_expect_eq(r.status, 404, "%s", r.raw);
    pt_resp_free(&r);
    snprintf(url, sizeof(url), "%s/metrics/", abase);
    r = http_get(url);
    cr_expect_eq(r.status, 404, "%s", r.raw);
    pt_resp_free(&r);
    const char *methods[] = {"POST", "PUT", "DELETE"};
    for (int i = 0; i < 3; i++) {
        snprintf(url, sizeof(url), "%s/v1/claims", abase);
        r = http_req(methods[i], url, NULL, NULL, NULL);
        cr_expect_eq(r.status, 405, "%s: %s", methods[i], r.raw);
        cr_expect_str_eq(r.allow, "GET");
        pt_resp_free(&r);
    }
    /* Still serving afterwards. */
    cr_expect_eq(scrape(abase, "portco_agent_ready"), 1);
}

/* ------------------------------------------------------------------------ */
/* TLS                                                                      */

/* CA, server cert (127.0.0.1), client cert of the CA, and a client cert of another CA. */
static void make_certs(void)
{
    char script[4096];
    snprintf(script, sizeof(script),
             "set -e; cd '%s'\n"
             "k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
             "openssl req -x509 $k -keyout ca.key -out ca.pem -days 2 -subj '/CN=test CA'\n"
             "openssl req -x509 $k -keyout other.key -out other.pem -days 2 -subj '/CN=other'\n"
             "openssl req $k -keyout server.key -out server.csr -subj '/CN=127.0.0.1'\n"
             "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext\n"
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out server.pem -days 2 -extfile san.ext\n"
             "openssl req $k -keyout client.key -out client.csr -subj '/CN=scraper'\n"
             "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out client.pem -days 2\n"
             "openssl req $k -keyout rogue.key -out rogue.csr -subj '/CN=rogue'\n"
             "openssl x509 -req -in rogue.csr -CA other.pem -CAkey other.key -CAcreateserial "
             "-out rogue.pem -days 2\n",
             dir);
    char *argv[] = {"sh", "-c", script, NULL};
    char *err = NULL;
    int st = -1;
    int rc = pt_run(argv, NULL, 30000, NULL, &err, &st);
    cr_assert(rc == 0 && st == 0, "openssl failed (%d, %d): %s", rc, st, err ? err : "");
    free(err);
}

static char *f(const char *name)
{
    static char bufs[8][600];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
    return b;
}

Test(http, agent_mutual_tls)
{
    make_certs();
    char cbase[64], log[600], listen[64], url[160], purl[160];
    coord_start(cbase, sizeof(cbase));
    int port = pt_free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(log, sizeof(log), "%s/h1.log", dir);
    char cert[600], key[600], ca[600];
    snprintf(cert, sizeof(cert), "%s", f("server.pem"));
    snprintf(key, sizeof(key), "%s", f("server.key"));
    snprintf(ca, sizeof(ca), "%s", f("ca.pem"));
    char *extra[] = {"--metrics-listen", listen, "--tls-cert", cert, "--tls-key", key,
                     "--tls-client-ca",  ca,     NULL};
    pid_t pid = agent_spawn("h1", log, extra);
    cr_assert_gt(pid, 0);
    pt_track(pid);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1/status", port);
    char ccert[600], ckey[600];
    snprintf(ccert, sizeof(ccert), "%s", f("client.pem"));
    snprintf(ckey, sizeof(ckey), "%s", f("client.key"));
    ready_arg ra = {url, ca, ccert, ckey};
    cr_assert(pt_wait_until(agent_ready, &ra, 30000), "HTTPS agent never ready");

    snprintf(url, sizeof(url), "https://127.0.0.1:%d/metrics", port);
    pt_resp r = http_req("GET", url, ca, ccert, ckey);
    cr_expect_eq(r.status, 200, "with a client certificate: %s", r.raw);
    cr_expect_eq(prom_value(r.body ? r.body : "", "portco_agent_ready"), 1);
    pt_resp_free(&r);

    r = http_req("GET", url, ca, NULL, NULL);
    cr_expect_eq(r.status, -1, "without a client certificate: %s", r.raw);
    cr_expect(strstr(r.raw, "ERROR"), "%s", r.raw);
    pt_resp_free(&r);

    char rcert[600], rkey[600];
    snprintf(rcert, sizeof(rcert), "%s", f("rogue.pem"));
    snprintf(rkey, sizeof(rkey), "%s", f("rogue.key"));
    r = http_req("GET", url, ca, rcert, rkey);
    cr_expect_eq(r.status, -1, "with another CA's certificate: %s", r.raw);
    pt_resp_free(&r);

    snprintf(purl, sizeof(purl), "http://127.0.0.1:%d/metrics", port);
    r = http_get(purl);
    cr_expect_eq(r.status, -1, "plain HTTP to the HTTPS port: %s", r.raw);
    pt_resp_free(&r);

    /* The refused handshakes left the server working. */
    r = http_req("GET", url, ca, ccert, ckey);
    cr_expect_eq(r.status, 200, "%s", r.raw);
    pt_resp_free(&r);
    stop_clean(pid, log);
}

Test(http, agent_tls_without_client_ca_serves_anyone)
{
    make_certs();
    char log[600], listen[64], url[160], cert[600], key[600], ca[600];
    int port = pt_free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(log, sizeof(log), "%s/h1.log", dir);
    snprintf(cert, sizeof(cert), "%s", f("server.pem"));
    snprintf(key, sizeof(key), "%s", f("server.key"));
    snprintf(ca, sizeof(ca), "%s", f("ca.pem"));
    char *extra[] = {"--metrics-listen", listen, "--tls-cert", cert, "--tls-key", key, NULL};
    pid_t pid = agent_spawn("h1", log, extra);
    cr_assert_gt(pid, 0);
    pt_track(pid);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1/status", port);
    pt_resp r = {.status = -1};
    long long deadline = pt_now_ms() + 20000;
    while (r.status == -1 && pt_now_ms() < deadline) {
        pt_resp_free(&r);
        pt_nap_ms(50);
        r = http_req("GET", url, ca, NULL, NULL);
    }
    /* Nothing is published here, so the agent is not ready: 503, with the status. */
    cr_expect_eq(r.status, 503, "%s", r.raw);
    json_t *j = body_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(j, "host")), "h1");
    json_decref(j);
    pt_resp_free(&r);
}

/* Run the agent with `extra`; it must exit 2 quickly and say `want` on stderr. */
static void agent_refuses(char *const extra[], const char *want)
{
    char bin[512], sock[600];
    pt_bin("portco-agent", bin, sizeof(bin));
    snprintf(sock, sizeof(sock), "%s/x.sock", dir);
    char *argv[32] = {
        bin,  "--zk", (char *)pt_zk_shared(), "--root", root, "--host-id", "hx", "--socket",
        sock, NULL};
    int n = 9;
    for (int i = 0; extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    char *err = NULL;
    int st = -1;
    int rc = pt_run(argv, NULL, 20000, NULL, &err, &st);
    cr_expect_eq(rc, 0, "the agent did not exit in time");
    cr_expect_eq(st, 2, "exit status %d; stderr: %s", st, err ? err : "");
    cr_expect(err && strstr(err, want), "stderr lacks \"%s\": %s", want, err ? err : "");
    free(err);
}

Test(http, agent_bad_tls_settings_exit_2_at_start)
{
    make_certs();
    char listen[64], cert[600], key[600], ckey[600], missing[600], cfg[600];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", pt_free_port());
    snprintf(cert, sizeof(cert), "%s", f("server.pem"));
    snprintf(key, sizeof(key), "%s", f("server.key"));
    snprintf(ckey, sizeof(ckey), "%s", f("client.key"));
    snprintf(missing, sizeof(missing), "%s", f("missing.pem"));

    char *a1[] = {"--metrics-listen", listen, "--tls-cert", missing, "--tls-key", key, NULL};
    agent_refuses(a1, "cannot read it");
    char *a2[] = {"--metrics-listen", listen, "--tls-cert", cert, "--tls-key", ckey, NULL};
    agent_refuses(a2, "does not match the certificate");
    char *a3[] = {"--metrics-listen", listen, "--tls-cert", cert, NULL};
    agent_refuses(a3, "both a certificate and a key");
    char *a4[] = {"--metrics-listen", listen,  "--tls-cert", cert, "--tls-key", key,
                  "--tls-client-ca",  missing, NULL};
    agent_refuses(a4, "TLS client CA");
    char *a5[] = {"--metrics-listen", "localhost:9470", NULL};
    agent_refuses(a5, "not an IPv4 literal");
    char *a6[] = {"--metrics-listen", listen, "--tls-cert", f("server.csr"),
                  "--tls-key",        key,    NULL};
    agent_refuses(a6, "not a usable PEM certificate");

    /* The agent file's keys are checked when the file is loaded. */
    snprintf(cfg, sizeof(cfg), "%s/agent.yaml", dir);
    FILE *fp = fopen(cfg, "w");
    cr_assert_not_null(fp);
    fprintf(fp, "metrics_listen: \"%s\"\ntls_cert: %s\n", listen, cert);
    fclose(fp);
    char *a7[] = {"--config", cfg, NULL};
    agent_refuses(a7, "tls_cert and tls_key go together");
}

/* ------------------------------------------------------------------------ */
/* coordinator                                                              */

Test(http, coordinator_metrics_leader_and_config)
{
    char cbase[64], url[160];
    pid_t pid = coord_start(cbase, sizeof(cbase));
    cr_assert(pt_wait_until(published, cbase, 30000), "the coordinator never published");
    cr_expect_eq(scrape(cbase, "portco_coordinator_is_leader"), 1);
    cr_expect_geq(scrape(cbase, "portco_coordinator_publishes_total"), 1);
    cr_expect_eq(scrape(cbase, "portco_coordinator_statics_published"), 1);
    cr_expect_eq(scrape(cbase, "portco_coordinator_reload_failures_total"), 0);
    cr_expect_eq(scrape(cbase, "portco_coordinator_zookeeper_connected"), 1);

    snprintf(url, sizeof(url), "%s/v1/leader", cbase);
    pt_resp r = http_get(url);
    cr_assert_eq(r.status, 200, "%s", r.raw);
    json_t *j = body_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(j, "id")), "c-http");
    cr_expect(json_is_true(json_object_get(j, "self")));
    cr_expect_eq(json_integer_value(json_object_get(j, "pid")), pid);
    json_decref(j);
    pt_resp_free(&r);

    snprintf(url, sizeof(url), "%s/v1/config", cbase);
    r = http_get(url);
    cr_assert_eq(r.status, 200, "%s", r.raw);
    j = body_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(j, "root")), root);
    json_t *pool = json_array_get(json_object_get(j, "pools"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(pool, "name")), "web");
    json_t *st = json_array_get(json_object_get(j, "statics"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(st, "service")), "frontend");
    cr_expect_eq(json_integer_value(json_object_get(st, "port")), pool_base + 7);
    json_decref(j);
    pt_resp_free(&r);

    /* A bad file on SIGHUP is rejected and counted. */
    FILE *fp = fopen(cluster_file, "w");
    cr_assert_not_null(fp);
    fprintf(fp, "root: %s\npools: 42\n", root);
    fclose(fp);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    long long deadline = pt_now_ms() + 10000;
    while (scrape(cbase, "portco_coordinator_reload_failures_total") != 1 && pt_now_ms() < deadline)
        pt_nap_ms(50);
    cr_expect_eq(scrape(cbase, "portco_coordinator_reload_failures_total"), 1);
    cr_expect_eq(scrape(cbase, "portco_coordinator_pools_published"), 1);

    snprintf(url, sizeof(url), "%s/v1/nothing", cbase);
    r = http_get(url);
    cr_expect_eq(r.status, 404, "%s", r.raw);
    pt_resp_free(&r);
    snprintf(url, sizeof(url), "%s/v1/leader", cbase);
    r = http_req("POST", url, NULL, NULL, NULL);
    cr_expect_eq(r.status, 405, "%s", r.raw);
    pt_resp_free(&r);
    char log[600];
    snprintf(log, sizeof(log), "%s/c-http.log", dir);
    stop_clean(pid, log);
}

Test(http, coordinator_bad_cert_exits_2)
{
    char bin[512], listen[64], missing[600];
    pt_bin("portco-coordinator", bin, sizeof(bin));
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", pt_free_port());
    snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
    char *argv[] = {bin,        "--config", cluster_file, "--zk",  (char *)pt_zk_shared(),
                    "--listen", listen,     "--tls-cert", missing, "--tls-key",
                    missing,    NULL};
    char *err = NULL;
    int st = -1;
    cr_assert_eq(pt_run(argv, NULL, 20000, NULL, &err, &st), 0);
    cr_expect_eq(st, 2, "exit %d: %s", st, err ? err : "");
    cr_expect(err && strstr(err, "cannot read it"), "%s", err ? err : "");
    free(err);
}

Test(http, coordinator_follower_points_at_the_leader)
{
    char lbase[64], fbase[64], url[160];
    coord_start_id("c-http", lbase, sizeof(lbase));
    cr_assert(pt_wait_until(published, lbase, 30000), "the leader never published");
    coord_start_id("c-follow", fbase, sizeof(fbase));
    snprintf(url, sizeof(url), "%s/v1/leader", fbase);
    pt_resp r = {.status = -1};
    long long deadline = pt_now_ms() + 20000;
    while (r.status != 200 && pt_now_ms() < deadline) {
        pt_resp_free(&r);
        pt_nap_ms(50);
        r = http_get(url);
    }
    cr_assert_eq(r.status, 200, "%s", r.raw);
    json_t *j = body_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(j, "id")), "c-http");
    cr_expect(json_is_false(json_object_get(j, "self")));
    json_decref(j);
    pt_resp_free(&r);
    cr_expect_eq(scrape(fbase, "portco_coordinator_is_leader"), 0);
    cr_expect_eq(scrape(fbase, "portco_coordinator_pools_published"), 0);
    cr_expect_eq(scrape(fbase, "portco_coordinator_pools_loaded"), 1);
}

/* With nothing published the agent is not ready: /v1/claims says so with 503. */
Test(http, agent_claims_before_the_configuration_is_503)
{
    char log[600], listen[64], url[160], base[64];
    int port = pt_free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(log, sizeof(log), "%s/h1.log", dir);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    char *extra[] = {"--metrics-listen", listen, NULL};
    pid_t pid = agent_spawn("h1", log, extra);
    cr_assert_gt(pid, 0);
    pt_track(pid);
    snprintf(url, sizeof(url), "%s/v1/claims", base);
    pt_resp r = {.status = -1};
    long long deadline = pt_now_ms() + 20000;
    while (r.status == -1 && pt_now_ms() < deadline) {
        pt_resp_free(&r);
        pt_nap_ms(50);
        r = http_get(url);
    }
    cr_assert_eq(r.status, 503, "%s", r.raw);
    json_t *j = body_json(&r);
    const char *e = json_string_value(json_object_get(j, "error"));
    cr_expect(e && (strcmp(e, "NOT_READY") == 0 || strcmp(e, "ZK_UNAVAILABLE") == 0), "%s", r.body);
    json_decref(j);
    pt_resp_free(&r);
    /* /v1/status answers too, with 503 and the status saying why. */
    snprintf(url, sizeof(url), "%s/v1/status", base);
    r = http_get(url);
    cr_expect_eq(r.status, 503, "%s", r.raw);
    j = body_json(&r);
    cr_expect(json_is_false(json_object_get(j, "ready")), "%s", r.body);
    json_decref(j);
    pt_resp_free(&r);
    cr_expect_eq(scrape(base, "portco_agent_ready"), 0);
    stop_clean(pid, log);
}
