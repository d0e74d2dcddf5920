/* test_coordinator.c - portco-coordinator against the shared ZooKeeper: election, publishing,
 * reload. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"
#include "zkpath.h"
#include "zkread.h"

#define SESSION_MS 1500
#define WAIT_MS    15000

static char root[256];
static char *dir;
static char cfg_path[512];
static pt_zkr *zks;
static pid_t pids[4];
static int npids;

/* ---- fixtures ---- */

static void setup(void)
{
    cr_assert_not_null(pt_zk_shared(), "no shared ZooKeeper (run through ctest)");
    pt_unique_root("coord", root, sizeof(root));
    dir = pt_tmpdir("portco-coord");
    cr_assert_not_null(dir);
    snprintf(cfg_path, sizeof(cfg_path), "%s/cluster.yaml", dir);
    cr_assert_eq(pt_zkr_connect(&zks, pt_zk_shared(), 10000, WAIT_MS), 0);
    npids = 0;
}

static char *slurp(const char *path);

/* Sanitizer reports of the coordinators (ASan builds) fail the test. */
static void check_logs(void)
{
    const char *ids[] = {"c1", "c2"};
    for (size_t i = 0; i < 2; i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s/%s.log", dir, ids[i]);
        char *s = slurp(p);
        bool bad = strstr(s, "Sanitizer") || strstr(s, "runtime error:");
        cr_expect_not(bad, "%s:\n%s", ids[i], s);
        free(s);
    }
}

static void teardown(void)
{
    for (int i = 0; i < npids; i++)
        if (pids[i] > 0)
            pt_stop_pid(pids[i], SIGTERM, 5000);
    if (dir)
        check_logs();
    if (zks) {
        pt_zkr_delete_tree(zks, root);
        pt_zkr_close(zks);
        zks = NULL;
    }
    if (dir) {
        pt_rmtree(dir);
        free(dir);
        dir = NULL;
    }
}

TestSuite(coordinator, .init = setup, .fini = teardown, .timeout = 120);

/* Replace the cluster file atomically (the coordinator never reads half a file). */
static void write_cfg(const char *text)
{
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", cfg_path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, cfg_path), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    return buf;
}

static void log_path(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s.log", dir, id);
}

static pid_t start_coord(const char *id)
{
    char bin[512], session[16], logf[600];
    pt_bin("portco-coordinator", bin, sizeof(bin));
    snprintf(session, sizeof(session), "%d", SESSION_MS);
    log_path(id, logf, sizeof(logf));
    char *argv[] = {bin,
                    "--config",
                    cfg_path,
                    "--zk",
                    (char *)pt_zk_shared(),
                    "--root",
                    root,
                    "--session-timeout",
                    session,
                    "--id",
                    (char *)id,
                    "--log-level", /* the test reads the log, whatever $PORTCO_LOG says */
                    "info",
                    NULL};
    pid_t pid = pt_spawn(argv, NULL, logf, logf);
    cr_assert_gt(pid, 0, "spawn %s: %d", bin, pid);
    cr_assert_lt(npids, 4);
    pids[npids++] = pid;
    return pid;
}

static void forget_pid(pid_t pid)
{
    for (int i = 0; i < npids; i++)
        if (pids[i] == pid)
            pids[i] = 0;
}

/* ---- reading ZooKeeper ---- */

static void zpath(char *buf, size_t len, const char *suffix)
{
    snprintf(buf, len, "%s%s", root, suffix);
}

static json_t *get_json(const char *suffix)
{
    char path[512];
    zpath(path, sizeof(path), suffix);
    char *data = NULL;
    int len = 0;
    if (pt_zkr_get(zks, path, &data, &len, NULL) < 0)
        return NULL;
    json_t *j = json_loadb(data, (size_t)(len > 0 ? len : 0), 0, NULL);
    free(data);
    return j;
}

static bool exists(const char *suffix)
{
    char path[512];
    zpath(path, sizeof(path), suffix);
    return pt_zkr_exists(zks, path, NULL) == 0;
}

