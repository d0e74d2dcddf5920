/* agent_config.c - the agent's configuration file: defaults, loading and checks. */
#include "agent_config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "cluster_file.h"
#include "yamldoc.h"

void pc_agent_config_free(pc_agent_config *c)
{
    if (!c)
        return;
    free(c->zookeeper);
    free(c->host_id);
    free(c->socket);
    free(c->root);
    for (size_t i = 0; i < c->nprobe_addresses; i++)
        free(c->probe_addresses[i]);
    free(c->probe_addresses);
    free(c->state_file);
    free(c->metrics_listen);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_client_ca);
    memset(c, 0, sizeof(*c));
}

int pc_agent_config_defaults(pc_agent_config *c)
{
    char host[256] = "";
    memset(c, 0, sizeof(*c));
    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        snprintf(host, sizeof(host), "localhost");
    /* Keep the host id a valid node name even when the hostname is odd. */
    host[PC_HOST_ID_MAX] = '\0';
    for (char *p = host; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            *p = '_';
    c->zookeeper = strdup(PC_AGENT_DEFAULT_ZOOKEEPER);
    c->host_id = strdup(host);
    c->socket = strdup(PORTCO_DEFAULT_SOCKET);
    c->root = strdup(PC_DEFAULT_ROOT);
    c->session_timeout_ms = PC_AGENT_DEFAULT_SESSION_TIMEOUT_MS;
    c->timewait = PC_TIMEWAIT_REUSEADDR;
    c->ephemeral = PC_EPHEMERAL_WARN;
    c->state_file = strdup(PC_AGENT_DEFAULT_STATE_FILE);
    c->metrics_listen = strdup("");
    c->tls_cert = strdup("");
    c->tls_key = strdup("");
    c->tls_client_ca = strdup("");
    if (!c->zookeeper || !c->host_id || !c->socket || !c->root || !c->state_file ||
        !c->metrics_listen || !c->tls_cert || !c->tls_key || !c->tls_client_ca) {
        pc_agent_config_free(c);
        return -ENOMEM;
    }
    return 0;
}

static int pc_agent_from_doc(pc_ydoc *y, pc_agent_config *c)
{
    enum {
        F_ZK,
        F_HOST,
        F_SOCKET,
        F_ROOT,
        F_TIMEOUT,
        F_PROBE,
        F_TIMEWAIT,
        F_EPHEMERAL,
        F_STATE,
        F_METRICS,
        F_TLS_CERT,
        F_TLS_KEY,
        F_TLS_CA,
        F_N
    };
    pc_yfield f[F_N] = {
        [F_ZK] = {"zookeeper", false, NULL, NULL},
        [F_HOST] = {"host_id", false, NULL, NULL},
        [F_SOCKET] = {"socket", false, NULL, NULL},
        [F_ROOT] = {"root", false, NULL, NULL},
        [F_TIMEOUT] = {"session_timeout_ms", false, NULL, NULL},
        [F_PROBE] = {"probe_addresses", false, NULL, NULL},
        [F_TIMEWAIT] = {"timewait", false, NULL, NULL},
        [F_EPHEMERAL] = {"ephemeral", false, NULL, NULL},
        [F_STATE] = {"state_file", false, NULL, NULL},
        [F_METRICS] = {"metrics_listen", false, NULL, NULL},
        [F_TLS_CERT] = {"tls_cert", false, NULL, NULL},
        [F_TLS_KEY] = {"tls_key", false, NULL, NULL},
        [F_TLS_CA] = {"tls_client_ca", false, NULL, NULL},
    };
    char kind[80];
    yaml_node_t *root = pc_ydoc_root(y);
    if (!root)
        return 0; /* an empty agent file means "all defaults" */
    if (pc_ymap(y, root, "", f, F_N) < 0)
        return -1;
    const char *why;
    if (f[F_ZK].val && pc_ystrdup(y, f[F_ZK].val, "zookeeper", &c->zookeeper) == 0 &&
        !pc_connect_valid(c->zookeeper, &why))
        pc_yerr(y, f[F_ZK].val, PC_DIAG_BAD_VALUE,
                "zookeeper: '%.80s' is not a connect string: %s (e.g. 10.0.0.1:2181,10.0.0.2:2181)",
                c->zookeeper, why);
    if (f[F_HOST].val && pc_ystrdup(y, f[F_HOST].val, "host_id", &c->host_id) == 0 &&
        !pc_host_id_valid(c->host_id))
        pc_yerr(y, f[F_HOST].val, PC_DIAG_BAD_NAME,
                "host_id: '%.80s' cannot be a host id; use 1-127 characters of A-Z a-z 0-9 . _ - "
                "(not '.' or '..')",
                c->host_id);
    if (f[F_SOCKET].val && pc_ystrdup(y, f[F_SOCKET].val, "socket", &c->socket) == 0 &&
        (!c->socket[0] || strlen(c->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)))
        pc_yerr(y, f[F_SOCKET].val, PC_DIAG_BAD_VALUE,
                "socket: the path must be non-empty and shorter than %zu bytes",
                sizeof(((struct sockaddr_un *)0)->sun_path));
    if (f[F_ROOT].val && pc_ystrdup(y, f[F_ROOT].val, "root", &c->root) == 0 &&
        !pc_root_valid(c->root, &why))
        pc_yerr(y, f[F_ROOT].val, PC_DIAG_BAD_ROOT,
                "root: '%.80s' is not a usable ZooKeeper path: %s (e.g. /portco)", c->root, why);
    if (f[F_TIMEOUT].val) {
        long v;
        if (pc_yint(y, f[F_TIMEOUT].val, "session_timeout_ms", PC_AGENT_MIN_SESSION_TIMEOUT_MS,
                    PC_AGENT_MAX_SESSION_TIMEOUT_MS, &v) == 0)
            c->session_timeout_ms = (int)v;
    }
    yaml_node_t *pa = f[F_PROBE].val;
    if (pa && !pc_yis_null(pa) && pa->type != YAML_SEQUENCE_NODE) {
        pc_yerr(y, pa, PC_DIAG_BAD_TYPE, "probe_addresses: expected a list of IP literals; got %s",
                pc_ykind(pa, kind, sizeof(kind)));
    } else if (pa && pc_yseq_len(pa)) {
        size_t n = pc_yseq_len(pa);
        c->probe_addresses = calloc(n, sizeof(char *));
        if (!c->probe_addresses)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *it = pc_yseq_item(y, pa, i);
            char w[48], v[128], canon[PC_ADDRESS_MAX + 1];
            snprintf(w, sizeof(w), "probe_addresses[%zu]", i);
            if (pc_ystr(y, it, w, v, sizeof(v)) < 0)
                continue;
            if (pc_address_canon(v, canon, sizeof(canon)) < 0) {
                pc_yerr(y, it, PC_DIAG_BAD_ADDRESS,
                        "%s: '%.60s' is not an IPv4 or IPv6 literal; write e.g. 0.0.0.0 or \"::\"",
                        w, v);
                continue;
            }
            if (!(c->probe_addresses[c->nprobe_addresses] = strdup(canon)))
                return -ENOMEM;
            c->nprobe_addresses++;
        }
    }
    char v[32];
    if (f[F_TIMEWAIT].val && pc_ystr(y, f[F_TIMEWAIT].val, "timewait", v, sizeof(v)) == 0) {
        if (strcmp(v, "reuseaddr") == 0)
            c->timewait = PC_TIMEWAIT_REUSEADDR;
        else if (strcmp(v, "avoid") == 0)
            c->timewait = PC_TIMEWAIT_AVOID;
        else
            pc_yerr(y, f[F_TIMEWAIT].val, PC_DIAG_BAD_VALUE,
                    "timewait: '%s' is not a policy; use reuseaddr or avoid", v);
    }
    if (f[F_EPHEMERAL].val && pc_ystr(y, f[F_EPHEMERAL].val, "ephemeral", v, sizeof(v)) == 0) {
        if (strcmp(v, "warn") == 0)
            c->ephemeral = PC_EPHEMERAL_WARN;
        else if (strcmp(v, "avoid") == 0)
            c->ephemeral = PC_EPHEMERAL_AVOID;
        else
            pc_yerr(y, f[F_EPHEMERAL].val, PC_DIAG_BAD_VALUE,
                    "ephemeral: '%s' is not a policy; use warn or avoid", v);
    }
    if (f[F_STATE].val) {
        /* An empty string (or null) turns the state file off. */
        if (pc_yis_null(f[F_STATE].val)) {
            free(c->state_file);
            if (!(c->state_file = strdup("")))
                return -ENOMEM;
        } else {
            pc_ystrdup(y, f[F_STATE].val, "state_file", &c->state_file);
        }
    }
    if (f[F_METRICS].val) {
        if (pc_yis_null(f[F_METRICS].val)) {
            free(c->metrics_listen);
            if (!(c->metrics_listen = strdup("")))
                return -ENOMEM;
        } else if (pc_ystrdup(y, f[F_METRICS].val, "metrics_listen", &c->metrics_listen) == 0 &&
                   c->metrics_listen[0]) {
            /* IP:PORT, with brackets around an IPv6 literal. */
            char *m = c->metrics_listen, host[128];
            char *colon = strrchr(m, ':');
            bool ok =
                colon && pc_hostport_valid(m, strlen(m)) && (size_t)(colon - m) < sizeof(host);
            if (ok) {
                memcpy(host, m, (size_t)(colon - m));
                host[colon - m] = '\0';
                char *h = host;
                size_t hl = strlen(h);
                if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
                    h[hl - 1] = '\0';
                    h++;
                    ok = strchr(h, ':') != NULL;
                } else {
                    ok = strchr(h, ':') == NULL;
                }
                ok = ok && pc_address_canon(h, NULL, 0) == 0;
            }
            if (!ok)
                pc_yerr(y, f[F_METRICS].val, PC_DIAG_BAD_ADDRESS,
                        "metrics_listen: '%.80s' is not IP:PORT; write e.g. 127.0.0.1:9470 or "
                        "[::1]:9470, or \"\" to turn metrics off",
                        m);
        }
    }
    /* TLS files: paths (null or "" for none); whether they can be read is
     * checked when the agent starts its HTTP server. */
    char **tls[3] = {&c->tls_cert, &c->tls_key, &c->tls_client_ca};
    for (int i = 0; i < 3; i++) {
        pc_yfield *t = &f[F_TLS_CERT + i];
        if (!t->val || pc_yis_null(t->val))
            continue;
        pc_ystrdup(y, t->val, t->name, tls[i]);
    }
    if (!y->errors) {
        bool cert = c->tls_cert[0], key = c->tls_key[0], ca = c->tls_client_ca[0];
        yaml_node_t *at = f[F_TLS_CERT].val  ? f[F_TLS_CERT].val
                          : f[F_TLS_KEY].val ? f[F_TLS_KEY].val
                                             : f[F_TLS_CA].val;
        if (cert != key)
            pc_yerr(y, at, PC_DIAG_BAD_VALUE,
                    "tls_cert and tls_key go together: give both, or neither for plain HTTP");
        else if (ca && !cert)
            pc_yerr(y, at, PC_DIAG_BAD_VALUE,
                    "tls_client_ca needs TLS: give tls_cert and tls_key too");
        else if (cert && !c->metrics_listen[0])
            pc_yerr(y, at, PC_DIAG_BAD_VALUE,
                    "tls_cert: TLS is for the HTTP endpoints, but metrics_listen is off; set "
                    "metrics_listen too");
    }
    if (y->d && y->d->oom)
        return -ENOMEM;
    return y->errors ? -1 : 0;
}

int pc_agent_config_load_string(const char *name, const char *text, size_t len, pc_agent_config *c,
                                pc_diags *d)
{
    int rc = pc_agent_config_defaults(c);
    if (rc < 0)
        return rc;
    pc_diags local = PC_DIAGS_INIT;
    pc_diags *dd = d ? d : &local;
    size_t first = dd->n;
    pc_ydoc y;
    rc = pc_ydoc_load(&y, name, text, len, dd);
    if (rc == 0) {
        rc = pc_agent_from_doc(&y, c);
        if (rc == -1)
            rc = PORTCO_ECONFIG;
    }
    pc_ydoc_free(&y);
    pc_diags_sort_from(dd, first);
    if (rc < 0)
        pc_agent_config_free(c);
    pc_diags_free(&local);
    return rc;
}

int pc_agent_config_load_file(const char *path, pc_agent_config *c, pc_diags *d)
{
    char *buf;
    size_t len;
    memset(c, 0, sizeof(*c));
    int rc = pc_read_config_file(path, &buf, &len, d);
    if (rc < 0)
        return rc;
    rc = pc_agent_config_load_string(path, buf, len, c, d);
    free(buf);
    return rc;
}
