/* cmd_probe.c - `portco check` (is a port usable here, and why not) and `portco who`. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_claims.h"
#include "cmd_probe.h"
#include "owners.h"
#include "portco.h"
#include "probe.h"
#include "procnet.h"
#include "usage.h"

/* Parse a port 1..65535 given in decimal. Returns 0 or -EINVAL. */
static int pc_cli_port(const char *s, uint16_t *out)
{
    char *end;
    if (!s || !*s || strspn(s, "0123456789") != strlen(s))
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || v == 0 || v > 65535)
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

/* Dotted-quad IPv4, or IPv6 with an optional %scope: what the probe accepts. */
static bool pc_cli_numeric_addr(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, s, buf) == 1)
        return true;
    if (!strchr(s, ':'))
        return false;
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_family = AF_INET6};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(s, NULL, &hints, &ai) != 0)
        return false;
    freeaddrinfo(ai);
    return true;
}

static json_t *pc_sock_json(const pc_sock *s)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:I, s:s?, s:I, s:I, s:b}", "proto",
                     pc_proto_name(s->proto), "state", pc_sock_state_name(s->proto, s->state),
                     "local", s->local, "local_port", (int)s->local_port, "remote", s->remote,
                     "remote_port", (int)s->remote_port, "pid", (json_int_t)s->pid, "comm",
                     s->pid > 0 ? s->comm : NULL, "uid", (json_int_t)s->uid, "inode",
                     (json_int_t)s->inode, "owner_unreadable", s->owner_unreadable);
}

static json_t *pc_socks_json(const pc_sockvec *sv)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < sv->n; i++)
        json_array_append_new(arr, pc_sock_json(&sv->v[i]));
    return arr;
}

/*
 * The claims on `port` that the local agent knows of, from every pool. The
 * agent's own hold on a claimed port is a bound socket that /proc/net does
 * not list, so this is how check and who can name it. Best effort: no agent,
 * or an agent that cannot answer, gives no claims and no error.
 */
static size_t pc_port_claims(const pc_cli_globals *g, uint16_t port, portco_claim **out)
{
    *out = NULL;
    portco_client *c = NULL;
    if (portco_connect(g->socket, &c, NULL) != 0)
        return 0;
    portco_claim *all = NULL;
    size_t n = 0, k = 0;
    if (portco_list(c, NULL, &all, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++)
            if (all[i].port == port)
                all[k++] = all[i];
    }
    portco_close(c);
    if (k == 0) {
        free(all);
        return 0;
    }
    *out = all;
    return k;
}

static void pc_print_port_claims(const portco_claim *cl, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf(
            "%u/%s: claimed in portco pool %s by service %s%s%s on host %s (pid %ld, claim %s)\n",
            (unsigned)cl[i].port, cl[i].proto, cl[i].pool, cl[i].service,
            cl[i].instance[0] ? "/" : "", cl[i].instance, cl[i].host, (long)cl[i].pid, cl[i].claim);
}

/* True when one of the claims is of this host's agent (best effort: no agent, no). */
static bool pc_claimed_here(const pc_cli_globals *g, const portco_claim *cl, size_t n)
{
    json_t *st;
    if (n == 0 || pc_cli_agent_status(g, true, &st) != 0)
        return false;
    const char *host = json_string_value(json_object_get(st, "host"));
    bool here = false;
    for (size_t i = 0; host && i < n; i++)
        here = here || strcmp(cl[i].host, host) == 0;
    json_decref(st);
    return here;
}

static json_t *pc_port_claims_json(const portco_claim *cl, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:i, s:s, s:s, s:s, s:I, s:s}", "pool", cl[i].pool, "port",
                           (int)cl[i].port, "host", cl[i].host, "service", cl[i].service, "proto",
                           cl[i].proto, "pid", (json_int_t)cl[i].pid, "claim", cl[i].claim));
    return arr;
}

static int pc_print_json(json_t *j)
{
    if (!j) {
        fprintf(stderr, "portco: out of memory\n");
        return PC_EXIT_FAIL;
    }
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) {
        fprintf(stderr, "portco: out of memory\n");
        return PC_EXIT_FAIL;
    }
    puts(text);
    free(text);
    return PC_EXIT_OK;
}

