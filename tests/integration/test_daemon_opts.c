/* test_daemon_opts.c - the daemons' --version, --zk, $PORTCO_ZK, --log-level and $PORTCO_LOG. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "zkread.h"

/*
 * Both daemons name ZooKeeper the same way (--zk, else $PORTCO_ZK, else the
 * agent file's `zookeeper`, else 127.0.0.1:2181) and take the log level the
 * same way (--log-level, else $PORTCO_LOG, else info). Each test starts real
 * daemons against the shared ZooKeeper; a connect string nobody serves
 * (127.0.0.1:1) stands for "the wrong choice". Daemons are stopped by pid.
 */

#define PT_NOWHERE "127.0.0.1:1" /* a connect string no ZooKeeper answers */

static struct {
    char *dir;
    char root[128];
    pt_zkr *zk;
    pid_t procs[8];
    int nprocs;
} D;

static const char *zk_shared(void)
{
    const char *zk = pt_zk_shared();
    cr_assert_not_null(zk, "no shared ZooKeeper: run through ctest (fixture zk)");
    return zk;
}

static void setup(void)
{
    memset(&D, 0, sizeof(D));
    D.dir = pt_tmpdir("pt-dopts");
    cr_assert_not_null(D.dir);
    pt_unique_root("dopts", D.root, sizeof(D.root));
    cr_assert_eq(pt_zkr_connect(&D.zk, zk_shared(), 10000, 10000), 0);
    int base = pt_port_run(4);
    cr_assert_gt(base, 0);
    pt_pool_def d = {.name = "web", .lo = base, .hi = base + 3, .address = "127.0.0.1"};
    cr_assert_eq(pt_zkr_publish_pool(D.zk, D.root, &d), 0);
}

static void teardown(void)
{
    for (int i = 0; i < D.nprocs; i++)
        if (D.procs[i] > 0)
            pt_stop_pid(D.procs[i], SIGTERM, 10000);
    if (D.zk) {
        pt_zkr_delete_tree(D.zk, D.root);
        pt_zkr_close(D.zk);
    }
    if (D.dir) {
        pt_rmtree(D.dir);
        free(D.dir);
    }
    memset(&D, 0, sizeof(D));
}

TestSuite(daemon_opts, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(daemon_args, .timeout = 60);

static pid_t track(pid_t pid)
{
    cr_assert_gt(pid, 0, "spawn: %d", (int)pid);
    if (D.nprocs < (int)(sizeof(D.procs) / sizeof(D.procs[0])))
        D.procs[D.nprocs++] = pid;
    return pid;
}

/* Run a program to completion: exit status, stdout and stderr (owned). */
static int run(char *const argv[], char *const env[], char **out, char **err)
{
    int status = -1;
    cr_assert_eq(pt_run(argv, env, 20000, out, err, &status), 0, "running %s", argv[0]);
    return status;
}

/* Write an agent file for host `host`; `zookeeper` NULL leaves the key out. */
static void agent_file(const char *path, const char *host, const char *zookeeper, const char *sock)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    if (zookeeper)
        fprintf(f, "zookeeper: \"%s\"\n", zookeeper);
    fprintf(f, "host_id: %s\nsocket: %s\nroot: %s\nsession_timeout_ms: 4000\nstate_file: \"\"\n",
            host, sock, D.root);
    fclose(f);
}

typedef struct agent_run {
    char sock[300];
    char log[300];
    pid_t pid;
} agent_run;

/*
 * Start an agent for `host` from an agent file (`file_zk` its zookeeper key,
 * NULL for none) with the extra flags `flags` (NULL-terminated, may be NULL)
 * and the environment entries `env`.
 */