typedef struct leader_want {
    const char *id;
} leader_want;

/* Leader node present and naming `id`. */
static bool leader_is(void *arg)
{
    leader_want *w = arg;
    json_t *j = get_json("/coordinator/leader");
    bool ok = j && json_is_string(json_object_get(j, "id")) &&
              strcmp(json_string_value(json_object_get(j, "id")), w->id) == 0;
    json_decref(j);
    return ok;
}

static void wait_leader(const char *id, int timeout_ms)
{
    leader_want w = {id};
    cr_assert(pt_wait_until(leader_is, &w, timeout_ms), "%s never became leader", id);
}

static bool node_exists(void *arg)
{
    return exists(arg);
}

static bool node_gone(void *arg)
{
    return !exists(arg);
}

static int count_children(const char *suffix)
{
    char path[512];
    zpath(path, sizeof(path), suffix);
    return pt_zkr_nchildren(zks, path); /* a negative code on error */
}

typedef struct children_want {
    const char *suffix;
    int n;
} children_want;

static bool children_are(void *arg)
{
    children_want *w = arg;
    return count_children(w->suffix) == w->n;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every node under <root>/config with its data and modification zxids, one per line. */
static void dump_tree(FILE *out, const char *path)
{
    char *data = NULL;
    int len = 0;
    struct Stat st;
    cr_assert_eq(pt_zkr_get(zks, path, &data, &len, &st), 0, "get %s", path);
    fprintf(out, "%s mzxid=%lld pzxid=%lld cversion=%d version=%d data=%.*s\n", path,
            (long long)st.mzxid, (long long)st.pzxid, st.cversion, st.version, len > 0 ? len : 0,
            data ? data : "");
    free(data);
    char **names;
    int n;
    cr_assert_eq(pt_zkr_children(zks, path, &names, &n, NULL), 0);
    /* Sort for a stable dump: the server's order is not specified. */
    if (n > 1)
        qsort(names, (size_t)n, sizeof(char *), cmp_names);
    for (int i = 0; i < n; i++) {
        char child[1024];
        snprintf(child, sizeof(child), "%s/%s", path, names[i]);
        dump_tree(out, child);
    }
    pt_zkr_free_strings(names, n);
}

static char *snapshot(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char path[512];
    zpath(path, sizeof(path), "/config");
    dump_tree(m, path);
    zpath(path, sizeof(path), "/pools");
    dump_tree(m, path);
    fclose(m);
    return buf;
}

typedef struct log_want {
    const char *id;
    const char *text;
} log_want;

static bool log_has(void *arg)
{
    log_want *w = arg;
    char p[600];
    log_path(w->id, p, sizeof(p));
    char *s = slurp(p);
    bool ok = strstr(s, w->text) != NULL;
    free(s);
    return ok;
}

static void wait_log(const char *id, const char *text)
{
    log_want w = {id, text};
    cr_assert(pt_wait_until(log_has, &w, WAIT_MS), "%s's log never said \"%s\"", id, text);
}

/* True when s contains "<file>:<line>:<col>: " for the cluster file. */
static bool has_position(const char *s, const char *file)
{
    size_t fl = strlen(file);
    for (const char *p = strstr(s, file); p; p = strstr(p + 1, file)) {
        const char *q = p + fl;
        if (*q++ != ':' || !isdigit((unsigned char)*q))
            continue;
        while (isdigit((unsigned char)*q))
            q++;
        if (*q++ != ':' || !isdigit((unsigned char)*q))
            continue;
        while (isdigit((unsigned char)*q))
            q++;
        if (q[0] == ':' && q[1] == ' ')
            return true;
    }
    return false;
}

/* ---- cluster files ---- */

static const char *CFG_TWO_POOLS = "pools:\n"
                                   "  - name: web\n"
                                   "    range: 30000-30099\n"
                                   "    exclude: [30010]\n"
                                   "    proto: tcp\n"
                                   "    scope: cluster\n"
                                   "  - name: db\n"
                                   "    range: [31000-31009, 31020]\n"
                                   "    proto: udp\n"
                                   "    scope: host\n"
                                   "    address: 127.0.0.1\n"
                                   "static:\n"
                                   "  - {pool: web, port: 30080, service: frontend}\n"
                                   "  - {pool: db, port: 31005, service: pg}\n";

static const char *CFG_WEB_ONLY = "pools:\n"
                                  "  - name: web\n"
                                  "    range: 30000-30099\n"
                                  "    exclude: [30010]\n"
                                  "    proto: tcp\n"
                                  "    scope: cluster\n"
                                  "static:\n"
                                  "  - {pool: web, port: 30080, service: frontend}\n";

static const char *CFG_THREE_POOLS = "pools:\n"
                                     "  - name: web\n"
                                     "    range: 30000-30099\n"
                                     "    exclude: [30010]\n"
                                     "    proto: tcp\n"
                                     "    scope: cluster\n"
                                     "  - name: db\n"
                                     "    range: [31000-31009, 31020]\n"
                                     "    proto: udp\n"
                                     "    scope: host\n"
                                     "    address: 127.0.0.1\n"
                                     "  - name: extra\n"
                                     "    range: 32000-32009\n"
                                     "static:\n"
                                     "  - {pool: web, port: 30080, service: frontend}\n"
                                     "  - {pool: db, port: 31005, service: pg}\n";

/* Two errors: a reversed range and a static outside its pool. */
static const char *CFG_BAD = "pools:\n"
                             "  - name: web\n"
                             "    range: 30099-30000\n"
                             "    proto: tcp\n"
                             "static:\n"
                             "  - {pool: web, port: 40000, service: frontend}\n"
                             "  - {pool: nosuch, port: 1, service: x}\n";

static void assert_json_eq(json_t *got, const char *want_text, const char *what)
{
    json_t *want = json_loads(want_text, 0, NULL);
    cr_assert_not_null(want);
    cr_assert_not_null(got, "%s missing", what);
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
    char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert(json_equal(got, want), "%s: got %s, want %s", what, g, w);
    free(g);
    free(w);
    json_decref(want);
    json_decref(got);
}

/* ---- tests ---- */

Test(coordinator, publishes_pools_and_statics)
{
    write_cfg(CFG_TWO_POOLS);
    pid_t pid = start_coord("c1");
    wait_leader("c1", WAIT_MS);
    cr_assert(pt_wait_until(node_exists, "/pools/db/hosts", WAIT_MS), "claim parents missing");

    assert_json_eq(get_json("/config/pools/web"),
                   "{\"name\":\"web\",\"ranges\":\"30000-30099\",\"exclude\":\"30010\","
                   "\"proto\":\"tcp\",\"scope\":\"cluster\",\"address\":\"0.0.0.0\","
                   "\"allow_privileged\":false}",
                   "pool web");
    assert_json_eq(get_json("/config/pools/db"),
                   "{\"name\":\"db\",\"ranges\":\"31000-31009,31020\",\"exclude\":\"\","
                   "\"proto\":\"udp\",\"scope\":\"host\",\"address\":\"127.0.0.1\","
                   "\"allow_privileged\":false}",
                   "pool db");
    assert_json_eq(get_json("/config/static/web/30080"), "{\"service\":\"frontend\"}",
                   "static web/30080");
    assert_json_eq(get_json("/config/static/db/31005"), "{\"service\":\"pg\"}", "static db/31005");
    cr_assert_eq(count_children("/config/pools"), 2);
    cr_assert_eq(count_children("/config/static/web"), 1);
    cr_assert(exists("/pools/web/ports"));
    cr_assert(exists("/pools/web/hosts"));
    cr_assert(exists("/pools/db/ports"));

    json_t *leader = get_json("/coordinator/leader");
    cr_assert_not_null(leader);
    cr_assert_eq(json_integer_value(json_object_get(leader, "pid")), pid);
    cr_assert(json_is_string(json_object_get(leader, "since")));
    cr_assert(json_is_string(json_object_get(leader, "host")));
    json_decref(leader);
    wait_log("c1", "publish: pools +2");

    /* A clean stop closes the session: the leader node goes at once. */
    cr_assert_eq(pt_stop_pid(pid, SIGTERM, 5000), 0);
    forget_pid(pid);
    cr_assert_not(exists("/coordinator/leader"));
}

Test(coordinator, one_leader_of_two_and_failover_after_kill)
{
    write_cfg(CFG_TWO_POOLS);
    pid_t c1 = start_coord("c1");
    wait_leader("c1", WAIT_MS);
    start_coord("c2");
    children_want two = {"/coordinator/election", 2};
    cr_assert(pt_wait_until(children_are, &two, WAIT_MS), "c2 never became a candidate");
    wait_log("c2", "election: following");
    leader_want w1 = {"c1"};
    cr_assert(leader_is(&w1), "leadership moved without a reason");

    /* kill -9: no clean close; c2 leads once the server expires c1's session. */
    long long t0 = pt_now_ms();
    cr_assert_eq(kill(c1, SIGKILL), 0);
    int status;
    cr_assert_eq(pt_wait_pid(c1, 5000, &status), 0);
    forget_pid(c1);
    wait_leader("c2", SESSION_MS * 4);
    long long took = pt_now_ms() - t0;
    cr_assert_lt(took, SESSION_MS * 3, "failover took %lld ms", took);
    children_want one = {"/coordinator/election", 1};
    cr_assert(pt_wait_until(children_are, &one, WAIT_MS));

    /* The new leader publishes a changed file on SIGHUP. */
    write_cfg(CFG_THREE_POOLS);
    cr_assert_eq(kill(pids[1], SIGHUP), 0);
    cr_assert(pt_wait_until(node_exists, "/config/pools/extra", WAIT_MS), "new pool not published");
    cr_assert(pt_wait_until(node_exists, "/pools/extra/ports", WAIT_MS));
    wait_log("c2", "publish: pools +1 ~0 -0");
}

Test(coordinator, bad_file_on_sighup_changes_nothing)
{
    write_cfg(CFG_TWO_POOLS);
    pid_t pid = start_coord("c1");
    wait_leader("c1", WAIT_MS);
    wait_log("c1", "publish: pools +2");
    char *before = snapshot();

    write_cfg(CFG_BAD);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    wait_log("c1", "rejected");
    /* Let a wrong write, if any, land before comparing; then compare bytes. */
    wait_log("c1", "keeping the configuration loaded before");
    char *after = snapshot();
    cr_assert_str_eq(after, before, "ZooKeeper changed after a bad file");
    free(after);

    char logf[600];
    log_path("c1", logf, sizeof(logf));
    char *log = slurp(logf);
    cr_assert(has_position(log, cfg_path), "no %s:LINE:COL: in the log:\n%s", cfg_path, log);
    cr_assert_not_null(strstr(log, "rejected ("), "error count missing:\n%s", log);
    free(log);
    cr_assert(pt_pid_alive(pid), "a bad file stopped the coordinator");

    /* The same coordinator still publishes a good file afterwards. */
    write_cfg(CFG_THREE_POOLS);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    cr_assert(pt_wait_until(node_exists, "/config/pools/extra", WAIT_MS));
    free(before);
}

Test(coordinator, removed_pool_is_removed_and_unchanged_nodes_are_not_rewritten)
{
    write_cfg(CFG_TWO_POOLS);
    pid_t pid = start_coord("c1");
    wait_leader("c1", WAIT_MS);
    cr_assert(pt_wait_until(node_exists, "/config/static/db/31005", WAIT_MS));
    char web[512];
    zpath(web, sizeof(web), "/config/pools/web");
    struct Stat before, after;
    cr_assert_eq(pt_zkr_exists(zks, web, &before), 0);

    write_cfg(CFG_WEB_ONLY);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    cr_assert(pt_wait_until(node_gone, "/config/pools/db", WAIT_MS), "pool db still published");
    cr_assert_not(exists("/config/static/db/31005"));
    cr_assert_not(exists("/config/static/db"));
    cr_assert(exists("/config/static/web/30080"));
    cr_assert_eq(pt_zkr_exists(zks, web, &after), 0);
    cr_assert_eq(after.mzxid, before.mzxid, "unchanged pool web was rewritten");
    /* Claims may still live under the removed pool: its claim tree stays. */
    cr_assert(exists("/pools/db/ports"));
    wait_log("c1", "statics +0 ~0 -1");

    /* Publishing the same file again writes nothing. */
    cr_assert_eq(kill(pid, SIGHUP), 0);
    wait_log("c1", "already matches");
    cr_assert_eq(pt_zkr_exists(zks, web, &after), 0);
    cr_assert_eq(after.mzxid, before.mzxid);
}

Test(coordinator, follower_rereads_on_sighup_and_publishes_when_leading)
{
    write_cfg(CFG_TWO_POOLS);
    pid_t c1 = start_coord("c1");
    wait_leader("c1", WAIT_MS);
    pid_t c2 = start_coord("c2");
    wait_log("c2", "election: following");

    write_cfg(CFG_THREE_POOLS);
    cr_assert_eq(kill(c2, SIGHUP), 0);
    wait_log("c2", "publishing once leader");
    cr_assert_not(exists("/config/pools/extra"), "a follower published");

    /* Put the old file back so only c2 knows the new one, then stop c1 cleanly. */
    write_cfg(CFG_TWO_POOLS);
    cr_assert_eq(pt_stop_pid(c1, SIGTERM, 5000), 0);
    forget_pid(c1);
    wait_leader("c2", WAIT_MS);
    cr_assert(pt_wait_until(node_exists, "/config/pools/extra", WAIT_MS),
              "c2 did not publish the file it had re-read");
}

Test(coordinator, expired_session_reenters_the_election)
{
    write_cfg(CFG_TWO_POOLS);
    pid_t c1 = start_coord("c1");
    wait_leader("c1", WAIT_MS);
    start_coord("c2");
    children_want two = {"/coordinator/election", 2};
    cr_assert(pt_wait_until(children_are, &two, WAIT_MS));

    /* Freeze c1 past its session timeout: the server expires it, c2 leads. */
    cr_assert_eq(kill(c1, SIGSTOP), 0);
    wait_leader("c2", SESSION_MS * 6);
    cr_assert_eq(kill(c1, SIGCONT), 0);
    /* c1 learns of the expiry, opens a new session and stands again, behind c2. */
    wait_log("c1", "session expired");
    cr_assert(pt_wait_until(children_are, &two, WAIT_MS), "c1 did not re-enter");
    wait_log("c1", "election: following");
    leader_want w2 = {"c2"};
    cr_assert(leader_is(&w2));
    cr_assert(pt_pid_alive(c1));
}

Test(coordinator, bad_file_at_start_exits_with_positions)
{
    write_cfg(CFG_BAD);
    char bin[512];
    pt_bin("portco-coordinator", bin, sizeof(bin));
    char *argv[] = {bin,      "--config", cfg_path, "--zk", (char *)pt_zk_shared(),
                    "--root", root,       NULL};
    char *err = NULL;
    int status = -1;
    cr_assert_eq(pt_run(argv, NULL, WAIT_MS, NULL, &err, &status), 0);
    cr_assert_eq(status, 2);
    cr_assert(has_position(err, cfg_path), "stderr: %s", err);
    cr_assert_not(exists("/config"), "a rejected file was published");
    free(err);

    char *usage[] = {bin, NULL};
    cr_assert_eq(pt_run(usage, NULL, WAIT_MS, NULL, &err, &status), 0);
    cr_assert_eq(status, 2);
    cr_assert_not_null(strstr(err, "--config"));
    free(err);
}
