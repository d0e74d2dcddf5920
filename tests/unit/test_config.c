/* test_config.c - cluster and agent files: data-driven diagnostics, loaded values, portco lint. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster_file.h"

extern char **environ;

static const char *pt_env(const char *name)
{
    const char *v = getenv(name);
    cr_assert(v && *v, "$%s must be set (run the test through ctest)", name);
    return v;
}

static char *pt_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pt_path(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    cr_assert(vasprintf(&s, fmt, ap) >= 0);
    va_end(ap);
    return s;
}

static bool pt_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int pt_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the case folders under $PORTCO_TEST_DATA/config. */
static char **pt_cases(size_t *n)
{
    char *dir = pt_path("%s/config", pt_env("PORTCO_TEST_DATA"));
    DIR *d = opendir(dir);
    cr_assert(d, "cannot open %s", dir);
    char **v = NULL;
    size_t cnt = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        v = realloc(v, (cnt + 1) * sizeof(*v));
        v[cnt++] = strdup(e->d_name);
    }
    closedir(d);
    free(dir);
    qsort(v, cnt, sizeof(*v), pt_cmp_str);
    *n = cnt;
    return v;
}

static void pt_free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Lines of a file without their newlines; empty lines skipped. */
static char **pt_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s", path);
    char **v = NULL, *line = NULL;
    size_t cap = 0, cnt = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!len)
            continue;
        v = realloc(v, (cnt + 1) * sizeof(*v));
        v[cnt++] = strdup(line);
    }
    free(line);
    fclose(f);
    *n = cnt;
    return v;
}

