/* test_cli_claims.c - `portco acquire/release/ls/status` against a real agent and ZooKeeper. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "support.h"

static pt_agent A;

/* Pool "web" (pt_base..+19) and "small" (+20, +21), then the agent. */
static void pt_agent_start(void)
{
    pt_setup();
    pt_publish_def(
        &(pt_pool_def){.name = "web", .lo = pt_base, .hi = pt_base + 19, .address = "127.0.0.1"});
    pt_publish_def(&(pt_pool_def){
        .name = "small", .lo = pt_base + 20, .hi = pt_base + 21, .address = "127.0.0.1"});
    pt_start_agent(&A, "h-cli");
}

/* Run `portco --socket SOCK args...` (NULL-terminated); exit status; out/err owned. */
static int pt_cli(char **out, char **err, ...)
{
    char bin[600];
    pt_bin("portco", bin, sizeof(bin));
    char *argv[32] = {bin, "--socket", A.sock};
    int n = 3;
    va_list ap;
    va_start(ap, err);
    char *s;
    while ((s = va_arg(ap, char *)) != NULL && n < 31)
        argv[n++] = s;
    va_end(ap);
    argv[n] = NULL;
    int status = -1;
    char *o = NULL, *e = NULL;
    int rc = pt_run(argv, NULL, 30000, &o, &e, &status);
    cr_assert_eq(rc, 0, "running portco: %d", rc);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = e;
    else
        free(e);
    return status;
}

/* `portco ls --json [--pool P]` parsed (owned). */
static json_t *pt_ls(const char *pool)
{
    char *out, *err;
    int st = pool ? pt_cli(&out, &err, "ls", "--json", "--pool", pool, NULL)
                  : pt_cli(&out, &err, "ls", "--json", NULL);
    cr_assert_eq(st, 0, "ls failed: %s", err);
    json_error_t je;
    json_t *v = json_loads(out, 0, &je);
    cr_assert(json_is_array(v), "ls --json is not an array: %s", out);
    free(out);
    free(err);
    return v;
}

static json_t *pt_find(json_t *arr, const char *pool, int port)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "pool")), pool) == 0 &&
            json_integer_value(json_object_get(o, "port")) == port)
            return o;
    }
    return NULL;
}

static bool pt_listed(const char *pool, int port)
{
    json_t *arr = pt_ls(pool);
    bool found = pt_find(arr, pool, port) != NULL;
    json_decref(arr);
    return found;
}

typedef struct pt_claim_ref {
    const char *pool;
    int port;
} pt_claim_ref;

static bool pt_gone(void *arg)
{
    pt_claim_ref *r = arg;
    return !pt_listed(r->pool, r->port);
}

static int pt_port_of(const char *out)
{
    char *end;
    long v = strtol(out, &end, 10);
    cr_assert(end != out && (*end == '\n' || *end == '\0'), "not a port number: '%s'", out);
    return (int)v;
}

TestSuite(cli_claims, .init = pt_agent_start, .fini = pt_teardown, .timeout = 120);
TestSuite(cli_usage, .timeout = 60);

/* ---------- with an agent ---------- */

Test(cli_claims, acquire_prints_the_port_and_release_frees_it)
{
    char *out, *err;
    int st = pt_cli(&out, &err, "acquire", "--pool", "web", "--service", "api", NULL);
    cr_assert_eq(st, 0, "acquire: %s", err);
    int port = pt_port_of(out);
    cr_assert(port >= pt_base && port <= pt_base + 19, "port %d outside the pool", port);
    free(out);
    free(err);
    /* Explicit by default: the claim outlives the CLI process. */
    cr_assert(pt_listed("web", port));
    cr_assert_eq(pt_nclaims("web", NULL, port), 1);

    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    st = pt_cli(&out, &err, "release", "--pool", "web", ps, NULL);
    cr_assert_eq(st, 0, "release: %s", err);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
    cr_assert_not(pt_listed("web", port));
    cr_assert_eq(pt_nclaims("web", NULL, port), 0);
}

