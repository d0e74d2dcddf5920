/* cmd_claims.c - `portco acquire`, `release`, `ls` (claims through libportco) and `status`. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd_claims.h"
#include "message.h"
#include "portco.h"
#include "usage.h"

/* How long `portco status` waits for the agent. */
#define PC_STATUS_TIMEOUT_MS 10000

/* Print a library failure the way every portco subcommand does: code name, then detail. */
static int pc_cli_fail(const portco_status *st, int rc)
{
    const char *msg = st->message[0] ? st->message : portco_strerror(rc);
    fprintf(stderr, "portco: %s: %s\n", portco_err_name(rc), msg);
    return PC_EXIT_FAIL;
}

/* Parse a port 1..65535; 0 on success, -EINVAL otherwise. */
static int pc_cli_parse_port(const char *s, uint16_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 65535)
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

/* Parse a pid > 0. */
static int pc_cli_parse_pid(const char *s, pid_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > INT32_MAX)
        return -EINVAL;
    *out = (pid_t)v;
    return 0;
}

/* "2026-11-27T18:00:00Z" for a claim's since_ms; "-" when unknown. */
static const char *pc_cli_format_since(int64_t since_ms, char *buf, size_t len)
{
    time_t t = (time_t)(since_ms / 1000);
    struct tm tm;
    if (since_ms <= 0 || !gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "-");
    return buf;
}

/* A claim as a JSON object (owned); NULL when out of memory. */
static json_t *pc_cli_claim_json(const portco_claim *cl)
{
    char since[32];
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I}", "pool",
                     cl->pool, "port", (int)cl->port, "host", cl->host, "service", cl->service,
                     "instance", cl->instance, "address", cl->address, "proto", cl->proto, "claim",
                     cl->claim, "czxid", (json_int_t)cl->czxid, "pid", (json_int_t)cl->pid, "since",
                     pc_cli_format_since(cl->since_ms, since, sizeof(since)), "since_ms",
                     (json_int_t)cl->since_ms);
}

/* Print `v` (consumed) followed by a newline; exit code. */
static int pc_cli_print_json(json_t *v)
{
    if (!v) {
        fprintf(stderr, "portco: cannot encode the answer as JSON (out of memory or bad UTF-8)\n");
        return PC_EXIT_FAIL;
    }
    int rc = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(v);
    if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "portco: cannot write the output: %s\n", strerror(errno));
        return PC_EXIT_FAIL;
    }
    return PC_EXIT_OK;
}

static int pc_cli_connect(const pc_cli_globals *g, portco_client **c)
{
    portco_status st = {0};
    int rc = portco_connect(g->socket, c, &st);
    if (rc != 0)
        return pc_cli_fail(&st, rc);
    return PC_EXIT_OK;
}

/*
 * A CLI process exits right after printing, so a connection-bound claim would
 * end with it: claims are explicit (held until `portco release`) unless
 * --hold-pid binds them to a process.
 */