static void pt_dump(const pc_diags *d, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < d->n && off < len; i++) {
        char line[1024];
        int w = snprintf(buf + off, len - off, "\n    %s",
                         pc_diag_format(&d->v[i], line, sizeof(line)));
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

/*
 * Check one case folder; returns true when the diagnostics match `expected`:
 * the word "ok", or one "LINE:COL CODE substring" line per diagnostic, in any order.
 */
static bool pt_check_case(const char *name)
{
    const char *data = pt_env("PORTCO_TEST_DATA");
    char *cluster = pt_path("%s/config/%s/cluster.yaml", data, name);
    char *agent = pt_path("%s/config/%s/agent.yaml", data, name);
    char *exp = pt_path("%s/config/%s/expected", data, name);
    bool is_agent = !pt_exists(cluster);
    cr_assert(!is_agent || pt_exists(agent), "case %s has neither cluster.yaml nor agent.yaml",
              name);
    size_t nexp;
    char **want = pt_lines(exp, &nexp);
    cr_assert(nexp > 0, "case %s: expected is empty", name);

    pc_diags d = PC_DIAGS_INIT;
    int rc;
    if (is_agent) {
        pc_agent_config c;
        rc = pc_agent_config_load_file(agent, &c, &d);
        if (rc == 0)
            pc_agent_config_free(&c);
    } else {
        pc_cluster c;
        rc = pc_cluster_load_file(cluster, &c, &d);
        if (rc == 0)
            pc_cluster_free(&c);
    }
    bool ok = true;
    char dump[16384];
    pt_dump(&d, dump, sizeof(dump));
    if (nexp == 1 && strcmp(want[0], "ok") == 0) {
        cr_expect(rc == 0 && d.n == 0, "case %s: expected ok, got rc %d and:%s", name, rc, dump);
        ok = rc == 0 && d.n == 0;
    } else {
        cr_expect_eq(rc, PORTCO_ECONFIG, "case %s: rc %d, expected PORTCO_ECONFIG", name, rc);
        ok = rc == PORTCO_ECONFIG;
        bool *used = calloc(d.n + 1, sizeof(bool));
        for (size_t i = 0; i < nexp; i++) {
            int line, col, off = 0;
            char code[64];
            cr_assert(sscanf(want[i], "%d:%d %63s %n", &line, &col, code, &off) == 3 && off > 0,
                      "case %s: bad expected line '%s'", name, want[i]);
            cr_assert(pc_diag_code_from_name(code) >= 0, "case %s: unknown code %s", name, code);
            const char *sub = want[i] + off;
            size_t j = 0;
            for (; j < d.n; j++)
                if (!used[j] && d.v[j].line == line && d.v[j].col == col &&
                    strcmp(pc_diag_code_name(d.v[j].code), code) == 0 && strstr(d.v[j].msg, sub))
                    break;
            if (j < d.n) {
                used[j] = true;
            } else {
                cr_expect_fail("case %s: no diagnostic matches '%s'; got:%s", name, want[i], dump);
                ok = false;
            }
        }
        cr_expect_eq(d.n, nexp, "case %s: %zu diagnostics, expected %zu:%s", name, d.n, nexp, dump);
        ok = ok && d.n == nexp;
        free(used);
    }
    pc_diags_free(&d);
    pt_free_strv(want, nexp);
    free(cluster);
    free(agent);
    free(exp);
    return ok;
}

Test(config, data_cases)
{
    size_t n;
    char **cases = pt_cases(&n);
    cr_assert(n >= 30, "only %zu cases found", n);
    size_t failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += !pt_check_case(cases[i]);
    cr_expect_eq(failed, 0, "%zu of %zu cases failed", failed, n);
    pt_free_strv(cases, n);
}

/* Every diagnostic code (but io-error, which needs a missing file) has a case folder. */
Test(config, every_code_has_a_case)
{
    size_t n;
    char **cases = pt_cases(&n);
    bool seen[PC_DIAG_NCODES] = {false};
    for (size_t i = 0; i < n; i++) {
        char *exp = pt_path("%s/config/%s/expected", pt_env("PORTCO_TEST_DATA"), cases[i]);
        size_t nl;
        char **lines = pt_lines(exp, &nl);
        for (size_t k = 0; k < nl; k++) {
            char code[64];
            int line, col;
            if (sscanf(lines[k], "%d:%d %63s", &line, &col, code) == 3 &&
                pc_diag_code_from_name(code) >= 0)
                seen[pc_diag_code_from_name(code)] = true;
        }
        pt_free_strv(lines, nl);
        free(exp);
    }
    for (int c = 0; c < PC_DIAG_NCODES; c++)
        if (c != PC_DIAG_IO)
            cr_expect(seen[c], "no case covers %s", pc_diag_code_name(c));
    pt_free_strv(cases, n);
}

static void pt_load_example(const char *rel, pc_cluster *c)
{
    char *p = pt_path("%s/config/examples/%s", pt_env("PORTCO_SOURCE_DIR"), rel);
    pc_diags d = PC_DIAGS_INIT;
    char dump[8192];
    int rc = pc_cluster_load_file(p, c, &d);
    pt_dump(&d, dump, sizeof(dump));
    cr_assert_eq(rc, 0, "%s: rc %d:%s", p, rc, dump);
    cr_assert_eq(d.n, 0);
    free(p);
}

Test(config, example_cluster_values)
{
    pc_cluster c;
    pt_load_example("cluster.yaml", &c);
    cr_assert_str_eq(c.root, "/portco");
    cr_assert_eq(c.npools, 3);
    char buf[256];

    const pc_pool *web = pc_cluster_find_pool(&c, "web");
    cr_assert(web);
    cr_assert_eq(web->proto, PC_PROTO_TCP);
    cr_assert_eq(web->scope, PC_SCOPE_CLUSTER);
    cr_assert_str_eq(web->address, "0.0.0.0");
    cr_assert(!web->allow_privileged);
    cr_assert_str_eq(pc_rangeset_format(&web->ranges, buf, sizeof(buf)), "20000-20999");
    cr_assert_str_eq(pc_rangeset_format(&web->exclude, buf, sizeof(buf)), "20080,20100-20110");
    cr_assert_str_eq(pc_rangeset_format(&web->ports, buf, sizeof(buf)),
                     "20000-20079,20081-20099,20111-20999");
    cr_assert_eq(pc_rangeset_count(&web->ports), 1000 - 12);
    cr_assert_eq(web->line, 8);
    cr_assert_eq(web->col, 5);

    const pc_pool *rtp = pc_cluster_find_pool(&c, "rtp");
    cr_assert(rtp);
    cr_assert_eq(rtp->proto, PC_PROTO_UDP);
    cr_assert_eq(rtp->scope, PC_SCOPE_HOST);
    cr_assert_str_eq(rtp->address, "::");
    cr_assert_str_eq(pc_rangeset_format(&rtp->ports, buf, sizeof(buf)), "21000-21999,22500-22999");

    const pc_pool *admin = pc_cluster_find_pool(&c, "admin");
    cr_assert(admin);
    cr_assert_str_eq(admin->address, "10.0.0.5");
    cr_assert_null(pc_cluster_find_pool(&c, "nope"));
    cr_assert_null(pc_cluster_find_pool(&c, NULL));

    cr_assert_eq(c.nstatics, 3);
    const pc_static *s = pc_cluster_static_for(&c, "web", 20443);
    cr_assert(s);
    cr_assert_str_eq(s->service, "frontend");
    cr_assert_eq(s->port, 20443);
    cr_assert_str_eq(s->pool, "web");
    cr_assert_null(pc_cluster_static_for(&c, "web", 20445));
    cr_assert_null(pc_cluster_static_for(&c, "admin", 20443));
    cr_assert_eq(pc_cluster_port_count(&c), 988 + 1500 + 100);
    pc_cluster_free(&c);
    pc_cluster_free(&c); /* idempotent */
}

Test(config, quickstart_cluster_values)
{
    pc_cluster c;
    pt_load_example("quickstart/cluster.yaml", &c);
    cr_assert_str_eq(c.root, "/portco");
    cr_assert_eq(c.npools, 2);
    const pc_pool *web = pc_cluster_find_pool(&c, "web");
    const pc_pool *local = pc_cluster_find_pool(&c, "local");
    cr_assert(web && local);
    cr_assert_eq(pc_rangeset_count(&web->ports), 100);
    cr_assert_eq(web->scope, PC_SCOPE_CLUSTER);
    cr_assert_eq(local->scope, PC_SCOPE_HOST);
    cr_assert_eq(pc_rangeset_nth(&local->ports, 0), 21000);
    cr_assert_eq(c.nstatics, 1);
    pc_cluster_free(&c);
}

Test(config, cluster_defaults)
{
    const char *text = "pools:\n  - {name: p, range: \"30000-30001\"}\n";
    pc_cluster c;
    pc_diags d = PC_DIAGS_INIT;
    cr_assert_eq(pc_cluster_load_string("mem.yaml", text, strlen(text), &c, &d), 0);
    cr_assert_str_eq(c.root, PC_DEFAULT_ROOT);
    cr_assert_eq(c.pools[0].proto, PC_PROTO_TCP);
    cr_assert_eq(c.pools[0].scope, PC_SCOPE_CLUSTER);
    cr_assert_str_eq(c.pools[0].address, "0.0.0.0");
    cr_assert(!c.pools[0].allow_privileged);
    cr_assert_eq(c.pools[0].exclude.n, 0);
    cr_assert_eq(c.nstatics, 0);
    cr_assert_null(pc_cluster_static_for(&c, "p", 30000));
    pc_cluster_free(&c);
    pc_diags_free(&d);
}

Test(config, failed_load_leaves_cluster_empty_and_accepts_null_diags)
{
    const char *text = "pools:\n  - {name: p, range: 30001-30000}\n";
    pc_cluster c;
    cr_assert_eq(pc_cluster_load_string("mem.yaml", text, strlen(text), &c, NULL), PORTCO_ECONFIG);
    cr_assert_eq(c.npools, 0);
    cr_assert_null(c.pools);
    pc_cluster_free(&c);
    /* Text need not be NUL-terminated: only len bytes are read. */
    const char good[] = "pools: []XXXX";
    cr_assert_eq(pc_cluster_load_string("mem.yaml", good, 9, &c, NULL), 0);
    pc_cluster_free(&c);
}

Test(config, io_errors)
{
    pc_diags d = PC_DIAGS_INIT;
    pc_cluster c;
    cr_assert_eq(pc_cluster_load_file("/nonexistent/portco/cluster.yaml", &c, &d), -ENOENT);
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.v[0].code, PC_DIAG_IO);
    cr_assert_str_eq(d.v[0].file, "/nonexistent/portco/cluster.yaml");
    cr_assert(strstr(d.v[0].msg, "No such file"));
    cr_assert_eq(pc_cluster_load_file(pt_env("PORTCO_TEST_DATA"), &c, &d), -EISDIR);
    cr_assert_eq(d.n, 2);
    pc_agent_config a;
    cr_assert_eq(pc_agent_config_load_file("/nonexistent/agent.yaml", &a, &d), -ENOENT);
    cr_assert_eq(d.n, 3);
    cr_assert_eq(pc_diags_count(&d, PC_DIAG_IO), 3);
    pc_agent_config_free(&a);
    pc_diags_free(&d);
}

