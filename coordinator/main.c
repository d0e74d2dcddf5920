/* main.c - portco-coordinator: elect one leader, which publishes the cluster file to ZooKeeper. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_file.h"
#include "election.h"
#include "http.h"
#include "log.h"
#include "names.h"
#include "portco_version.h"
#include "publish.h"
#include "zkloop.h"
#include "zkpath.h"

#define PC_COORD_DEFAULT_ZK         "127.0.0.1:2181"
#define PC_COORD_DEFAULT_SESSION_MS 10000
#define PC_COORD_REOPEN_RETRY_S     1

typedef struct coord {
    struct event_base *base;
    const char *config_path;
    const char *zk_hosts;
    char root[PC_ZKP_PATH_MAX];
    bool root_from_flag;
    int session_ms;
    char id[128];

    pc_zk *zk;
    pc_elect *elect;
    pc_pub *pub;
    struct event *signals[3];
    struct event *reopen_timer;
    unsigned long reloads, rejected;
    pc_httpd_opts http_opts; /* listen NULL: no HTTP endpoints */
    pc_coord_http *http;
} coord;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: portco-coordinator --config CLUSTER.yaml [--zk HOSTS] [--root PATH]\n"
            "                          [--session-timeout MS] [--id NAME]\n"
            "                          [--log-level debug|info|warn|error]\n"
            "                          [--listen IP:PORT [--tls-cert PEM --tls-key PEM\n"
            "                          [--tls-client-ca PEM]]]\n"
            "       portco-coordinator --version | --help\n"
            "\n"
            "Runs in the foreground and logs to stderr. Several may run: one is elected\n"
            "leader and publishes the cluster file's pools and static assignments under\n"
            "<root>/config. SIGHUP re-reads the file (a bad file is rejected and nothing\n"
            "changes); SIGTERM or SIGINT stops.\n"
            "\n"
            "  --config FILE          cluster file (YAML), as checked by `portco lint`\n"
            "  --zk HOSTS             ZooKeeper connect string (default $PORTCO_ZK, else %s)\n"
            "  --root PATH            ZooKeeper root (default: the file's `root`, else %s)\n"
            "  --session-timeout MS   ZooKeeper session timeout (default %d)\n"
            "  --id NAME              name in the leader node (default <hostname>-<pid>)\n"
            "  --log-level LEVEL      debug, info, warn or error (default $PORTCO_LOG, else info)\n"
            "  --listen IP:PORT       serve /metrics, /v1/leader, /v1/config ([v6]:PORT too)\n"
            "  --tls-cert, --tls-key  PEM certificate and key: serve HTTPS\n"
            "  --tls-client-ca PEM    require client certificates signed by this CA\n",
            PC_COORD_DEFAULT_ZK, PC_DEFAULT_ROOT, PC_COORD_DEFAULT_SESSION_MS);
}

/* Load and validate the cluster file; log every error as FILE:LINE:COL: ... */
static int coord_load(const coord *c, pc_cluster *out)
{
    pc_diags d = PC_DIAGS_INIT;
    int rc = pc_cluster_load_file(c->config_path, out, &d);
    if (rc < 0) {
        char line[1024];
        for (size_t i = 0; i < d.n; i++)
            pc_err("%s", pc_diag_format(&d.v[i], line, sizeof(line)));
        pc_err("%s: rejected (%zu error%s)", c->config_path, d.n, d.n == 1 ? "" : "s");
    }
    pc_diags_free(&d);
    return rc;
}