Test(cli_claims, acquire_json_has_the_claim)
{
    char *out, *err;
    int st = pt_cli(&out, &err, "acquire", "--pool", "web", "--service", "api", "--instance", "i-7",
                    "--json", NULL);
    cr_assert_eq(st, 0, "acquire: %s", err);
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    cr_assert(json_is_object(o), "not a JSON object: %s", out);
    cr_assert_str_eq(json_string_value(json_object_get(o, "pool")), "web");
    cr_assert_str_eq(json_string_value(json_object_get(o, "service")), "api");
    cr_assert_str_eq(json_string_value(json_object_get(o, "instance")), "i-7");
    cr_assert_str_eq(json_string_value(json_object_get(o, "host")), A.host);
    cr_assert_str_eq(json_string_value(json_object_get(o, "proto")), "tcp");
    cr_assert_str_eq(json_string_value(json_object_get(o, "address")), "127.0.0.1");
    cr_assert_str_eq(json_string_value(json_object_get(o, "lifetime")), "explicit");
    const char *claim = json_string_value(json_object_get(o, "claim"));
    cr_assert_not_null(claim);
    cr_assert_not_null(strstr(claim, "-lock-"), "claim name %s", claim);
    int port = (int)json_integer_value(json_object_get(o, "port"));
    json_int_t czxid = json_integer_value(json_object_get(o, "czxid"));
    /* The fencing token is the claim node's creation zxid. */
    char path[400];
    snprintf(path, sizeof(path), "%s/pools/web/ports/%d/%s", pt_root, port, claim);
    struct Stat zst;
    cr_assert_eq(pt_zkr_exists(pt_z, path, &zst), 0, "no node %s", path);
    cr_assert_eq((json_int_t)zst.czxid, czxid);

    json_t *arr = pt_ls("web");
    json_t *row = pt_find(arr, "web", port);
    cr_assert_not_null(row);
    cr_assert_str_eq(json_string_value(json_object_get(row, "host")), A.host);
    cr_assert_str_eq(json_string_value(json_object_get(row, "service")), "api");
    cr_assert(json_integer_value(json_object_get(row, "pid")) > 0);
    json_decref(arr);

    /* release --claim ends only that claim: another name is refused. */
    char ps[16], *o2, *e2;
    snprintf(ps, sizeof(ps), "%d", port);
    int rst =
        pt_cli(&o2, &e2, "release", "--pool", "web", "--claim", "_c_0-lock-0000000009", ps, NULL);
    cr_assert_eq(rst, 1, "a release naming another claim: %s", e2);
    cr_assert_eq(strncmp(e2, "portco: NOT_OWNER: ", 19), 0, "stderr: %s", e2);
    free(o2);
    free(e2);
    arr = pt_ls("web");
    cr_assert_not_null(pt_find(arr, "web", port), "the claim was released under another name");
    json_decref(arr);
    rst = pt_cli(&o2, &e2, "release", "--pool", "web", "--claim", claim, ps, NULL);
    cr_assert_eq(rst, 0, "release --claim %s: %s", claim, e2);
    free(o2);
    free(e2);
    arr = pt_ls("web");
    cr_assert_null(pt_find(arr, "web", port), "still listed after its release");
    json_decref(arr);
    json_decref(o);
    free(out);
    free(err);
}

Test(cli_claims, ls_table_shows_claims)
{
    char *out, *err;
    cr_assert_eq(pt_cli(&out, &err, "acquire", "--pool", "web", "--service", "tablesvc", NULL), 0);
    int port = pt_port_of(out);
    free(out);
    free(err);
    cr_assert_eq(pt_cli(&out, &err, "ls", NULL), 0, "%s", err);
    cr_assert_eq(strncmp(out, "POOL", 4), 0, "header first: %s", out);
    cr_assert_not_null(strstr(out, "SINCE"));
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    cr_assert_not_null(strstr(out, ps), "%s", out);
    cr_assert_not_null(strstr(out, "tablesvc"), "%s", out);
    cr_assert_not_null(strstr(out, A.host), "%s", out);
    free(out);
    free(err);
}