Test(config, agent_defaults)
{
    pc_agent_config c;
    cr_assert_eq(pc_agent_config_defaults(&c), 0);
    cr_assert_str_eq(c.zookeeper, "127.0.0.1:2181");
    cr_assert_str_eq(c.socket, PORTCO_DEFAULT_SOCKET);
    cr_assert_str_eq(c.root, "/portco");
    cr_assert_eq(c.session_timeout_ms, 10000);
    cr_assert_eq(c.nprobe_addresses, 0);
    cr_assert_eq(c.timewait, PC_TIMEWAIT_REUSEADDR);
    cr_assert_eq(c.ephemeral, PC_EPHEMERAL_WARN);
    cr_assert_str_eq(c.state_file, "/var/lib/portco/agent.state");
    cr_assert_str_eq(c.metrics_listen, "");
    cr_assert(pc_host_id_valid(c.host_id), "host id '%s'", c.host_id);
    pc_agent_config_free(&c);

    /* An empty file is every default. */
    pc_diags d = PC_DIAGS_INIT;
    cr_assert_eq(pc_agent_config_load_string("a.yaml", "", 0, &c, &d), 0);
    cr_assert_eq(c.session_timeout_ms, 10000);
    cr_assert_str_eq(c.zookeeper, "127.0.0.1:2181");
    pc_agent_config_free(&c);
    pc_agent_config_free(&c);
    pc_diags_free(&d);
}