/* SIGHUP: a good file replaces the one to publish; a bad one changes nothing. */
static void coord_reload(coord *c)
{
    pc_cluster cfg = {0};
    pc_info("SIGHUP: reloading %s", c->config_path);
    if (coord_load(c, &cfg) < 0) {
        c->rejected++;
        pc_err("keeping the configuration loaded before; ZooKeeper is left as it is");
        pc_cluster_free(&cfg);
        return;
    }
    c->reloads++;
    if (!c->root_from_flag && strcmp(cfg.root, c->root) != 0)
        pc_warn("%s: root is now %s, but this coordinator publishes under %s until restarted",
                c->config_path, cfg.root, c->root);
    pc_info("loaded %s: %zu pools, %zu statics%s", c->config_path, cfg.npools, cfg.nstatics,
            pc_elect_is_leader(c->elect) ? "; publishing" : "; publishing once leader");
    pc_coord_http_set_config(c->http, &cfg);
    pc_pub_set_config(c->pub, &cfg);
}

static void coord_on_reopen_timer(evutil_socket_t fd, short what, void *arg);

static void coord_reopen(coord *c)
{
    pc_error err;
    if (pc_zk_reopen(c->zk, NULL, &err) < 0) {
        pc_err("cannot open a new ZooKeeper session: %s; retrying", err.msg);
        struct timeval tv = {PC_COORD_REOPEN_RETRY_S, 0};
        evtimer_add(c->reopen_timer, &tv);
    }
}

static void coord_on_reopen_timer(evutil_socket_t fd, short what, void *arg)
{
    coord_reopen(arg);
}

static void coord_zk_state(pc_zk *zk, pc_zk_state st, void *ud)
{
    coord *c = ud;
    switch (st) {
    case PC_ZK_CONNECTED:
        pc_elect_on_connected(c->elect);
        pc_pub_kick(c->pub);
        break;
    case PC_ZK_EXPIRED:
    case PC_ZK_AUTH_FAILED:
        /* The candidate node went with the session: enter again with a new one. */
        pc_elect_on_expired(c->elect);
        coord_reopen(c);
        break;
    case PC_ZK_CONNECTING:
    case PC_ZK_CLOSED:
        break;
    }
}

static void coord_leadership(pc_elect *e, bool leader, void *ud)
{
    coord *c = ud;
    if (leader)
        pc_pub_start(c->pub, pc_elect_node(e));
    else
        pc_pub_stop(c->pub);
}

static void coord_published(pc_pub *p, void *ud)
{
    coord *c = ud;
    pc_coord_http_published(c->http);
    const pc_pub_stats *s = pc_pub_get_stats(p);
    pc_debug("publish totals: %lu cycles, %lu multi-ops, %lu failures", s->cycles, s->writes,
             s->failures);
}

static void coord_on_signal(evutil_socket_t sig, short what, void *arg)
{
    coord *c = arg;
    if (sig == SIGHUP) {
        coord_reload(c);
        return;
    }
    pc_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    event_base_loopbreak(c->base);
}

/*
 * Check a ZooKeeper connect string given by `what` (the flag or the
 * variable). Returns 0, or 2 after saying what is wrong.
 */
static int coord_check_zk(const char *what, const char *v)
{
    const char *why = NULL;
    if (!*v) {
        fprintf(stderr,
                "portco-coordinator: %s: empty ZooKeeper connect string; give "
                "host:port[,host:port...]\n",
                what);
        return 2;
    }
    if (!pc_connect_valid(v, &why)) {
        fprintf(stderr,
                "portco-coordinator: %s '%s' is not a ZooKeeper connect string: %s (e.g. "
                "10.0.0.1:2181,10.0.0.2:2181)\n",
                what, v, why);
        return 2;
    }
    return 0;
}

/*
 * Parse the flags, then take what they leave out from $PORTCO_ZK and
 * $PORTCO_LOG. Returns -1 to go on, 0 after printing the help or the
 * version, or 2 for a usage error (message printed).
 */
