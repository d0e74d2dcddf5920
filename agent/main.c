/* main.c - portco-agent: options, the event loop, the ZooKeeper session, clean shutdown. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "batch.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "pools.h"
#include "portco_version.h"
#include "presence.h"
#include "release.h"
#include "server.h"
#include "session.h"
#include "state.h"

/* Longest a shutdown waits for ZooKeeper to confirm the deletes. */
#define PC_STOP_DEADLINE_MS 5000

static void pc_usage(FILE *f)
{
    fprintf(f, "usage: portco-agent [--config FILE] [--zk HOSTS] [--host-id ID] [--socket PATH]\n"
               "                    [--root PATH] [--session-timeout MS] [--state-file PATH]\n"
               "                    [--log-level debug|info|warn|error]\n"
               "                    [--metrics-listen IP:PORT [--tls-cert PEM --tls-key PEM\n"
               "                    [--tls-client-ca PEM]]]\n"
               "       portco-agent --version | --help\n"
               "Runs in the foreground and logs to stderr; SIGTERM or SIGINT stop it and\n"
               "release every claim it holds. ZooKeeper is --zk, else $PORTCO_ZK, else the\n"
               "file's `zookeeper`, else " PC_AGENT_DEFAULT_ZOOKEEPER ". The log level is\n"
               "--log-level, else $PORTCO_LOG, else info.\n");
}

static int pc_set_str(char **dst, const char *v)
{
    char *s = strdup(v);
    if (!s)
        return -ENOMEM;
    free(*dst);
    *dst = s;
    return 0;
}

/*
 * Check a ZooKeeper connect string given by `what` (the flag or the
 * variable). Returns 0, or 2 after saying what is wrong.
 */
static int pc_check_zk(const char *what, const char *v)
{
    const char *why = NULL;
    if (!*v) {
        fprintf(stderr,
                "portco-agent: %s: empty ZooKeeper connect string; give host:port[,host:port...]\n",
                what);
        return 2;
    }
    if (!pc_connect_valid(v, &why)) {
        fprintf(stderr,
                "portco-agent: %s '%s' is not a ZooKeeper connect string: %s (e.g. "
                "10.0.0.1:2181,10.0.0.2:2181)\n",
                what, v, why);
        return 2;
    }
    return 0;
}

/*
 * The flags that set one string of the configuration as given:
 * XX(code, flag, field) sets `field` of pc_agent_config from --`flag`.
 */
#define PC_AGENT_STR_FLAGS(XX)                                                                     \
    XX(O_HOST, "host-id", host_id)                                                                 \
    XX(O_SOCKET, "socket", socket)                                                                 \
    XX(O_ROOT, "root", root)                                                                       \
    XX(O_STATE, "state-file", state_file)                                                          \
    XX(O_METRICS, "metrics-listen", metrics_listen)                                                \
    XX(O_TLS_CERT, "tls-cert", tls_cert)                                                           \
    XX(O_TLS_KEY, "tls-key", tls_key)                                                              \
    XX(O_TLS_CA, "tls-client-ca", tls_client_ca)

/*
 * Read the file (when given), then $PORTCO_ZK and $PORTCO_LOG, and apply the
 * flags over them. Returns 0; -1 after printing the help or the version (exit
 * status 0); or 2 for a usage error, a bad file or a bad variable (message
 * printed).
 */