Test(config, agent_example_values)
{
    char *p = pt_path("%s/config/examples/agent.yaml", pt_env("PORTCO_SOURCE_DIR"));
    pc_agent_config c;
    pc_diags d = PC_DIAGS_INIT;
    cr_assert_eq(pc_agent_config_load_file(p, &c, &d), 0);
    cr_assert_str_eq(c.host_id, "web-1");
    cr_assert_eq(c.nprobe_addresses, 2);
    cr_assert_str_eq(c.probe_addresses[0], "0.0.0.0");
    cr_assert_str_eq(c.probe_addresses[1], "::");
    cr_assert_str_eq(c.metrics_listen, "");
    pc_agent_config_free(&c);
    free(p);

    const char *text = "timewait: avoid\nephemeral: avoid\nsession_timeout_ms: 2500\n"
                       "state_file: ''\nprobe_addresses: ['::0', 127.0.0.1]\n"
                       "metrics_listen: 127.0.0.1:9470\n";
    cr_assert_eq(pc_agent_config_load_string("a.yaml", text, strlen(text), &c, &d), 0);
    cr_assert_eq(c.timewait, PC_TIMEWAIT_AVOID);
    cr_assert_eq(c.ephemeral, PC_EPHEMERAL_AVOID);
    cr_assert_eq(c.session_timeout_ms, 2500);
    cr_assert_str_eq(c.state_file, "");
    cr_assert_str_eq(c.probe_addresses[0], "::"); /* canonical form */
    cr_assert_str_eq(c.metrics_listen, "127.0.0.1:9470");
    pc_agent_config_free(&c);
    cr_assert_eq(d.n, 0);

    p = pt_path("%s/config/examples/quickstart/agent.yaml", pt_env("PORTCO_SOURCE_DIR"));
    cr_assert_eq(pc_agent_config_load_file(p, &c, &d), 0);
    cr_assert_str_eq(c.root, "/portco");
    pc_agent_config_free(&c);
    free(p);
    pc_diags_free(&d);
}

