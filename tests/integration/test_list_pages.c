/* test_list_pages.c - `list` of 10,000 claims in pages: libportco, `portco ls`, the raw protocol.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fixture.h"
#include "support.h"

/*
 * The claims are other hosts' claim nodes written straight into ZooKeeper
 * (the listing reads ZooKeeper, so they count as any claim does): pool "big"
 * (cluster scope) has PT_BIG claims of host "h-far", one per port; pool "hs"
 * (host scope) has PT_HS ports each claimed by the three hosts of pt_hs_hosts,
 * so that pages end in the middle of a port and of a pool.
 */
#define PT_BIG      7000
#define PT_HS       1000
#define PT_BIG_BASE 20000
#define PT_HS_BASE  40000
#define PT_TOTAL    (PT_BIG + 3 * PT_HS)

static const char *const pt_hs_hosts[] = {"ha", "hb", "hc"};

/* One expected claim, in listing order. */
typedef struct pt_want {
    const char *pool;
    int port;
    const char *host;
    char claim[64];
} pt_want;

static pt_want W[PT_TOTAL];

static pt_agent A;

static void pt_want_fill(void)
{
    int n = 0;
    for (int i = 0; i < PT_BIG; i++, n++) {
        W[n] = (pt_want){.pool = "big", .port = PT_BIG_BASE + i, .host = "h-far"};
        snprintf(W[n].claim, sizeof(W[n].claim), "_c_u%d-far-lock-%010d", PT_BIG_BASE + i, i);
    }
    for (int i = 0; i < PT_HS; i++)
        for (int h = 0; h < 3; h++, n++) {
            W[n] = (pt_want){.pool = "hs", .port = PT_HS_BASE + i, .host = pt_hs_hosts[h]};
            snprintf(W[n].claim, sizeof(W[n].claim), "_c_u%d-%s-lock-%010d", PT_HS_BASE + i,
                     pt_hs_hosts[h], i);
        }
}

/* The claim node's path of W[i] and its data. */
static void pt_want_node(int i, char **path, char **data)
{
    const pt_want *w = &W[i];
    char p[400];
    if (strcmp(w->pool, "big") == 0)
        snprintf(p, sizeof(p), "%s/pools/big/ports/%d", pt_root, w->port);
    else
        snprintf(p, sizeof(p), "%s/pools/hs/hosts/%s/ports/%d", pt_root, w->host, w->port);
    size_t n = strlen(p) + strlen(w->claim) + 2;
    *path = malloc(n);
    cr_assert_not_null(*path);
    snprintf(*path, n, "%s/%s", p, w->claim);
    json_t *d =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:s}", "host", w->host, "address",
                  "127.0.0.1", "proto", "tcp", "service", "svc", "instance", "", "pid", 1, "uid",
                  1000, "since_ms", (json_int_t)1795809600000, "lifetime", "explicit");
    *data = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    cr_assert_not_null(*data);
}

/* Paths of the nodes of W: each port node, then its claim node (owned). */
static char **P;

static void pt_publish_many(void)
{
    pt_pool_def big = {
        .name = "big", .lo = PT_BIG_BASE, .hi = PT_BIG_BASE + PT_BIG - 1, .address = "127.0.0.1"};
    pt_pool_def hs = {.name = "hs",
                      .lo = PT_HS_BASE,
                      .hi = PT_HS_BASE + PT_HS - 1,
                      .scope = "host",
                      .address = "127.0.0.1"};
    cr_assert_eq(pt_zkr_publish_pool(pt_z, pt_root, &big), 0);
    cr_assert_eq(pt_zkr_publish_pool(pt_z, pt_root, &hs), 0);
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/pools/big/ports", pt_root);
    cr_assert_eq(pt_zkr_create_path(pt_z, dir, NULL), 0);
    for (int h = 0; h < 3; h++) {
        snprintf(dir, sizeof(dir), "%s/pools/hs/hosts/%s/ports", pt_root, pt_hs_hosts[h]);
        cr_assert_eq(pt_zkr_create_path(pt_z, dir, NULL), 0);
    }
    /* Each port node, then its claim node. */
    char **paths = P = calloc(2 * PT_TOTAL, sizeof(char *));
    char **data = calloc(2 * PT_TOTAL, sizeof(char *));
    cr_assert(paths && data);
    for (int i = 0; i < PT_TOTAL; i++) {
        pt_want_node(i, &paths[2 * i + 1], &data[2 * i + 1]);
        paths[2 * i] = strdup(paths[2 * i + 1]);
        cr_assert_not_null(paths[2 * i]);
        *strrchr(paths[2 * i], '/') = '\0';
    }
    int rc = pt_zkr_create_many(pt_z, paths, data, 2 * PT_TOTAL);
    cr_assert_eq(rc, 0, "creating %d nodes: %d", 2 * PT_TOTAL, rc);
    for (int i = 0; i < 2 * PT_TOTAL; i++)
        free(data[i]);
    free(data);
}