int pc_cmd_acquire(const pc_cli_globals *g, int argc, char **argv)
{
    enum { O_POOL = 1, O_SERVICE, O_INSTANCE, O_PORT, O_WAIT, O_HOLD, O_EXPLICIT, O_JSON, O_HELP };
    static const struct option opts[] = {
        {"pool", required_argument, NULL, O_POOL},
        {"service", required_argument, NULL, O_SERVICE},
        {"instance", required_argument, NULL, O_INSTANCE},
        {"port", required_argument, NULL, O_PORT},
        {"wait", required_argument, NULL, O_WAIT},
        {"hold-pid", required_argument, NULL, O_HOLD},
        {"explicit", no_argument, NULL, O_EXPLICIT},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {0},
    };
    portco_acquire_opts ao = {.lifetime = PORTCO_LIFETIME_EXPLICIT};
    int json = 0, explicit_given = 0, wait_given = 0;
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (o) {
        case O_POOL:
            ao.pool = optarg;
            break;
        case O_SERVICE:
            ao.service = optarg;
            break;
        case O_INSTANCE:
            ao.instance = optarg;
            break;
        case O_PORT:
            if (pc_cli_parse_port(optarg, &ao.port) != 0)
                return pc_cli_usage("acquire", "--port wants a port number 1-65535, not '%s'",
                                    optarg);
            break;
        case O_WAIT:
            if (pc_cli_parse_seconds(optarg, true, &ao.wait_ms) != 0)
                return pc_cli_usage(
                    "acquire", "--wait wants seconds (e.g. 2.5) or 'forever', not '%s'", optarg);
            wait_given = 1;
            break;
        case O_HOLD:
            if (pc_cli_parse_pid(optarg, &ao.hold_pid) != 0)
                return pc_cli_usage("acquire", "--hold-pid wants a process id, not '%s'", optarg);
            ao.lifetime = PORTCO_LIFETIME_PID;
            break;
        case O_EXPLICIT:
            explicit_given = 1;
            break;
        case O_JSON:
            json = 1;
            break;
        case 'h':
        case O_HELP:
            return pc_cli_help("acquire");
        case ':':
            return pc_cli_usage("acquire", "option '%s' needs a value", argv[optind - 1]);
        default:
            return pc_cli_usage("acquire", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return pc_cli_usage("acquire", "unexpected argument '%s'", argv[optind]);
    if (!ao.pool || !ao.pool[0])
        return pc_cli_usage("acquire", "--pool is required");
    if (!ao.service || !ao.service[0])
        return pc_cli_usage("acquire", "--service is required");
    if (wait_given && ao.port == 0)
        return pc_cli_usage("acquire", "--wait only applies to a given --port");
    if (explicit_given && ao.lifetime == PORTCO_LIFETIME_PID)
        return pc_cli_usage("acquire", "--explicit and --hold-pid exclude each other: choose one");

    portco_client *c;
    int ex = pc_cli_connect(g, &c);
    if (ex != PC_EXIT_OK)
        return ex;
    portco_claim cl;
    portco_status st = {0};
    int rc = portco_acquire(c, &ao, &cl, &st);
    portco_close(c);
    if (rc != 0)
        return pc_cli_fail(&st, rc);
    if (!json) {
        printf("%u\n", (unsigned)cl.port);
        return fflush(stdout) == 0 ? PC_EXIT_OK : PC_EXIT_FAIL;
    }
    json_t *obj = pc_cli_claim_json(&cl);
    if (obj) {
        json_object_set_new(obj, "lifetime", json_string(pc_lifetime_name(ao.lifetime)));
        if (ao.lifetime == PORTCO_LIFETIME_PID)
            json_object_set_new(obj, "hold_pid", json_integer(ao.hold_pid));
    }
    return pc_cli_print_json(obj);
}

int pc_cmd_release(const pc_cli_globals *g, int argc, char **argv)
{
    enum { O_POOL = 1, O_CLAIM, O_HELP };
    static const struct option opts[] = {
        {"pool", required_argument, NULL, O_POOL},
        {"claim", required_argument, NULL, O_CLAIM},
        {"help", no_argument, NULL, O_HELP},
        {0},
    };
    const char *pool = NULL, *claim_name = NULL;
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (o) {
        case O_POOL:
            pool = optarg;
            break;
        case O_CLAIM:
            claim_name = optarg;
            break;
        case 'h':
        case O_HELP:
            return pc_cli_help("release");
        case ':':
            return pc_cli_usage("release", "option '%s' needs a value", argv[optind - 1]);
        default:
            return pc_cli_usage("release", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!pool || !pool[0])
        return pc_cli_usage("release", "--pool is required");
    portco_claim named = {.fd = -1};
    if (claim_name && (!claim_name[0] || strlen(claim_name) >= sizeof(named.claim) ||
                       strlen(pool) >= sizeof(named.pool)))
        return pc_cli_usage("release",
                            "--claim needs a claim node name as 'acquire --json' prints it");
    if (optind >= argc)
        return pc_cli_usage("release", "which PORT?");
    if (optind + 1 < argc)
        return pc_cli_usage("release", "one PORT at a time; unexpected '%s'", argv[optind + 1]);
    uint16_t port;
    if (pc_cli_parse_port(argv[optind], &port) != 0)
        return pc_cli_usage("release", "PORT must be a number 1-65535, not '%s'", argv[optind]);

    portco_client *c;
    int ex = pc_cli_connect(g, &c);
    if (ex != PC_EXIT_OK)
        return ex;
    portco_status st = {0};
    int rc;
    if (claim_name) {
        snprintf(named.pool, sizeof(named.pool), "%s", pool);
        snprintf(named.claim, sizeof(named.claim), "%s", claim_name);
        named.port = port;
        rc = portco_release_claim(c, &named, &st);
    } else {
        rc = portco_release(c, pool, port, &st);
    }
    portco_close(c);
    return rc == 0 ? PC_EXIT_OK : pc_cli_fail(&st, rc);
}

static int pc_claim_cmp(const void *a, const void *b)
{
    const portco_claim *x = a, *y = b;
    int d = strcmp(x->pool, y->pool);
    if (d)
        return d;
    if (x->port != y->port)
        return x->port < y->port ? -1 : 1;
    if ((d = strcmp(x->host, y->host)))
        return d;
    return strcmp(x->claim, y->claim);
}

static void pc_ls_table(const portco_claim *cls, size_t n)
{
    int wpool = 4, whost = 4, wsvc = 7;
    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen(cls[i].pool);
        wpool = l > wpool ? l : wpool;
        l = (int)strlen(cls[i].host);
        whost = l > whost ? l : whost;
        l = (int)strlen(cls[i].service);
        wsvc = l > wsvc ? l : wsvc;
    }
    printf("%-*s  %5s  %-*s  %-*s  %7s  %-20s  %s\n", wpool, "POOL", "PORT", whost, "HOST", wsvc,
           "SERVICE", "PID", "SINCE", "CLAIM");
    for (size_t i = 0; i < n; i++) {
        char since[32];
        printf("%-*s  %5u  %-*s  %-*s  %7ld  %-20s  %s\n", wpool, cls[i].pool,
               (unsigned)cls[i].port, whost, cls[i].host, wsvc, cls[i].service, (long)cls[i].pid,
               pc_cli_format_since(cls[i].since_ms, since, sizeof(since)), cls[i].claim);
    }
}

int pc_cmd_ls(const pc_cli_globals *g, int argc, char **argv)
{
    enum { O_POOL = 1, O_JSON, O_HELP };
    static const struct option opts[] = {
        {"pool", required_argument, NULL, O_POOL},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {0},
    };
    const char *pool = NULL;
    int json = 0;
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (o) {
        case O_POOL:
            pool = optarg;
            break;
        case O_JSON:
            json = 1;
            break;
        case 'h':
        case O_HELP:
            return pc_cli_help("ls");
        case ':':
            return pc_cli_usage("ls", "option '%s' needs a value", argv[optind - 1]);
        default:
            return pc_cli_usage("ls", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return pc_cli_usage("ls", "unexpected argument '%s'", argv[optind]);

    portco_client *c;
    int ex = pc_cli_connect(g, &c);
    if (ex != PC_EXIT_OK)
        return ex;
    portco_claim *cls = NULL;
    size_t n = 0;
    portco_status st = {0};
    int rc = portco_list(c, pool, &cls, &n, &st);
    portco_close(c);
    if (rc != 0)
        return pc_cli_fail(&st, rc);
    if (n > 1)
        qsort(cls, n, sizeof(*cls), pc_claim_cmp);
    if (!json) {
        pc_ls_table(cls, n);
        portco_list_free(cls);
        return fflush(stdout) == 0 ? PC_EXIT_OK : PC_EXIT_FAIL;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *obj = pc_cli_claim_json(&cls[i]);
        if (!obj || json_array_append_new(arr, obj) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    portco_list_free(cls);
    return pc_cli_print_json(arr);
}

const char *pc_cli_socket_path(const pc_cli_globals *g)
{
    if (g->socket && g->socket[0])
        return g->socket;
    const char *e = getenv("PORTCO_SOCKET");
    return e && e[0] ? e : PORTCO_DEFAULT_SOCKET;
}

/*
 * The agent's status answer through libportco, within PC_STATUS_TIMEOUT_MS.
 * On success *view is an owned object (without the protocol's v, id, ok).
 * Errors are said on stderr unless quiet.
 */
int pc_cli_agent_status(const pc_cli_globals *g, bool quiet, json_t **view)
{
    *view = NULL;
    portco_connect_opts co = {.path = g->socket, .timeout_ms = PC_STATUS_TIMEOUT_MS};
    portco_status st = {0};
    portco_client *c = NULL;
    char *text = NULL;
    int rc = portco_connect_with(&co, &c, &st);
    if (rc == 0) {
        rc = portco_agent_status(c, &text, &st);
        portco_close(c);
    }
    if (rc != 0) {
        if (!quiet)
            pc_cli_fail(&st, rc);
        return rc;
    }
    *view = json_loads(text, 0, NULL);
    portco_agent_status_free(text);
    if (!*view) {
        if (!quiet)
            fprintf(stderr, "portco: out of memory\n");
        return -ENOMEM;
    }
    return 0;
}

/* Print one status value: strings bare, arrays comma-separated, the rest as JSON. */
static void pc_status_print_value(const json_t *v)
{
    if (json_is_string(v)) {
        fputs(json_string_value(v), stdout);
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            if (i)
                fputs(", ", stdout);
            pc_status_print_value(e);
        }
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        fputs(s ? s : "?", stdout);
        free(s);
    }
}

/*
 * `portco status`: the agent's own view (host, ZooKeeper state, pools,
 * claims), through libportco's portco_agent_status(). Exit 0 only when the agent can serve
 * claims (connected to ZooKeeper, pools read); the status is printed anyway.
 */
int pc_cmd_status(const pc_cli_globals *g, int argc, char **argv)
{
    enum { O_JSON = 1, O_HELP };
    static const struct option opts[] = {
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {0},
    };
    int json = 0, o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (o) {
        case O_JSON:
            json = 1;
            break;
        case 'h':
        case O_HELP:
            return pc_cli_help("status");
        default:
            return pc_cli_usage("status", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return pc_cli_usage("status", "unexpected argument '%s'", argv[optind]);
    json_t *view;
    if (pc_cli_agent_status(g, false, &view) != 0)
        return PC_EXIT_FAIL;
    const char *path = pc_cli_socket_path(g);
    const char *zk = json_string_value(json_object_get(view, "zookeeper"));
    char zkstate[32];
    snprintf(zkstate, sizeof(zkstate), "%s", zk ? zk : "unknown");
    bool ready = json_is_true(json_object_get(view, "ready"));
    int ex;
    if (json) {
        ex = pc_cli_print_json(view);
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(view, key, v)
        {
            printf("%s: ", key);
            pc_status_print_value(v);
            putchar('\n');
        }
        json_decref(view);
        ex = fflush(stdout) == 0 ? PC_EXIT_OK : PC_EXIT_FAIL;
    }
    /* The status is printed either way; the exit status says whether the agent can serve. */
    if (strcmp(zkstate, "connected") != 0) {
        fprintf(stderr,
                "portco: %s: the agent at %s is not connected to ZooKeeper (%s): it can neither "
                "grant nor list claims until it is; its log says why\n",
                portco_err_name(PORTCO_EZKUNAVAIL), path, zkstate);
        return PC_EXIT_FAIL;
    }
    if (!ready) {
        fprintf(stderr,
                "portco: %s: the agent at %s has not read the pools from ZooKeeper yet; a "
                "coordinator publishes them under the agent's root\n",
                portco_err_name(PORTCO_ENOTREADY), path);
        return PC_EXIT_FAIL;
    }
    return ex;
}