static pc_pool pt_pool(const char *ranges, const char *address, pc_proto proto)
{
    pc_pool p;
    memset(&p, 0, sizeof(p));
    cr_assert_eq(pc_rangeset_parse(&p.ranges, ranges, NULL), 0);
    cr_assert_eq(pc_rangeset_copy(&p.ports, &p.ranges), 0);
    snprintf(p.address, sizeof(p.address), "%s", address);
    p.proto = proto;
    return p;
}

Test(config, overlap_rules)
{
    pc_pool any4 = pt_pool("100-200", "0.0.0.0", PC_PROTO_TCP);
    pc_pool any6 = pt_pool("150", "::", PC_PROTO_BOTH);
    pc_pool a1 = pt_pool("150-160", "10.0.0.1", PC_PROTO_TCP);
    pc_pool a2 = pt_pool("150-160", "10.0.0.2", PC_PROTO_TCP);
    pc_pool a1b = pt_pool("160-170", "10.0.0.1", PC_PROTO_TCP);
    pc_pool udp = pt_pool("100-200", "0.0.0.0", PC_PROTO_UDP);
    pc_pool far = pt_pool("300", "0.0.0.0", PC_PROTO_TCP);
    uint32_t first = 0;
    cr_assert(pc_pools_overlap(&any4, &a1, &first));
    cr_assert_eq(first, 150);
    cr_assert(pc_pools_overlap(&a1, &any6, NULL));
    cr_assert(pc_pools_overlap(&any4, &any6, NULL));
    cr_assert(!pc_pools_overlap(&a1, &a2, NULL), "different specific addresses may share");
    cr_assert(pc_pools_overlap(&a1, &a1b, &first));
    cr_assert_eq(first, 160);
    cr_assert(!pc_pools_overlap(&any4, &udp, NULL), "tcp and udp do not collide");
    cr_assert(pc_pools_overlap(&udp, &any6, NULL), "both covers udp");
    cr_assert(!pc_pools_overlap(&any4, &far, NULL));
    pc_pool *all[] = {&any4, &any6, &a1, &a2, &a1b, &udp, &far};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        pc_pool_free(all[i]);
}

Test(config, names_and_paths)
{
    cr_assert(pc_pool_name_valid("web"));
    cr_assert(pc_pool_name_valid("a.b_c-9"));
    cr_assert(!pc_pool_name_valid(""));
    cr_assert(!pc_pool_name_valid("."));
    cr_assert(!pc_pool_name_valid(".."));
    cr_assert(!pc_pool_name_valid("a/b"));
    cr_assert(!pc_pool_name_valid("a b"));
    cr_assert(!pc_pool_name_valid("\xc3\xa9t\xc3\xa9"));
    char name[80];
    memset(name, 'a', 63);
    name[63] = '\0';
    cr_assert(pc_pool_name_valid(name));
    name[63] = 'a';
    name[64] = '\0';
    cr_assert(!pc_pool_name_valid(name));
    cr_assert(pc_service_name_valid("api@v2:blue"));
    cr_assert(!pc_service_name_valid("a/b"));
    cr_assert(!pc_service_name_valid("a\tb"));
    cr_assert(!pc_service_name_valid(""));
    const char *why = NULL;
    cr_assert(pc_root_valid("/portco", NULL));
    cr_assert(pc_root_valid("/a/b.c/d", &why));
    cr_assert(!pc_root_valid("/", &why));
    cr_assert(!pc_root_valid("/a//b", &why));
    cr_assert(!pc_root_valid("/a/../b", &why));
    cr_assert(!pc_root_valid("/a/.", &why));
    cr_assert(!pc_root_valid("/zookeeper", &why));
    cr_assert(pc_root_valid("/zookeeperish", &why));
    cr_assert(!pc_root_valid("a", &why));
    cr_assert(why && *why);
    char canon[64];
    cr_assert_eq(pc_address_canon("::0", canon, sizeof(canon)), 0);
    cr_assert_str_eq(canon, "::");
    cr_assert_eq(pc_address_canon("0:0:0:0:0:0:0:1", canon, sizeof(canon)), 0);
    cr_assert_str_eq(canon, "::1");
    cr_assert_eq(pc_address_canon("10.0.0.1", canon, sizeof(canon)), 0);
    cr_assert_eq(pc_address_canon("example.com", canon, sizeof(canon)), -EINVAL);
    cr_assert_eq(pc_address_canon("", NULL, 0), -EINVAL);
    cr_assert(pc_address_is_wildcard("0:0::0"));
    cr_assert(pc_address_is_wildcard("0.0.0.0"));
    cr_assert(!pc_address_is_wildcard("127.0.0.1"));
    cr_assert_eq(pc_edit_distance("rnage", "range"), 1);
    cr_assert_eq(pc_edit_distance("adress", "address"), 1);
    cr_assert_eq(pc_edit_distance("", "abc"), 3);
}