int pc_cmd_check(const pc_cli_globals *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"proto", required_argument, NULL, 'p'},
        {"addr", required_argument, NULL, 'a'},
        {"timewait", required_argument, NULL, 't'},
        {"ephemeral", required_argument, NULL, 'e'},
        {"allow-privileged", no_argument, NULL, 'P'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .owners = PC_OWNERS_ON_FAILURE};
    bool json = false;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (pc_proto_parse(optarg, &o.proto) < 0) {
                return pc_cli_usage("check", "--proto must be tcp, udp or both, not '%s'", optarg);
            }
            break;
        case 'a':
            if (!pc_cli_numeric_addr(optarg)) {
                return pc_cli_usage(
                    "check", "--addr needs a numeric IPv4 or IPv6 address, not '%s'", optarg);
            }
            o.address = optarg;
            break;
        case 't':
            if (strcmp(optarg, "reuseaddr") == 0)
                o.timewait = PC_TIMEWAIT_REUSEADDR;
            else if (strcmp(optarg, "avoid") == 0)
                o.timewait = PC_TIMEWAIT_AVOID;
            else {
                return pc_cli_usage("check", "--timewait must be reuseaddr or avoid, not '%s'",
                                    optarg);
            }
            break;
        case 'e':
            if (strcmp(optarg, "warn") == 0)
                o.ephemeral = PC_EPHEMERAL_WARN;
            else if (strcmp(optarg, "avoid") == 0)
                o.ephemeral = PC_EPHEMERAL_AVOID;
            else {
                return pc_cli_usage("check", "--ephemeral must be warn or avoid, not '%s'", optarg);
            }
            break;
        case 'P':
            o.allow_privileged = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            return pc_cli_help("check");
        case ':':
            return pc_cli_usage("check", "option '%s' needs a value", argv[optind - 1]);
        default:
            return pc_cli_usage("check", "unknown option '%s'", argv[optind - 1]);
        }
    }
    /* GNU getopt moves operands to the end, so options may follow PORT. */
    uint16_t port = 0;
    if (optind >= argc)
        return pc_cli_usage("check", "missing PORT (1-65535)");
    if (optind + 1 < argc)
        return pc_cli_usage("check", "unexpected argument '%s'", argv[optind + 1]);
    if (pc_cli_port(argv[optind], &port) < 0)
        return pc_cli_usage("check", "'%s' is not a port: give a number 1-65535", argv[optind]);

    pc_probe_result r;
    pc_error err = {0};
    pc_probe_result_init(&r);
    int rc = pc_probe(&o, port, &r, &err);
    if (rc < 0) {
        fprintf(stderr, "portco check: %s\n", err.msg);
        pc_probe_result_free(&r);
        return rc == -EINVAL ? PC_EXIT_USAGE : PC_EXIT_FAIL;
    }
    int ex = r.usable ? PC_EXIT_OK : PC_EXIT_FAIL;
    portco_claim *claims = NULL;
    size_t nclaims = pc_port_claims(g, port, &claims);
    if (json) {
        json_t *f = json_array();
        for (size_t i = 0; f && i < r.n_findings; i++)
            json_array_append_new(f, json_pack("{s:s, s:s, s:s, s:b}", "code", r.findings[i].code,
                                               "proto", pc_proto_name(r.findings[i].proto),
                                               "message", r.findings[i].message, "blocking",
                                               r.findings[i].blocking));
        json_t *j = json_pack("{s:i, s:s, s:s, s:b, s:b, s:s, s:o, s:o, s:o}", "port", (int)port,
                              "proto", pc_proto_name(r.proto), "address", r.address, "usable",
                              r.usable, "reuseaddr_needed", r.reuseaddr_needed, "summary",
                              r.summary, "findings", f, "sockets", pc_socks_json(&r.socks),
                              "claims", pc_port_claims_json(claims, nclaims));
        if (pc_print_json(j) != PC_EXIT_OK)
            ex = PC_EXIT_FAIL;
    } else if (r.usable) {
        printf("%s\n", r.summary);
    } else {
        /* A TCP bind that fails with no socket in /proc/net to blame, on a port
         * claimed on this host: that is the claim's own bound socket. */
        bool held = pc_claimed_here(g, claims, nclaims), said = false;
        for (size_t i = 0; i < r.n_findings; i++) {
            const pc_finding *fi = &r.findings[i];
            if (!fi->blocking)
                continue;
            if (held && fi->proto == PC_PROTO_TCP && strcmp(fi->code, "bind-failed") == 0) {
                if (!said)
                    printf("%u/tcp: held for the portco claim below: the agent (or the program it "
                           "handed the socket to) keeps the port bound, and /proc/net does not "
                           "list a bound socket until it listens\n",
                           (unsigned)port);
                said = true;
                continue;
            }
            printf("%s\n", fi->message);
        }
    }
    if (!json)
        pc_print_port_claims(claims, nclaims);
    free(claims);
    pc_probe_result_free(&r);
    return ex;
}

int pc_cmd_who(const pc_cli_globals *g, int argc, char **argv)
{
    bool json = false;
    const char *portarg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return pc_cli_help("who");
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return pc_cli_usage("who", "unknown option '%s'", argv[i]);
        } else if (portarg) {
            return pc_cli_usage("who", "unexpected argument '%s'", argv[i]);
        } else {
            portarg = argv[i];
        }
    }
    uint16_t port;
    if (!portarg)
        return pc_cli_usage("who", "missing PORT (1-65535)");
    if (pc_cli_port(portarg, &port) < 0)
        return pc_cli_usage("who", "'%s' is not a port: give a number 1-65535", portarg);
    pc_sockvec sv = PC_SOCKVEC_INIT;
    pc_error err = {0};
    if (pc_procnet_scan(NULL, PC_PROTO_BOTH, port, &sv, &err) < 0 ||
        pc_sock_owners(NULL, &sv, &err) < 0) {
        fprintf(stderr, "portco who: %s\n", err.msg);
        pc_sockvec_free(&sv);
        return PC_EXIT_FAIL;
    }
    int ex = PC_EXIT_OK;
    if (json) {
        ex = pc_print_json(pc_socks_json(&sv));
    } else {
        char line[256];
        for (size_t i = 0; i < sv.n; i++)
            printf("%s\n", pc_sock_format(&sv.v[i], line, sizeof(line)));
        portco_claim *claims = NULL;
        size_t nclaims = pc_port_claims(g, port, &claims);
        pc_print_port_claims(claims, nclaims);
        free(claims);
    }
    pc_sockvec_free(&sv);
    return ex;
}