static void agent_start(agent_run *a, const char *host, const char *file_zk, char *const flags[],
                        char *const env[])
{
    char bin[512], cfg[400];
    pt_bin("portco-agent", bin, sizeof(bin));
    snprintf(a->sock, sizeof(a->sock), "%s/%s.sock", D.dir, host);
    snprintf(a->log, sizeof(a->log), "%s/%s.log", D.dir, host);
    snprintf(cfg, sizeof(cfg), "%s/%s.yaml", D.dir, host);
    agent_file(cfg, host, file_zk, a->sock);
    char *argv[16] = {bin, "--config", cfg};
    int n = 3;
    for (int i = 0; flags && flags[i] && n < 15; i++)
        argv[n++] = flags[i];
    argv[n] = NULL;
    a->pid = track(pt_spawn(argv, env, a->log, a->log));
    cr_assert(pt_wait_unix_socket(a->sock, 20000), "agent %s: no socket (log %s)", host, a->log);
}

/* `portco status --json` of the agent: its "zookeeper" field into buf. */
static bool agent_connected(void *arg)
{
    agent_run *a = arg;
    char bin[512];
    pt_bin("portco", bin, sizeof(bin));
    char *argv[] = {bin, "--socket", a->sock, "status", "--json", NULL};
    char *out = NULL;
    int status = -1;
    if (pt_run(argv, NULL, 10000, &out, NULL, &status) != 0) {
        free(out);
        return false;
    }
    json_t *v = json_loads(out ? out : "", 0, NULL);
    const char *zk = json_string_value(json_object_get(v, "zookeeper"));
    bool ok = zk && strcmp(zk, "connected") == 0;
    json_decref(v);
    free(out);
    return ok;
}

/* The whole log file (owned). */
static char *slurp(const char *path)
{
    char *buf = calloc(1, 1 << 16);
    cr_assert_not_null(buf);
    pt_read_file(path, buf, 1 << 16);
    return buf;
}

typedef struct log_has_arg {
    const char *path;
    const char *needle;
} log_has_arg;

static bool log_has(void *arg)
{
    log_has_arg *l = arg;
    char *s = slurp(l->path);
    bool yes = strstr(s, l->needle) != NULL;
    free(s);
    return yes;
}

static void wait_log(const char *path, const char *needle)
{
    log_has_arg l = {path, needle};
    if (!pt_wait_until(log_has, &l, 20000)) {
        char *s = slurp(path);
        cr_assert_fail("%s never logged '%s':\n%s", path, needle, s);
    }
}

/* The agent logs "host H, ZooKeeper CONNECT, root R" once it serves. */
static void expect_agent_zk(agent_run *a, const char *host, const char *connect)
{
    char want[600];
    snprintf(want, sizeof(want), "host %s, ZooKeeper %s, root %s", host, connect, D.root);
    wait_log(a->log, want);
}

/* ---------- --version and bad arguments: no ZooKeeper needed ---------- */

static void expect_version(const char *prog)
{
    char bin[512], want[128];
    pt_bin(prog, bin, sizeof(bin));
    snprintf(want, sizeof(want), "%s %s\n", prog, PT_PROJECT_VERSION);
    char *argv[] = {bin, "--version", NULL};
    char *out, *err;
    cr_assert_eq(run(argv, NULL, &out, &err), 0, "%s --version: %s", prog, err);
    cr_assert_str_eq(out, want);
    free(out);
    free(err);
}

Test(daemon_args, version_is_the_project_version)
{
    expect_version("portco-agent");
    expect_version("portco-coordinator");
    char bin[512];
    pt_bin("portco", bin, sizeof(bin));
    char *argv[] = {bin, "--version", NULL};
    char *out, *err;
    cr_assert_eq(run(argv, NULL, &out, &err), 0);
    cr_assert_str_eq(out, "portco " PT_PROJECT_VERSION "\n");
    free(out);
    free(err);
}