Test(cli_claims, hold_pid_claim_goes_when_the_pid_exits)
{
    char *argv[] = {"/bin/sleep", "60", NULL};
    pid_t child = pt_spawn(argv, NULL, NULL, NULL);
    cr_assert_gt(child, 0);
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", (int)child);
    char *out, *err;
    int st = pt_cli(&out, &err, "acquire", "--pool", "web", "--service", "worker", "--hold-pid",
                    pid, NULL);
    cr_assert_eq(st, 0, "acquire: %s", err);
    int port = pt_port_of(out);
    free(out);
    free(err);
    cr_assert(pt_listed("web", port), "the claim outlives the CLI while the pid lives");
    pt_stop_pid(child, SIGTERM, 5000);
    pt_claim_ref r = {"web", port};
    cr_assert(pt_wait_until(pt_gone, &r, 15000), "claim on %d still listed after pid exit", port);
    cr_assert_eq(pt_nclaims("web", NULL, port), 0);
}

Test(cli_claims, agent_errors_exit_1_with_code_and_message)
{
    char *out, *err;
    int st = pt_cli(&out, &err, "acquire", "--pool", "nosuch", "--service", "api", NULL);
    cr_assert_eq(st, 1);
    cr_assert_eq(strncmp(err, "portco: NO_SUCH_POOL: ", 22), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(err, "`portco status` lists the pools"), "the hint: %s", err);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);

    char ps[16];
    snprintf(ps, sizeof(ps), "%d", pt_base + 5);
    st = pt_cli(&out, &err, "release", "--pool", "web", ps, NULL);
    cr_assert_eq(st, 1);
    cr_assert_eq(strncmp(err, "portco: NOT_OWNER: ", 19), 0, "stderr: %s", err);
    free(out);
    free(err);

    /* Exhaust the two-port pool. */
    for (int i = 0; i < 2; i++) {
        st = pt_cli(&out, &err, "acquire", "--pool", "small", "--service", "api", NULL);
        cr_assert_eq(st, 0, "acquire %d: %s", i, err);
        free(out);
        free(err);
    }
    st = pt_cli(&out, &err, "acquire", "--pool", "small", "--service", "api", NULL);
    cr_assert_eq(st, 1);
    cr_assert_eq(strncmp(err, "portco: POOL_EXHAUSTED: ", 24), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(err, "small"), "the message names the pool: %s", err);
    free(out);
    free(err);
}

Test(cli_claims, taken_port_with_wait_times_out)
{
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", pt_base + 3);
    char *out, *err;
    int st = pt_cli(&out, &err, "acquire", "--pool", "web", "--service", "a", "--port", ps, NULL);
    cr_assert_eq(st, 0, "acquire: %s", err);
    cr_assert_eq(pt_port_of(out), pt_base + 3);
    free(out);
    free(err);
    st = pt_cli(&out, &err, "acquire", "--pool", "web", "--service", "b", "--port", ps, NULL);
    cr_assert_eq(st, 1);
    cr_assert_eq(strncmp(err, "portco: PORT_TAKEN: ", 20), 0, "stderr: %s", err);
    /* The agent's hint fits every client: the CLI's option and the protocol's field. */
    cr_assert_not_null(strstr(err, "portco acquire --wait SECS"), "the hint: %s", err);
    cr_assert_not_null(strstr(err, "wait_ms in the request"), "the hint: %s", err);
    free(out);
    free(err);
    long long t0 = pt_now_ms();
    st = pt_cli(&out, &err, "acquire", "--pool", "web", "--service", "b", "--port", ps, "--wait",
                "0.4", NULL);
    long long took = pt_now_ms() - t0;
    cr_assert_eq(st, 1);
    cr_assert_eq(strncmp(err, "portco: WAIT_TIMEOUT: ", 22), 0, "stderr: %s", err);
    cr_assert_geq(took, 400, "gave up after %lld ms", took);
    free(out);
    free(err);
}