Test(config, diag_format_print_and_json)
{
    pc_diags d = PC_DIAGS_INIT;
    cr_assert_eq(pc_diags_add(&d, PC_DIAG_RANGE_REVERSED, "cluster.yaml", 7, 12,
                              "pools[0] (web).range: '%s' is reversed", "30999-30000"),
                 0);
    cr_assert_eq(pc_diags_add(&d, PC_DIAG_IO, "x.yaml", 0, 0, "cannot read"), 0);
    cr_assert_eq(pc_diags_add(NULL, PC_DIAG_IO, "x", 0, 0, "dropped"), 0);
    char buf[256];
    cr_assert_str_eq(pc_diag_format(&d.v[0], buf, sizeof(buf)),
                     "cluster.yaml:7:12: error[range-reversed]: pools[0] (web).range: "
                     "'30999-30000' is reversed");
    cr_assert_str_eq(pc_diag_format(&d.v[1], buf, sizeof(buf)),
                     "x.yaml: error[io-error]: cannot read");
    char *mem = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&mem, &len);
    pc_diags_print(f, &d);
    fclose(f);
    cr_assert(strstr(mem, "cluster.yaml:7:12: error[range-reversed]: "));
    cr_assert(strstr(mem, "\nx.yaml: error[io-error]: cannot read\n"));
    free(mem);
    json_t *arr = pc_diags_to_json(&d);
    cr_assert(json_is_array(arr));
    cr_assert_eq(json_array_size(arr), 2);
    json_t *e = json_array_get(arr, 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), "range-reversed");
    cr_assert_eq(json_integer_value(json_object_get(e, "line")), 7);
    cr_assert_eq(json_integer_value(json_object_get(e, "col")), 12);
    cr_assert_str_eq(json_string_value(json_object_get(e, "file")), "cluster.yaml");
    json_decref(arr);
    cr_assert_eq(pc_diag_code_from_name("pool-overlap"), PC_DIAG_POOL_OVERLAP);
    cr_assert_eq(pc_diag_code_from_name("nope"), -1);
    cr_assert_str_eq(pc_diag_code_name((pc_diag_code)999), "unknown");
    pc_diags_free(&d);
    pc_diags_free(&d);
    pc_diags_free(NULL);
}

Test(config, diagnostics_are_capped)
{
    /* A file of many unknown keys stores PC_DIAGS_MAX entries and counts the rest. */
    size_t n = PC_DIAGS_MAX + 50;
    char *text = malloc(n * 16 + 32);
    size_t off = (size_t)sprintf(text, "pools: []\n");
    for (size_t i = 0; i < n; i++)
        off += (size_t)sprintf(text + off, "k%zu: 1\n", i);
    pc_diags d = PC_DIAGS_INIT;
    pc_cluster c;
    cr_assert_eq(pc_cluster_load_string("big.yaml", text, off, &c, &d), PORTCO_ECONFIG);
    cr_assert_eq(d.n, PC_DIAGS_MAX);
    cr_assert_eq(d.dropped, 50);
    pc_diags_free(&d);
    free(text);
}