/* `prog args...` exits 2 and says `want` on stderr, with the environment `env`. */
static void expect_refused(char *const env[], const char *want, const char *prog, ...)
{
    char bin[512];
    pt_bin(prog, bin, sizeof(bin));
    char *argv[16] = {bin};
    int n = 1;
    va_list ap;
    va_start(ap, prog);
    char *s;
    while ((s = va_arg(ap, char *)) != NULL && n < 15)
        argv[n++] = s;
    va_end(ap);
    argv[n] = NULL;
    char *out, *err;
    int st = run(argv, env, &out, &err);
    cr_assert_eq(st, 2, "%s %s: exit %d, stderr %s", prog, argv[1] ? argv[1] : "", st, err);
    cr_assert_not_null(strstr(err, want), "%s: stderr should say '%s': %s", prog, want, err);
    free(out);
    free(err);
}

Test(daemon_args, an_empty_or_bad_connect_string_is_named)
{
    /* A unit's `--zk ${PORTCO_ZK}` with the variable unset passes an empty --zk. */
    const char *empty = "--zk: empty ZooKeeper connect string; give host:port[,host:port...]";
    char cfg[] = "/nonexistent/cluster.yaml";
    expect_refused(NULL, empty, "portco-agent", "--zk", "", "--socket", "/nonexistent/a.sock",
                   NULL);
    expect_refused(NULL, empty, "portco-coordinator", "--config", cfg, "--zk", "", NULL);
    expect_refused(NULL, "--zk 'zk1' is not a ZooKeeper connect string", "portco-agent", "--zk",
                   "zk1", NULL);
    char *bad_env[] = {"PORTCO_ZK=zk1,zk2", NULL};
    expect_refused(bad_env, "$PORTCO_ZK 'zk1,zk2' is not a ZooKeeper connect string",
                   "portco-agent", "--socket", "/nonexistent/a.sock", NULL);
    expect_refused(bad_env, "$PORTCO_ZK 'zk1,zk2' is not a ZooKeeper connect string",
                   "portco-coordinator", "--config", cfg, NULL);
}

Test(daemon_args, a_bad_log_level_is_refused_from_the_flag_and_the_variable)
{
    char cfg[] = "/nonexistent/cluster.yaml";
    expect_refused(NULL, "--log-level must be debug, info, warn or error, not 'loud'",
                   "portco-agent", "--log-level", "loud", NULL);
    expect_refused(NULL, "--log-level must be debug, info, warn or error, not 'loud'",
                   "portco-coordinator", "--config", cfg, "--log-level", "loud", NULL);
    char *env[] = {"PORTCO_LOG=loud", NULL};
    expect_refused(env, "$PORTCO_LOG 'loud' is not a log level", "portco-agent", "--socket",
                   "/nonexistent/a.sock", NULL);
    expect_refused(env, "$PORTCO_LOG 'loud' is not a log level", "portco-coordinator", "--config",
                   cfg, NULL);
}

/* ---------- which ZooKeeper the agent uses ---------- */

Test(daemon_opts, agent_uses_PORTCO_ZK_when_the_file_names_none)
{
    agent_run a;
    char env[600];
    snprintf(env, sizeof(env), "PORTCO_ZK=%s", zk_shared());
    agent_start(&a, "h-env", NULL, NULL, (char *[]){env, NULL});
    expect_agent_zk(&a, "h-env", zk_shared());
    cr_assert(pt_wait_until(agent_connected, &a, 20000), "agent never connected (log %s)", a.log);
}

Test(daemon_opts, PORTCO_ZK_wins_over_the_file)
{
    agent_run a;
    char env[600];
    snprintf(env, sizeof(env), "PORTCO_ZK=%s", zk_shared());
    agent_start(&a, "h-envfile", PT_NOWHERE, NULL, (char *[]){env, NULL});
    expect_agent_zk(&a, "h-envfile", zk_shared());
    cr_assert(pt_wait_until(agent_connected, &a, 20000), "agent never connected (log %s)", a.log);
}