static int coord_parse(coord *c, int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"zk", required_argument, NULL, 'z'},
                                         {"root", required_argument, NULL, 'r'},
                                         {"session-timeout", required_argument, NULL, 's'},
                                         {"id", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"tls-cert", required_argument, NULL, 300},
                                         {"tls-key", required_argument, NULL, 301},
                                         {"tls-client-ca", required_argument, NULL, 302},
                                         {"log-level", required_argument, NULL, 303},
                                         {"version", no_argument, NULL, 304},
                                         {NULL, 0, NULL, 0}};
    int o, level = PC_LOG_INFO;
    bool level_given = false;
    while ((o = getopt_long(argc, argv, "c:z:r:s:i:hl:", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            c->config_path = optarg;
            break;
        case 'z':
            if (coord_check_zk("--zk", optarg) != 0)
                return 2;
            c->zk_hosts = optarg;
            break;
        case 'r':
            if (pc_zkp_check_root(optarg) < 0 || strlen(optarg) > PC_ROOT_MAX) {
                fprintf(stderr, "portco-coordinator: --root %s: not an absolute ZooKeeper path\n",
                        optarg);
                return 2;
            }
            snprintf(c->root, sizeof(c->root), "%s", optarg);
            c->root_from_flag = true;
            break;
        case 's': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < 100 || v > 600000) {
                fprintf(stderr, "portco-coordinator: --session-timeout %s: expected 100..600000\n",
                        optarg);
                return 2;
            }
            c->session_ms = (int)v;
            break;
        }
        case 'i':
            if (!*optarg || strlen(optarg) >= sizeof(c->id)) {
                fprintf(stderr, "portco-coordinator: --id: 1 to %zu characters\n",
                        sizeof(c->id) - 1);
                return 2;
            }
            snprintf(c->id, sizeof(c->id), "%s", optarg);
            break;
        case 'l':
            c->http_opts.listen = optarg;
            break;
        case 300:
            c->http_opts.cert = optarg;
            break;
        case 301:
            c->http_opts.key = optarg;
            break;
        case 302:
            c->http_opts.client_ca = optarg;
            break;
        case 303:
            if (pc_log_level_parse(optarg, &level) < 0) {
                fprintf(stderr,
                        "portco-coordinator: --log-level must be debug, info, warn or error, not "
                        "'%s'\n",
                        optarg);
                return 2;
            }
            level_given = true;
            break;
        case 304:
            printf("portco-coordinator %s\n", PORTCO_VERSION_STRING);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || !c->config_path) {
        fprintf(stderr, "portco-coordinator: %s\n",
                optind < argc ? "unexpected argument" : "--config is required");
        usage(stderr);
        return 2;
    }
    if (!c->http_opts.listen && (c->http_opts.cert || c->http_opts.key || c->http_opts.client_ca)) {
        fprintf(stderr, "portco-coordinator: --tls-cert, --tls-key and --tls-client-ca need "
                        "--listen\n");
        return 2;
    }
    const char *env_zk = getenv("PORTCO_ZK");
    if (!c->zk_hosts && env_zk && *env_zk) {
        if (coord_check_zk("$PORTCO_ZK", env_zk) != 0)
            return 2;
        c->zk_hosts = env_zk;
    }
    if (!c->zk_hosts)
        c->zk_hosts = PC_COORD_DEFAULT_ZK;
    if (!level_given && pc_log_level_from_env(&level) < 0) {
        fprintf(stderr,
                "portco-coordinator: $PORTCO_LOG '%s' is not a log level: use debug, info, warn "
                "or error\n",
                getenv("PORTCO_LOG"));
        return 2;
    }
    pc_log_set_level(level);
    return -1; /* go on */
}