Test(cli_claims, check_and_who_name_the_claim_behind_the_agents_hold)
{
    char *out, *err;
    int st = pt_cli(&out, &err, "acquire", "--pool", "web", "--service", "held-svc", NULL);
    cr_assert_eq(st, 0, "acquire: %s", err);
    int port = pt_port_of(out);
    free(out);
    free(err);
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);

    /* The agent's hold is a bound socket that /proc/net does not list: the
     * probe refuses the port, says it is held for the claim, and the claim
     * says whose it is. */
    st = pt_cli(&out, &err, "check", ps, NULL);
    cr_assert_eq(st, 1, "check of a held port: exit %d, %s", st, out);
    cr_assert_not_null(strstr(out, "/tcp: held for the portco claim below"), "check: %s", out);
    cr_assert_null(strstr(out, "bound but not listening, which"), "a mystery socket: %s", out);
    char want[200];
    snprintf(want, sizeof(want), "claimed in portco pool web by service held-svc on host %s",
             A.host);
    cr_assert_not_null(strstr(out, want), "check output: %s", out);
    free(out);
    free(err);

    st = pt_cli(&out, &err, "check", ps, "--json", NULL);
    cr_assert_eq(st, 1);
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    cr_assert(json_is_object(o), "%s", out);
    json_t *cl = json_object_get(o, "claims");
    cr_assert_eq(json_array_size(cl), 1, "%s", out);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(cl, 0), "service")),
                     "held-svc");
    json_decref(o);
    free(out);
    free(err);

    st = pt_cli(&out, &err, "who", ps, NULL);
    cr_assert_eq(st, 0);
    cr_assert_not_null(strstr(out, want), "who output: %s", out);
    free(out);
    free(err);

    /* Released: nothing to name any more, and the port is usable again. */
    st = pt_cli(&out, &err, "release", "--pool", "web", ps, NULL);
    cr_assert_eq(st, 0, "release: %s", err);
    free(out);
    free(err);
    st = pt_cli(&out, &err, "check", ps, "--addr", "127.0.0.1", NULL);
    cr_assert_eq(st, 0, "check after release: %s", out);
    cr_assert_null(strstr(out, "claimed in portco"), "%s", out);
    free(out);
    free(err);
}

Test(cli_claims, status_shows_the_agent)
{
    char *out, *err;
    int st = pt_cli(&out, &err, "status", "--json", NULL);
    cr_assert_eq(st, 0, "status: %s", err);
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    cr_assert(json_is_object(o), "not a JSON object: %s", out);
    cr_assert_str_eq(json_string_value(json_object_get(o, "host")), A.host);
    cr_assert_str_eq(json_string_value(json_object_get(o, "zookeeper")), "connected");
    cr_assert_null(json_object_get(o, "id"), "protocol fields are left out");
    json_decref(o);
    free(out);
    free(err);
    st = pt_cli(&out, &err, "status", NULL);
    cr_assert_eq(st, 0, "status: %s", err);
    char want[100];
    snprintf(want, sizeof(want), "host: %s\n", A.host);
    cr_assert_not_null(strstr(out, want), "%s", out);
    free(out);
    free(err);
}

/* ---------- command-line mistakes: exit 2, no agent needed ---------- */

static void pt_usage_case(const char *want, ...)
{
    char bin[600];
    pt_bin("portco", bin, sizeof(bin));
    char *argv[16] = {bin, "--socket", "/nonexistent/portco-test.sock"};
    int n = 3;
    va_list ap;
    va_start(ap, want);
    char *s;
    while ((s = va_arg(ap, char *)) != NULL && n < 15)
        argv[n++] = s;
    va_end(ap);
    argv[n] = NULL;
    char *out, *err;
    int st;
    cr_assert_eq(pt_run(argv, NULL, 20000, &out, &err, &st), 0);
    cr_assert_eq(st, 2, "%s %s: exit %d, stderr %s", argv[3], argv[4] ? argv[4] : "", st, err);
    cr_assert_not_null(strstr(err, want), "stderr should say '%s': %s", want, err);
    cr_assert_not_null(strstr(err, "usage: portco"), "stderr: %s", err);
    free(out);
    free(err);
}