/* Random edits of a valid file, loaded as both kinds: never a crash, always a coherent answer. */
Test(config, mutated_inputs_never_crash, .timeout = 100)
{
    char *p = pt_path("%s/config/examples/cluster.yaml", pt_env("PORTCO_SOURCE_DIR"));
    FILE *f = fopen(p, "r");
    cr_assert(f);
    char base[4096];
    size_t blen = fread(base, 1, sizeof(base), f);
    fclose(f);
    free(p);
    static const char junk[] = ":-[]{}&*!|>'\"\n #,?%@`\t0123456789\xff\xc3";
    unsigned seed = 12345;
    for (int iter = 0; iter < 1500; iter++) {
        char buf[4096 + 64];
        size_t len = blen;
        memcpy(buf, base, blen);
        int edits = 1 + rand_r(&seed) % 6;
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)rand_r(&seed) % (len ? len : 1);
            switch (rand_r(&seed) % 4) {
            case 0:
                buf[at] = junk[rand_r(&seed) % (sizeof(junk) - 1)];
                break;
            case 1:
                len = at; /* truncate */
                break;
            case 2:
                if (len < sizeof(buf) - 1) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = junk[rand_r(&seed) % (sizeof(junk) - 1)];
                    len++;
                }
                break;
            default:
                if (len) {
                    memmove(buf + at, buf + at + 1, len - at - 1);
                    len--;
                }
            }
        }
        pc_diags d = PC_DIAGS_INIT;
        pc_cluster c;
        int rc = pc_cluster_load_string("fuzz.yaml", buf, len, &c, &d);
        cr_assert(rc == 0 || rc == PORTCO_ECONFIG, "iteration %d: rc %d", iter, rc);
        cr_assert_eq(rc == 0, d.n == 0, "iteration %d: rc %d with %zu diags", iter, rc, d.n);
        for (size_t i = 0; i < d.n; i++) {
            cr_assert(d.v[i].line >= 1 && d.v[i].col >= 1, "iteration %d: position", iter);
            cr_assert(d.v[i].msg[0]);
        }
        pc_cluster_free(&c);
        pc_diags_free(&d);
        pc_agent_config a;
        rc = pc_agent_config_load_string("fuzz.yaml", buf, len, &a, &d);
        cr_assert(rc == 0 || rc == PORTCO_ECONFIG);
        pc_agent_config_free(&a);
        pc_diags_free(&d);
    }
}

/* ---- portco lint, run as a real process ---- */

typedef struct pt_proc_out {
    char *out, *err;
    int status;
} pt_proc_out;

static void pt_drain(int fd, char **buf, size_t *len)
{
    char tmp[4096];
    ssize_t r = read(fd, tmp, sizeof(tmp));
    if (r > 0) {
        *buf = realloc(*buf, *len + (size_t)r + 1);
        memcpy(*buf + *len, tmp, (size_t)r);
        *len += (size_t)r;
        (*buf)[*len] = '\0';
    }
}

