/* test_zkcli.c - an operator browsing claims with ZooKeeper's own zkCli.sh sees the layout
 * and readable JSON. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "portco.h"
#include "support.h"

#define ZKCLI "/usr/share/zookeeper/bin/zkCli.sh"

static pt_cluster cl;

static void fini(void)
{
    cr_expect_eq(pt_cluster_stop(&cl), 0, "a daemon log holds a sanitizer report");
}

TestSuite(zkcli, .fini = fini, .timeout = 120);

/* Run zkCli.sh with one command; returns its stdout (malloc'd). */
static char *zkcli(const char *cmd, const char *path)
{
    char *argv[] = {ZKCLI, "-server", cl.connect, (char *)cmd, (char *)path, NULL};
    char *out = NULL, *err = NULL;
    int status = -1;
    char *env[] = {"ZOO_LOG4J_PROP=ERROR,CONSOLE", NULL};
    cr_assert_eq(pt_run(argv, env, 60000, &out, &err, &status), 0, "zkCli.sh %s timed out", cmd);
    cr_assert_eq(status, 0, "zkCli.sh %s %s: exit %d\n%s\n%s", cmd, path, status, out, err);
    free(err);
    return out;
}

/* The line of out that starts with `first` (a copy), or NULL. */
static char *line_starting(const char *out, char first)
{
    for (const char *l = out; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        if (len > 0 && l[0] == first)
            return strndup(l, len);
        l = e ? e + 1 : NULL;
    }
    return NULL;
}

Test(zkcli, ls_shows_ports_and_get_shows_claim_json)
{
    if (access(ZKCLI, X_OK) != 0)
        cr_skip(ZKCLI " is not installed");
    int base = pt_cluster_port_run(false, 10);
    cr_assert_gt(base, 0);
    char yaml[256];
    snprintf(yaml, sizeof(yaml), "pools:\n  - name: web\n    range: %d-%d\n", base, base + 9);
    pt_cluster_opts o = {.agents = 1, .coordinators = 1, .cluster = yaml};
    cr_assert_eq(pt_cluster_start(&cl, &o), 0);
    cr_assert(pt_cluster_wait_pool(&cl, 0, "web", 20000));

    portco_client *c[2];
    portco_claim claim[2];
    for (int i = 0; i < 2; i++) {
        portco_status st;
        cr_assert_eq(portco_connect(cl.agents[0].sock, &c[i], &st), 0, "%s", st.message);
        portco_acquire_opts ao = {.pool = "web", .service = "zkcli-api", .instance = "i-1"};
        cr_assert_eq(portco_acquire(c[i], &ao, &claim[i], &st), 0, "%s", st.message);
    }

    /* ls <root>/pools/web/ports: the claimed port numbers as children. */
    char path[600];
    snprintf(path, sizeof(path), "%s/pools/web/ports", cl.root);
    char *out = zkcli("ls", path);
    char *list = line_starting(out, '[');
    cr_assert_not_null(list, "no child list in:\n%s", out);
    char want[64];
    snprintf(want, sizeof(want), "[%u, %u]",
             (unsigned)(claim[0].port < claim[1].port ? claim[0].port : claim[1].port),
             (unsigned)(claim[0].port < claim[1].port ? claim[1].port : claim[0].port));
    cr_assert_str_eq(list, want, "zkCli ls printed: %s", list);
    free(list);
    free(out);

    /* get on a claim node: one line of JSON with the documented fields. */
    snprintf(path, sizeof(path), "%s/pools/web/ports/%u/%s", cl.root, (unsigned)claim[0].port,
             claim[0].claim);
    out = zkcli("get", path);
    char *line = line_starting(out, '{');
    cr_assert_not_null(line, "no JSON in:\n%s", out);
    json_error_t je;
    json_t *j = json_loads(line, 0, &je);
    cr_assert_not_null(j, "zkCli get printed unreadable JSON (%s): %s", je.text, line);
    cr_assert_str_eq(json_string_value(json_object_get(j, "host")) ?: "", "h0");
    cr_assert_str_eq(json_string_value(json_object_get(j, "address")) ?: "", "0.0.0.0");
    cr_assert_str_eq(json_string_value(json_object_get(j, "proto")) ?: "", "tcp");
    cr_assert_str_eq(json_string_value(json_object_get(j, "service")) ?: "", "zkcli-api");
    cr_assert_eq(json_integer_value(json_object_get(j, "pid")), (json_int_t)getpid());
    const char *since = json_string_value(json_object_get(j, "since"));
    cr_assert(since && strlen(since) == 20 && since[10] == 'T' && since[19] == 'Z',
              "since is not an ISO-8601 UTC time: %s", line);
    json_decref(j);
    free(line);
    free(out);
    for (int i = 0; i < 2; i++)
        portco_close(c[i]);
}