Test(daemon_opts, the_flag_wins_over_PORTCO_ZK_and_an_empty_one_is_unset)
{
    agent_run a;
    agent_start(&a, "h-flag", PT_NOWHERE, (char *[]){"--zk", (char *)zk_shared(), NULL},
                (char *[]){"PORTCO_ZK=" PT_NOWHERE, NULL});
    expect_agent_zk(&a, "h-flag", zk_shared());
    cr_assert(pt_wait_until(agent_connected, &a, 20000), "agent never connected (log %s)", a.log);

    /* An empty $PORTCO_ZK is no setting: the file's key applies. */
    agent_run b;
    agent_start(&b, "h-emptyenv", zk_shared(), NULL, (char *[]){"PORTCO_ZK=", NULL});
    expect_agent_zk(&b, "h-emptyenv", zk_shared());
}

/* ---------- the log level ---------- */

Test(daemon_opts, PORTCO_LOG_sets_the_agents_level_unless_the_flag_does)
{
    char env[600];
    snprintf(env, sizeof(env), "PORTCO_ZK=%s", zk_shared());
    agent_run quiet, loud;
    agent_start(&quiet, "h-quiet", NULL, NULL, (char *[]){env, "PORTCO_LOG=warn", NULL});
    agent_start(&loud, "h-loud", NULL, (char *[]){"--log-level", "info", NULL},
                (char *[]){env, "PORTCO_LOG=warn", NULL});
    cr_assert(pt_wait_until(agent_connected, &quiet, 20000));
    cr_assert(pt_wait_until(agent_connected, &loud, 20000));
    expect_agent_zk(&loud, "h-loud", zk_shared());
    /* Both have logged their start by now; only the one at info level shows it. */
    char *q = slurp(quiet.log);
    cr_assert_null(strstr(q, " info: "), "PORTCO_LOG=warn, yet info lines:\n%s", q);
    free(q);
}

static bool two_candidates(void *arg)
{
    char **names = NULL;
    int n = 0;
    if (pt_zkr_children(D.zk, arg, &names, &n, NULL) != 0)
        return false;
    pt_zkr_free_strings(names, n);
    return n == 2;
}

Test(daemon_opts, coordinator_takes_PORTCO_ZK_and_PORTCO_LOG_and_the_flag_wins)
{
    char bin[512], cfg[400], env[600], log1[400], log2[400];
    pt_bin("portco-coordinator", bin, sizeof(bin));
    snprintf(cfg, sizeof(cfg), "%s/cluster.yaml", D.dir);
    FILE *f = fopen(cfg, "w");
    cr_assert_not_null(f);
    fprintf(f, "root: %s\npools:\n  - {name: api, range: 24000-24009}\n", D.root);
    fclose(f);
    snprintf(env, sizeof(env), "PORTCO_ZK=%s", zk_shared());
    snprintf(log1, sizeof(log1), "%s/c1.log", D.dir);
    snprintf(log2, sizeof(log2), "%s/c2.log", D.dir);
    char *a1[] = {bin, "--config", cfg, "--id", "c1", "--log-level", "debug", NULL};
    char *e1[] = {env, "PORTCO_LOG=warn", NULL};
    track(pt_spawn(a1, e1, log1, log1));
    char want[600];
    snprintf(want, sizeof(want), "ZooKeeper %s, root %s", zk_shared(), D.root);
    wait_log(log1, want);
    wait_log(log1, "election: leading");
    /* $PORTCO_LOG=warn without the flag: c2 starts and enters the election
     * behind c1 (its candidate node appears), and logs none of it. */
    char *a2[] = {bin, "--config", cfg, "--id", "c2", "--zk", (char *)zk_shared(), NULL};
    track(pt_spawn(a2, e1, log2, log2));
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/coordinator/election", D.root);
    cr_assert(pt_wait_until(two_candidates, dir, 20000), "c2 never entered the election");
    char *s = slurp(log2);
    cr_assert_null(strstr(s, " info: "), "PORTCO_LOG=warn, yet info lines:\n%s", s);
    free(s);
}