static void pt_start(void)
{
    pt_want_fill();
    pt_setup();
    pt_publish_many();
    pt_start_agent(&A, "h-pages");
}

/* Delete the nodes in multi-ops (children first), then the rest as any agent test does. */
static void pt_stop(void)
{
    if (P && pt_z) {
        pt_renew_session(); /* pt_z was idle while the listings ran */
        char **rev = calloc(2 * PT_TOTAL, sizeof(char *));
        for (int i = 0; rev && i < 2 * PT_TOTAL; i++)
            rev[i] = P[2 * PT_TOTAL - 1 - i];
        if (rev)
            pt_zkr_delete_many(pt_z, rev, 2 * PT_TOTAL);
        free(rev);
    }
    for (int i = 0; P && i < 2 * PT_TOTAL; i++)
        free(P[i]);
    free(P);
    P = NULL;
    pt_teardown();
}

TestSuite(list_pages, .init = pt_start, .fini = pt_stop, .timeout = 300);

/* Claim i of a listing is W[from + i]. */
static void pt_assert_claim(const char *what, size_t i, const char *pool, int port,
                            const char *host, const char *claim, const pt_want *w)
{
    cr_assert(strcmp(pool, w->pool) == 0 && port == w->port && strcmp(host, w->host) == 0 &&
                  strcmp(claim, w->claim) == 0,
              "%s: claim %zu is %s/%d/%s/%s, expected %s/%d/%s/%s", what, i, pool, port, host,
              claim, w->pool, w->port, w->host, w->claim);
}

Test(list_pages, portco_list_returns_every_claim_once_in_order)
{
    portco_client *c;
    cr_assert_eq(portco_connect(A.sock, &c, NULL), 0);
    portco_claim *cls = NULL;
    size_t n = 0;
    portco_status st;
    int rc = portco_list(c, NULL, &cls, &n, &st);
    cr_assert_eq(rc, 0, "portco_list: %s", st.message);
    cr_assert_eq(n, (size_t)PT_TOTAL, "listed %zu claims, expected %d", n, PT_TOTAL);
    for (size_t i = 0; i < n; i++) {
        pt_assert_claim("portco_list", i, cls[i].pool, cls[i].port, cls[i].host, cls[i].claim,
                        &W[i]);
        cr_assert_eq(cls[i].fd, -1);
    }
    portco_list_free(cls);

    /* One pool: the host-scope pool alone, three claims per port. */
    rc = portco_list(c, "hs", &cls, &n, &st);
    cr_assert_eq(rc, 0, "portco_list hs: %s", st.message);
    cr_assert_eq(n, (size_t)(3 * PT_HS));
    for (size_t i = 0; i < n; i++)
        pt_assert_claim("portco_list hs", i, cls[i].pool, cls[i].port, cls[i].host, cls[i].claim,
                        &W[PT_BIG + i]);
    portco_list_free(cls);
    portco_close(c);
}

Test(list_pages, portco_ls_json_prints_every_claim_once_in_order)
{
    char bin[600];
    pt_bin("portco", bin, sizeof(bin));
    char *argv[] = {bin, "--socket", A.sock, "ls", "--json", NULL};
    char *out = NULL, *err = NULL;
    int status = -1;
    cr_assert_eq(pt_run(argv, NULL, 120000, &out, &err, &status), 0);
    cr_assert_eq(status, 0, "portco ls --json: %s", err);
    json_error_t je;
    json_t *arr = json_loads(out, 0, &je);
    cr_assert(json_is_array(arr), "not a JSON array: %s", je.text);
    cr_assert_eq(json_array_size(arr), (size_t)PT_TOTAL);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        pt_assert_claim("portco ls", i, json_string_value(json_object_get(o, "pool")),
                        (int)json_integer_value(json_object_get(o, "port")),
                        json_string_value(json_object_get(o, "host")),
                        json_string_value(json_object_get(o, "claim")), &W[i]);
    }
    json_decref(arr);
    free(out);
    free(err);

    /* The table too: a header and one line per claim. */
    char *targv[] = {bin, "--socket", A.sock, "ls", NULL};
    cr_assert_eq(pt_run(targv, NULL, 120000, &out, &err, &status), 0);
    cr_assert_eq(status, 0, "portco ls: %s", err);
    size_t lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, (size_t)PT_TOTAL + 1);
    free(out);
    free(err);
}