static int pc_load_opts(int argc, char **argv, pc_agent_config *o, int *log_level)
{
#define PC_FLAG_CODE(code, flag, field) code,
#define PC_FLAG_LONG(code, flag, field) {flag, required_argument, NULL, code},
    enum {
        O_ZK = 256,
        O_TIMEOUT,
        O_LEVEL,
        O_CONFIG,
        O_HELP,
        O_VERSION,
        PC_AGENT_STR_FLAGS(PC_FLAG_CODE)
    };
    static const struct option longs[] = {
        {"config", required_argument, NULL, O_CONFIG},
        {"zk", required_argument, NULL, O_ZK},
        {"session-timeout", required_argument, NULL, O_TIMEOUT},
        {"log-level", required_argument, NULL, O_LEVEL},
        {"help", no_argument, NULL, O_HELP},
        {"version", no_argument, NULL, O_VERSION},
        PC_AGENT_STR_FLAGS(PC_FLAG_LONG) /* the string flags */
        {NULL, 0, NULL, 0},
    };
#undef PC_FLAG_LONG
#undef PC_FLAG_CODE
    const char *config = NULL;
    /* First pass: the file, so that flags override it whatever their order;
     * --help and --version answer before anything is read. */
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == O_CONFIG)
            config = optarg;
        if (c == O_HELP) {
            pc_usage(stdout);
            return -1;
        }
        if (c == O_VERSION) {
            printf("portco-agent %s\n", PORTCO_VERSION_STRING);
            return -1;
        }
    }
    pc_agent_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    pc_diags d = PC_DIAGS_INIT;
    int rc = config ? pc_agent_config_load_file(config, &cfg, &d) : pc_agent_config_defaults(&cfg);
    if (rc < 0) {
        fprintf(stderr, "portco-agent: cannot load %s:\n", config ? config : "the defaults");
        pc_diags_print(stderr, &d);
        pc_diags_free(&d);
        pc_agent_config_free(&cfg);
        return 2;
    }
    pc_diags_free(&d);
    pc_agent_config_free(o);
    *o = cfg;
    *log_level = PC_LOG_INFO;
    bool zk_given = false, level_given = false;

    optind = 1;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        rc = 0;
        char *end;
        switch (c) {
        case O_CONFIG:
            break;
        case O_ZK:
            if (pc_check_zk("--zk", optarg) != 0)
                return 2;
            rc = pc_set_str(&o->zookeeper, optarg);
            zk_given = true;
            break;
#define PC_FLAG_SET(code, flag, field)                                                             \
    case code:                                                                                     \
        rc = pc_set_str(&o->field, optarg);                                                        \
        break;
            PC_AGENT_STR_FLAGS(PC_FLAG_SET)
#undef PC_FLAG_SET
        case O_TIMEOUT:
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < PC_AGENT_MIN_SESSION_TIMEOUT_MS ||
                v > PC_AGENT_MAX_SESSION_TIMEOUT_MS) {
                fprintf(stderr, "portco-agent: --session-timeout must be %d..%d ms\n",
                        PC_AGENT_MIN_SESSION_TIMEOUT_MS, PC_AGENT_MAX_SESSION_TIMEOUT_MS);
                return 2;
            }
            o->session_timeout_ms = (int)v;
            break;
        case O_LEVEL:
            if (pc_log_level_parse(optarg, log_level) < 0) {
                fprintf(stderr,
                        "portco-agent: --log-level must be debug, info, warn or error, not '%s'\n",
                        optarg);
                return 2;
            }
            level_given = true;
            break;
        case O_HELP:
        case O_VERSION:
            break; /* answered by the first pass */
        default:
            pc_usage(stderr);
            return 2;
        }
        if (rc < 0)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "portco-agent: unexpected argument \"%s\"\n", argv[optind]);
        pc_usage(stderr);
        return 2;
    }
    /* The environment sits between the flags and the file. */
    const char *env_zk = getenv("PORTCO_ZK");
    if (!zk_given && env_zk && *env_zk) {
        if (pc_check_zk("$PORTCO_ZK", env_zk) != 0 || pc_set_str(&o->zookeeper, env_zk) < 0)
            return 2;
    }
    if (!level_given && pc_log_level_from_env(log_level) < 0) {
        fprintf(stderr,
                "portco-agent: $PORTCO_LOG '%s' is not a log level: use debug, info, warn or "
                "error\n",
                getenv("PORTCO_LOG"));
        return 2;
    }
    if (!pc_host_id_valid(o->host_id)) {
        fprintf(stderr, "portco-agent: host id \"%s\" is not valid: 1-127 of [A-Za-z0-9._-]\n",
                o->host_id);
        return 2;
    }
    const char *why = NULL;
    if (!pc_root_valid(o->root, &why)) {
        fprintf(stderr, "portco-agent: root \"%s\" is not valid: %s\n", o->root,
                why ? why : "bad path");
        return 2;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */

static void pc_zk_state_changed(pc_zk *zk, pc_zk_state state, void *ud)
{
    pc_agent *a = ud;
    if (a->stopping)
        return;
    switch (state) {
    case PC_ZK_CONNECTED: {
        bool first = !a->zk_ever_connected;
        bool renewed = a->session_renewed;
        a->zk_ever_connected = true;
        a->session_renewed = false;
        pc_info("ZooKeeper session 0x%llx connected",
                (unsigned long long)pc_zk_client_id(zk)->client_id);
        /* A new session has no watches and no ephemerals: set them up again.
         * A new handle on the same session (lib/zk re-attached) keeps the
         * ephemerals but not the watches. */
        bool new_handle = a->zh_seen && pc_zk_handle(zk) != a->zh_seen;
        a->zh_seen = pc_zk_handle(zk);
        if (first || renewed) {
            pc_pools_follow(a);
            pc_presence_publish(a);
        } else if (new_handle) {
            pc_pools_follow(a);
            pc_session_rewatch(a);
        } else {
            pc_pools_refollow(a); /* the reads the loss failed */
        }
        pc_session_on_connected(a, renewed);
        pc_state_restore(a);
        pc_state_dirty(a);
        break;
    }
    case PC_ZK_EXPIRED:
    case PC_ZK_AUTH_FAILED: {
        pc_warn("ZooKeeper session %s: opening a new one; claims will be re-asserted",
                pc_zk_state_name(state));
        pc_session_on_expired(a);
        a->session_renewed = true;
        pc_error err;
        if (pc_zk_reopen(zk, NULL, &err) < 0)
            pc_err("cannot open a new ZooKeeper session: %s", err.msg);
        break;
    }
    case PC_ZK_CONNECTING:
        pc_session_on_disconnected(a);
        break;
    default:
        break;
    }
}

static void pc_loop_exit(pc_agent *a)
{
    if (a->stop_ev)
        evtimer_del(a->stop_ev);
    event_base_loopexit(a->base, NULL);
}

/* Shutdown waits for the deletes to be confirmed, up to a deadline. */
static void pc_stop_poll(evutil_socket_t fd, short what, void *arg)
{
    pc_agent *a = arg;
    if (a->zk_reqs.pending <= 0 || pc_mono_ms() >= a->stop_deadline_ms ||
        pc_zk_get_state(a->zk) != PC_ZK_CONNECTED) {
        if (a->zk_reqs.pending > 0)
            pc_warn("stopping with %d ZooKeeper requests unconfirmed", a->zk_reqs.pending);
        pc_loop_exit(a);
        return;
    }
    struct timeval tv = {0, 20000};
    evtimer_add(a->stop_ev, &tv);
}

static void pc_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    pc_agent *a = arg;
    if (a->stopping)
        return;
    pc_info("signal %d: stopping, releasing %zu claims", (int)sig, a->nholds);
    pc_server_stop(a);
    pc_release_all(a);
    a->stopping = true;
    pc_conn_close_all(a);
    if (a->listen_poll_ev)
        evtimer_del(a->listen_poll_ev);
    a->stop_deadline_ms = pc_mono_ms() + PC_STOP_DEADLINE_MS;
    a->stop_ev = evtimer_new(a->base, pc_stop_poll, a);
    if (!a->stop_ev) {
        event_base_loopexit(a->base, NULL);
        return;
    }
    pc_zk_kick(a->zk);
    struct timeval tv = {0, 0};
    evtimer_add(a->stop_ev, &tv);
}