Test(cli_usage, mistakes_exit_2_and_say_what_to_fix)
{
    pt_usage_case("--pool is required", "acquire", "--service", "s", NULL);
    pt_usage_case("--service is required", "acquire", "--pool", "web", NULL);
    pt_usage_case("--port wants a port number", "acquire", "--pool", "w", "--service", "s",
                  "--port", "70000", NULL);
    pt_usage_case("--wait only applies", "acquire", "--pool", "w", "--service", "s", "--wait", "1",
                  NULL);
    pt_usage_case("--wait wants seconds", "acquire", "--pool", "w", "--service", "s", "--port",
                  "30000", "--wait", "soon", NULL);
    pt_usage_case("--hold-pid wants a process id", "acquire", "--pool", "w", "--service", "s",
                  "--hold-pid", "x", NULL);
    pt_usage_case("exclude each other", "acquire", "--pool", "w", "--service", "s", "--hold-pid",
                  "1", "--explicit", NULL);
    pt_usage_case("unknown option", "acquire", "--pool", "w", "--service", "s", "--bogus", NULL);
    pt_usage_case("needs a value", "acquire", "--pool", NULL);
    pt_usage_case("which PORT", "release", "--pool", "web", NULL);
    pt_usage_case("--pool is required", "release", "30000", NULL);
    pt_usage_case("PORT must be a number", "release", "--pool", "web", "http", NULL);
    pt_usage_case("unexpected argument", "ls", "extra", NULL);
    pt_usage_case("unexpected argument", "status", "extra", NULL);
}

Test(cli_usage, unreachable_agent_is_exit_1_naming_the_socket)
{
    char bin[600];
    pt_bin("portco", bin, sizeof(bin));
    char sock[] = "/nonexistent/portco-test.sock";
    char *argv[] = {bin, "--socket", sock, "ls", NULL};
    char *out, *err;
    int st;
    cr_assert_eq(pt_run(argv, NULL, 20000, &out, &err, &st), 0);
    cr_assert_eq(st, 1);
    cr_assert_eq(strncmp(err, "portco: AGENT_UNAVAILABLE: ", 27), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(err, sock), "stderr: %s", err);
    free(out);
    free(err);
}

/* ---------- help: one table behind every synopsis ---------- */

/* Run `portco ARGS...` with no agent; exit status, out and err owned. */
static int pt_cli_noagent(char **out, char **err, ...)
{
    char bin[600];
    pt_bin("portco", bin, sizeof(bin));
    char *argv[16] = {bin, "--socket", "/nonexistent/portco-test.sock"};
    int n = 3;
    va_list ap;
    va_start(ap, err);
    char *s;
    while ((s = va_arg(ap, char *)) != NULL && n < 15)
        argv[n++] = s;
    va_end(ap);
    argv[n] = NULL;
    int st = -1;
    cr_assert_eq(pt_run(argv, NULL, 20000, out, err, &st), 0);
    return st;
}

/* The synopsis of `cmd` as text after "portco CMD ", blanks squeezed, from lines of `text`
 * that start with `lead` (and their indented continuation lines). */
static void pt_synopsis(const char *text, const char *lead, char *buf, size_t len)
{
    buf[0] = '\0';
    const char *p = strstr(text, lead);
    cr_assert_not_null(p, "no '%s' in:\n%s", lead, text);
    p += strlen(lead);
    size_t n = 0;
    bool blank = false;
    for (; *p && n + 1 < len; p++) {
        if (*p == '\n') {
            /* A continuation line is indented and does not start another synopsis. */
            const char *q = p + 1;
            while (*q == ' ')
                q++;
            if (q == p + 1 || *q == '\n' || *q == '\0' || strncmp(q, "portco ", 7) == 0)
                break;
            blank = true;
            p = q - 1;
            continue;
        }
        if (*p == ' ') {
            blank = true;
            continue;
        }
        if (blank && n > 0)
            buf[n++] = ' ';
        blank = false;
        buf[n++] = *p;
    }
    buf[n] = '\0';
}

static const char *const pt_commands[] = {"check",   "who", "lint",   "acquire",
                                          "release", "ls",  "status", "run"};