/* A raw connection to the agent: send one request line, read one answer line. */
static json_t *pt_raw(int fd, const char *req)
{
    size_t len = strlen(req);
    cr_assert_eq(write(fd, req, len), (ssize_t)len);
    static char buf[1 << 17];
    size_t have = 0;
    long long deadline = pt_now_ms() + 30000;
    for (;;) {
        char *nl = memchr(buf, '\n', have);
        if (nl) {
            json_error_t je;
            json_t *v = json_loadb(buf, (size_t)(nl - buf), 0, &je);
            cr_assert_not_null(v, "answer is not JSON: %s", je.text);
            cr_assert_eq(nl + 1 - buf, (long)have, "one answer at a time");
            return v;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(deadline - pt_now_ms());
        cr_assert(left > 0 && poll(&p, 1, left) == 1, "no answer to %s", req);
        ssize_t n = read(fd, buf + have, sizeof(buf) - have);
        cr_assert_gt(n, 0);
        have += (size_t)n;
    }
}

Test(list_pages, protocol_pages_resume_mid_port_and_refuse_an_unpaged_overflow)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", A.sock);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);

    /* Without "limit", the old single answer: too big here, said so. */
    json_t *a = pt_raw(fd, "{\"v\":1,\"id\":1,\"op\":\"list\"}\n");
    cr_assert(json_is_false(json_object_get(a, "ok")));
    const char *code = json_string_value(json_object_get(json_object_get(a, "error"), "code"));
    cr_assert_str_eq(code, "MESSAGE_TOO_BIG");
    json_decref(a);

    /* A cursor in the middle of port 40005 of "hs": the page goes on with host hb. */
    const pt_want *mid = &W[PT_BIG + 5 * 3];
    char req[512];
    snprintf(req, sizeof(req),
             "{\"v\":1,\"id\":2,\"op\":\"list\",\"limit\":4,\"after\":{\"pool\":\"hs\","
             "\"port\":%d,\"host\":\"%s\",\"claim\":\"%s\"}}\n",
             mid->port, mid->host, mid->claim);
    a = pt_raw(fd, req);
    cr_assert(json_is_true(json_object_get(a, "ok")));
    json_t *claims = json_object_get(a, "claims");
    cr_assert_eq(json_array_size(claims), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *o = json_array_get(claims, i);
        pt_assert_claim("mid-port page", i, json_string_value(json_object_get(o, "pool")),
                        (int)json_integer_value(json_object_get(o, "port")),
                        json_string_value(json_object_get(o, "host")),
                        json_string_value(json_object_get(o, "claim")), &W[PT_BIG + 16 + i]);
    }
    json_t *next = json_object_get(a, "next");
    cr_assert_not_null(next);
    cr_assert_str_eq(json_string_value(json_object_get(next, "claim")), W[PT_BIG + 19].claim);
    json_decref(a);

    /* The last pool's end: the final page has no "next". */
    const pt_want *last2 = &W[PT_TOTAL - 2];
    snprintf(req, sizeof(req),
             "{\"v\":1,\"id\":3,\"op\":\"list\",\"limit\":10,\"after\":{\"pool\":\"hs\","
             "\"port\":%d,\"host\":\"%s\",\"claim\":\"%s\"}}\n",
             last2->port, last2->host, last2->claim);
    a = pt_raw(fd, req);
    cr_assert_eq(json_array_size(json_object_get(a, "claims")), 1);
    cr_assert_null(json_object_get(a, "next"));
    json_decref(a);

    /* A cursor without "limit" is a mistake of the client. */
    a = pt_raw(fd, "{\"v\":1,\"id\":4,\"op\":\"list\",\"after\":{\"pool\":\"hs\",\"port\":1}}\n");
    code = json_string_value(json_object_get(json_object_get(a, "error"), "code"));
    cr_assert_str_eq(code, "BAD_REQUEST");
    json_decref(a);
    close(fd);
}