/* Run the built `portco` with args; capture output; 10 s deadline. */
static pt_proc_out pt_lint(const char *const *args)
{
    char *bin = pt_path("%s/cli/portco", pt_env("PORTCO_BUILD_DIR"));
    cr_assert(access(bin, X_OK) == 0, "%s is not built", bin);
    char *argv[32];
    size_t n = 0;
    argv[n++] = bin;
    for (; *args && n < 31; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    int po[2], pe[2];
    cr_assert(pipe2(po, O_CLOEXEC) == 0 && pipe2(pe, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, bin, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    pt_proc_out r = {calloc(1, 1), calloc(1, 1), -1};
    size_t lo = 0, le = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int open_fds = 2;
    struct pollfd pfd[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    while (open_fds > 0) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms > 10000) {
            kill(pid, SIGKILL);
            break;
        }
        if (poll(pfd, 2, (int)(10000 - ms)) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            size_t before = i ? le : lo;
            pt_drain(pfd[i].fd, i ? &r.err : &r.out, i ? &le : &lo);
            if ((i ? le : lo) == before) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    free(bin);
    return r;
}

static void pt_proc_free(pt_proc_out *r)
{
    free(r->out);
    free(r->err);
}

Test(lint, valid_files_exit_0_with_a_summary)
{
    char *c = pt_path("%s/config/examples/cluster.yaml", pt_env("PORTCO_SOURCE_DIR"));
    char *a = pt_path("%s/config/examples/agent.yaml", pt_env("PORTCO_SOURCE_DIR"));
    const char *args[] = {"lint", c, "--agent", a, NULL};
    pt_proc_out r = pt_lint(args);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "cluster.yaml: ok (3 pools, 2588 ports, 3 static)"), "%s", r.out);
    cr_assert(strstr(r.out, "agent.yaml: ok"), "%s", r.out);
    cr_assert_str_eq(r.err, "");
    pt_proc_free(&r);
    free(c);
    free(a);
}

Test(lint, invalid_file_exits_1_and_lists_every_error)
{
    char *ok = pt_path("%s/config/examples/cluster.yaml", pt_env("PORTCO_SOURCE_DIR"));
    char *bad = pt_path("%s/config/many-errors/cluster.yaml", pt_env("PORTCO_TEST_DATA"));
    const char *args[] = {"lint", ok, bad, NULL};
    pt_proc_out r = pt_lint(args);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.out, "ok (3 pools"), "the valid file is still reported: %s", r.out);
    char want[1024];
    snprintf(want, sizeof(want),
             "%s:4:12: error[range-reversed]: pools[0] (web).range: '30999-30000' is reversed; "
             "write the lower port first: 30000-30999\n",
             bad);
    cr_assert(strstr(r.err, want), "%s", r.err);
    size_t lines = 0;
    for (const char *p = r.err; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 14, "%s", r.err);
    pt_proc_free(&r);
    free(ok);
    free(bad);
}

Test(lint, json_output_is_an_array_of_diagnostics)
{
    char *bad = pt_path("%s/config/static-errors/cluster.yaml", pt_env("PORTCO_TEST_DATA"));
    const char *args[] = {"lint", "--json", bad, NULL};
    pt_proc_out r = pt_lint(args);
    cr_assert_eq(r.status, 1);
    json_error_t je;
    json_t *arr = json_loads(r.out, 0, &je);
    cr_assert(json_is_array(arr), "not JSON: %s (%s)", je.text, r.out);
    cr_assert_eq(json_array_size(arr), 7);
    json_t *e = json_array_get(arr, 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), "static-unknown-pool");
    cr_assert_eq(json_integer_value(json_object_get(e, "line")), 6);
    cr_assert_str_eq(json_string_value(json_object_get(e, "file")), bad);
    json_decref(arr);
    pt_proc_free(&r);

    const char *args2[] = {"lint", "--json", "/nonexistent.yaml", NULL};
    r = pt_lint(args2);
    cr_assert_eq(r.status, 1);
    arr = json_loads(r.out, 0, &je);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "code")),
                     "io-error");
    json_decref(arr);
    pt_proc_free(&r);
    free(bad);
}

Test(lint, agent_files_are_checked_with_the_agent_schema)
{
    char *bad = pt_path("%s/config/agent-bad-values/agent.yaml", pt_env("PORTCO_TEST_DATA"));
    const char *args[] = {"lint", "--agent", bad, NULL};
    pt_proc_out r = pt_lint(args);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "error[bad-value]: timewait: 'sometimes' is not a policy"), "%s",
              r.err);
    pt_proc_free(&r);
    free(bad);
}

Test(lint, usage_errors_exit_2)
{
    const char *none[] = {"lint", NULL};
    pt_proc_out r = pt_lint(none);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "no file given"), "%s", r.err);
    pt_proc_free(&r);
    const char *unknown[] = {"lint", "--frobnicate", "x.yaml", NULL};
    r = pt_lint(unknown);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--frobnicate"), "%s", r.err);
    pt_proc_free(&r);
    const char *noarg[] = {"lint", "--agent", NULL};
    r = pt_lint(noarg);
    cr_assert_eq(r.status, 2);
    pt_proc_free(&r);
    const char *missing[] = {"lint", "/nonexistent.yaml", NULL};
    r = pt_lint(missing);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "/nonexistent.yaml: error[io-error]"), "%s", r.err);
    pt_proc_free(&r);
}