/* Open the session and the election, install the signal events. */
static int coord_setup(coord *c)
{
    pc_error err;
    c->base = event_base_new();
    if (!c->base) {
        pc_err("cannot create the event loop");
        return -ENOMEM;
    }
    int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        c->signals[i] = evsignal_new(c->base, sigs[i], coord_on_signal, c);
        if (!c->signals[i] || evsignal_add(c->signals[i], NULL) < 0) {
            pc_err("cannot watch signal %d", sigs[i]);
            return -ENOMEM;
        }
    }
    c->reopen_timer = evtimer_new(c->base, coord_on_reopen_timer, c);
    if (!c->reopen_timer)
        return -ENOMEM;
    int rc = pc_zk_open(c->base, c->zk_hosts, c->session_ms, NULL, coord_zk_state, c, &c->zk, &err);
    if (rc == 0)
        rc = pc_pub_new(c->base, c->zk, c->root, coord_published, c, &c->pub, &err);
    if (rc == 0)
        rc = pc_elect_new(c->base, c->zk, c->root, c->id, coord_leadership, c, &c->elect, &err);
    if (rc < 0)
        pc_err("%s", err.msg);
    return rc;
}

static void coord_teardown(coord *c)
{
    if (c->pub)
        pc_pub_stop(c->pub);
    /* Closing the session removes our candidate and leader nodes at once, so
     * another coordinator takes over without waiting for a session timeout. */
    pc_zk_close(c->zk);
    pc_coord_http_free(c->http); /* after the close answered its pending reads */
    pc_elect_free(c->elect);
    if (c->pub) {
        const pc_pub_stats *s = pc_pub_get_stats(c->pub);
        pc_info("published: %lu cycles, %lu multi-ops, %lu failed cycles; pools +%lu ~%lu -%lu, "
                "statics +%lu ~%lu -%lu; %lu reloads, %lu rejected files",
                s->cycles, s->writes, s->failures, s->pools_created, s->pools_updated,
                s->pools_removed, s->statics_created, s->statics_updated, s->statics_removed,
                c->reloads, c->rejected);
    }
    pc_pub_free(c->pub);
    for (int i = 0; i < 3; i++)
        if (c->signals[i])
            event_free(c->signals[i]);
    if (c->reopen_timer)
        event_free(c->reopen_timer);
    if (c->base)
        event_base_free(c->base);
}

int main(int argc, char **argv)
{
    coord c = {0};
    c.session_ms = PC_COORD_DEFAULT_SESSION_MS;
    int prc = coord_parse(&c, argc, argv);
    if (prc >= 0)
        return prc;
    pc_log_set_ident("portco-coordinator");
    signal(SIGPIPE, SIG_IGN);
    if (!c.id[0]) {
        char host[100] = "coordinator";
        gethostname(host, sizeof(host) - 1);
        snprintf(c.id, sizeof(c.id), "%s-%d", host, (int)getpid());
    }

    pc_cluster cfg = {0};
    if (coord_load(&c, &cfg) < 0) {
        pc_cluster_free(&cfg);
        return 2;
    }
    if (!c.root_from_flag)
        snprintf(c.root, sizeof(c.root), "%s", cfg.root[0] ? cfg.root : PC_DEFAULT_ROOT);
    pc_info("starting as %s: %s (%zu pools, %zu statics), ZooKeeper %s, root %s", c.id,
            c.config_path, cfg.npools, cfg.nstatics, c.zk_hosts, c.root);

    int rc = coord_setup(&c);
    if (rc == 0 && c.http_opts.listen) {
        pc_coord_http_src src = {c.id, c.root, &c.reloads, &c.rejected};
        pc_error err;
        rc = pc_coord_http_start(c.base, &c.http_opts, &src, &c.http, &err);
        if (rc < 0) {
            pc_err("HTTP endpoints: %s", err.msg);
            pc_cluster_free(&cfg);
            coord_teardown(&c);
            return rc == PORTCO_ECONFIG ? 2 : 1;
        }
        pc_coord_http_attach(c.http, c.zk, c.elect, c.pub);
    }
    if (rc == 0) {
        pc_coord_http_set_config(c.http, &cfg);
        pc_pub_set_config(c.pub, &cfg);
        event_base_dispatch(c.base);
    }
    pc_cluster_free(&cfg);
    coord_teardown(&c);
    return rc == 0 ? 0 : 1;
}