/*
 * The loop has two priorities: ZooKeeper's events (lib/zk puts them at 0)
 * run before client requests (the default, 1), and one dispatch runs at most
 * 10 ms of callbacks before it looks for more urgent events again. Without
 * this, a burst of a hundred acquires delayed the session's pings past the
 * server's deadline and the connection was dropped.
 */
static struct event_base *pc_agent_base_new(void)
{
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return NULL;
    struct timeval max_interval = {0, 10 * 1000};
    if (event_config_set_max_dispatch_interval(cfg, &max_interval, 16, 1) < 0) {
        event_config_free(cfg);
        return NULL;
    }
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (base && event_base_priority_init(base, 2) < 0) {
        event_base_free(base);
        return NULL;
    }
    return base;
}

int main(int argc, char **argv)
{
    pc_log_set_ident("portco-agent");
    signal(SIGPIPE, SIG_IGN);
    pc_agent a;
    memset(&a, 0, sizeof(a));
    a.listen_fd = -1;
    TAILQ_INIT(&a.conns);
    TAILQ_INIT(&a.pools);
    TAILQ_INIT(&a.holds);
    TAILQ_INIT(&a.acqs);
    TAILQ_INIT(&a.ready);
    int rc = pc_load_opts(argc, argv, &a.opts, &a.log_level);
    if (rc) {
        pc_agent_config_free(&a.opts);
        return rc < 0 ? 0 : rc;
    }
    pc_log_set_level(a.log_level);
    a.started_ms = pc_now_ms();
    a.base = pc_agent_base_new();
    if (!a.base) {
        fprintf(stderr, "portco-agent: cannot create the event loop\n");
        pc_agent_config_free(&a.opts);
        return 1;
    }
    pc_error err;
    pc_error_clear(&err);
    int exit_code = 0;
    clientid_t resume;
    bool have_resume = false;
    pc_state_load(&a, &resume, &have_resume);
    rc = pc_zk_open(a.base, a.opts.zookeeper, a.opts.session_timeout_ms,
                    have_resume ? &resume : NULL, pc_zk_state_changed, &a, &a.zk, &err);
    if (rc < 0) {
        pc_err("cannot start a ZooKeeper session with %s: %s", a.opts.zookeeper, err.msg);
        exit_code = 1;
        goto out;
    }
    rc = pc_agent_http_start(&a, &err);
    if (rc < 0) {
        pc_err("HTTP endpoints: %s", err.msg);
        exit_code = rc == PORTCO_ECONFIG ? 2 : 1;
        goto out;
    }
    rc = pc_server_start(&a, &err);
    if (rc < 0) {
        pc_err("%s", err.msg);
        exit_code = 1;
        goto out;
    }
    a.sigterm_ev = evsignal_new(a.base, SIGTERM, pc_signal_cb, &a);
    a.sigint_ev = evsignal_new(a.base, SIGINT, pc_signal_cb, &a);
    if (!a.sigterm_ev || !a.sigint_ev || evsignal_add(a.sigterm_ev, NULL) < 0 ||
        evsignal_add(a.sigint_ev, NULL) < 0) {
        pc_err("cannot install signal handlers");
        exit_code = 1;
        goto out;
    }
    pc_info("host %s, ZooKeeper %s, root %s", a.opts.host_id, a.opts.zookeeper, a.opts.root);
    event_base_dispatch(a.base);
    pc_info("stopped");
out:
    pc_agent_http_stop(&a);
    pc_server_stop(&a);
    a.stopping = true;
    pc_conn_close_all(&a);
    pc_release_all(&a);
    pc_batch_flush(&a);
    pc_zk_close(a.zk); /* pending completions run here */
    a.zk = NULL;
    pc_batch_free(&a);
    pc_release_free_all(&a);
    pc_state_flush(&a); /* what is left: nothing after a clean stop */
    pc_state_free(&a);
    pc_pools_free_all(&a);
    pc_event_clear(&a.sigterm_ev);
    pc_event_clear(&a.sigint_ev);
    pc_event_clear(&a.stop_ev);
    pc_event_clear(&a.listen_poll_ev);
    pc_event_clear(&a.ready_ev);
    pc_event_clear(&a.disconnect_ev);
    pc_kports_free(&a.kports);
    event_base_free(a.base);
    pc_agent_config_free(&a.opts);
    return exit_code;
}