Test(cli_usage, help_lists_every_command_and_help_cmd_shows_its_options)
{
    char *usage, *err;
    cr_assert_eq(pt_cli_noagent(&usage, &err, "help", NULL), 0, "%s", err);
    free(err);
    char *dashdash;
    cr_assert_eq(pt_cli_noagent(&dashdash, &err, "--help", NULL), 0);
    cr_assert_str_eq(usage, dashdash, "portco help and portco --help differ");
    free(dashdash);
    free(err);
    for (size_t i = 0; i < sizeof(pt_commands) / sizeof(pt_commands[0]); i++) {
        const char *cmd = pt_commands[i];
        char *help, *help2;
        cr_assert_eq(pt_cli_noagent(&help, &err, "help", cmd, NULL), 0, "help %s: %s", cmd, err);
        free(err);
        cr_assert_eq(pt_cli_noagent(&help2, &err, cmd, "--help", NULL), 0);
        cr_assert_str_eq(help, help2, "help %s and %s --help differ", cmd, cmd);
        free(help2);
        free(err);
        /* The same synopsis in the list and in the command's help: no drift. */
        char lead[64], in_list[600], in_help[600];
        snprintf(lead, sizeof(lead), "  portco %s ", cmd);
        pt_synopsis(usage, lead, in_list, sizeof(in_list));
        snprintf(lead, sizeof(lead), "usage: portco %s ", cmd);
        pt_synopsis(help, lead, in_help, sizeof(in_help));
        cr_assert_str_eq(in_list, in_help, "portco %s: the list and the help disagree", cmd);
        /* Every option of the synopsis is explained below it. */
        for (const char *p = strstr(in_help, "--"); p; p = strstr(p + 2, "--")) {
            char opt[40];
            if (sscanf(p, "%39[-a-z]", opt) != 1 || strcmp(opt, "--") == 0)
                continue;
            char line[64];
            snprintf(line, sizeof(line), "\n  %s", opt);
            cr_assert_not_null(strstr(help, line), "portco help %s does not explain %s:\n%s", cmd,
                               opt, help);
        }
        free(help);
    }
    free(usage);
}

Test(cli_usage, every_synopsis_option_is_parsed)
{
    for (size_t i = 0; i < sizeof(pt_commands) / sizeof(pt_commands[0]); i++) {
        const char *cmd = pt_commands[i];
        char *help, *err;
        cr_assert_eq(pt_cli_noagent(&help, &err, "help", cmd, NULL), 0);
        free(err);
        char lead[64], syn[600];
        snprintf(lead, sizeof(lead), "usage: portco %s ", cmd);
        pt_synopsis(help, lead, syn, sizeof(syn));
        free(help);
        for (const char *p = strstr(syn, "--"); p; p = strstr(p + 2, "--")) {
            char opt[40];
            if (sscanf(p, "%39[-a-z]", opt) != 1 || strcmp(opt, "--") == 0)
                continue;
            /* Alone, the option may lack its value or what else the command needs,
             * but it is never unknown. */
            char *out;
            pt_cli_noagent(&out, &err, cmd, opt, NULL);
            cr_assert_null(strstr(err, "unknown option"), "portco %s %s: %s", cmd, opt, err);
            free(out);
            free(err);
        }
    }
}

Test(cli_usage, release_synopsis_names_claim)
{
    char *out, *err;
    cr_assert_eq(pt_cli_noagent(&out, &err, "--help", NULL), 0);
    cr_assert_not_null(strstr(out, "portco release --pool P [--claim NAME] PORT"), "%s", out);
    free(out);
    free(err);
}

Test(cli_usage, help_for_an_unknown_command_is_a_usage_error)
{
    char *out, *err;
    cr_assert_eq(pt_cli_noagent(&out, &err, "help", "frobnicate", NULL), 2);
    cr_assert_not_null(strstr(err, "no command 'frobnicate'"), "%s", err);
    cr_assert_not_null(strstr(err, "usage: portco"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(pt_cli_noagent(&out, &err, "help", "ls", "status", NULL), 2);
    free(out);
    free(err);
    cr_assert_eq(pt_cli_noagent(&out, &err, "frobnicate", NULL), 2);
    cr_assert_not_null(strstr(err, "unknown command 'frobnicate'"), "%s", err);
    free(out);
    free(err);
}
