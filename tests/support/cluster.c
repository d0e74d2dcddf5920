/* cluster.c - start and stop a test cluster: ZooKeeper, coordinators, agents in namespaces. */
#include "cluster.h"
#include "zkread.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PT_START_MS 20000
#define PT_STOP_MS  10000

/* Python listener: plain bind (no SO_REUSEADDR), listen, say so, wait for a signal. */
static const char *PT_PY_LISTEN = "import socket,sys,signal\n"
                                  "s=socket.socket(socket.AF_INET,socket.SOCK_STREAM)\n"
                                  "s.bind(('0.0.0.0',int(sys.argv[1])))\n"
                                  "s.listen(8)\n"
                                  "print('listening',flush=True)\n"
                                  "signal.pause()\n";

static int pt_write_atomic(const char *path, const char *text)
{
    char tmp[700];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    fputs(text, f);
    if (fclose(f) != 0)
        return -EIO;
    return rename(tmp, path) == 0 ? 0 : -errno;
}

int pt_cluster_write_file(pt_cluster *c, const char *cluster)
{
    int n = snprintf(c->cluster_text, sizeof(c->cluster_text), "root: %s\n%s", c->root, cluster);
    if (n < 0 || (size_t)n >= sizeof(c->cluster_text))
        return -E2BIG;
    return pt_write_atomic(c->cluster_file, c->cluster_text);
}

int pt_cluster_coord_start(pt_cluster *c, int i)
{
    if (i < 0 || i >= PT_CLUSTER_COORDS)
        return -EINVAL;
    char bin[512], session[16], id[16], logf[600];
    pt_bin("portco-coordinator", bin, sizeof(bin));
    snprintf(session, sizeof(session), "%d", c->coord_session_ms);
    snprintf(id, sizeof(id), "c%d", i);
    snprintf(logf, sizeof(logf), "%s/%s.log", c->dir, id);
    /* Flags, not the test's $PORTCO_ZK and $PORTCO_LOG, decide: the logs are read. */
    char *argv[] = {bin,
                    "--config",
                    c->cluster_file,
                    "--zk",
                    c->connect,
                    "--root",
                    c->root,
                    "--session-timeout",
                    session,
                    "--id",
                    id,
                    "--log-level",
                    "info",
                    NULL};
    pid_t pid = pt_spawn(argv, NULL, logf, logf);
    if (pid < 0)
        return pid;
    c->coords[i] = pid;
    if (i >= c->ncoords)
        c->ncoords = i + 1;
    return 0;
}

static int pt_agent_start(pt_cluster *c, int i)
{
    pt_cluster_agent *a = &c->agents[i];
    char bin[512], session[16];
    pt_bin("portco-agent", bin, sizeof(bin));
    snprintf(session, sizeof(session), "%d", c->agent_session_ms);
    char id[16];
    snprintf(id, sizeof(id), "h%d", i);
    snprintf(a->id, sizeof(a->id), "%s", id);
    snprintf(a->sock, sizeof(a->sock), "%s/%s.sock", c->dir, id);
    snprintf(a->log, sizeof(a->log), "%s/%s.log", c->dir, id);
    char *argv[] = {bin,         "--zk",        c->connect, "--root", c->root,
                    "--host-id", a->id,         "--socket", a->sock,  "--session-timeout",
                    session,     "--log-level", "debug",    NULL};
    char **run = argv;
    char **ns_argv = NULL;
    if (c->hosts) {
        ns_argv = pt_hosts_exec_argv(c->hosts, i, argv);
        if (!ns_argv)
            return -ENOMEM;
        run = ns_argv;
    }
    /* Agents inherit the test's environment: --zk and --log-level win over
     * $PORTCO_ZK and $PORTCO_LOG. */
    pid_t pid = pt_spawn(run, NULL, a->log, a->log);
    free(ns_argv);
    if (pid < 0)
        return pid;
    a->pid = pid;
    c->nagents = i + 1;
    return 0;
}

/* Read one line from fd into buf until '\n' or the deadline. */
static int pt_read_line(int fd, char *buf, size_t len, long long deadline)
{
    size_t used = 0;
    while (used + 1 < len) {
        int left = (int)(deadline - pt_now_ms());
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -ETIMEDOUT;
        ssize_t n = read(fd, buf + used, len - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -ECONNRESET;
        used += (size_t)n;
        buf[used] = '\0';
        if (memchr(buf, '\n', used))
            return (int)used;
    }
    return -E2BIG;
}

int pt_cluster_status(const pt_cluster *c, int i, json_t **out, int timeout_ms)
{
    *out = NULL;
    if (i < 0 || i >= c->nagents)
        return -EINVAL;
    long long deadline = pt_now_ms() + timeout_ms;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t plen = strlen(c->agents[i].sock);
    if (plen >= sizeof(sa.sun_path)) {
        close(fd);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, c->agents[i].sock, plen + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    static const char req[] = "{\"v\":1,\"id\":1,\"op\":\"status\"}\n";
    int rc = write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1) ? 0 : -EIO;
    char buf[16384];
    if (rc == 0)
        rc = pt_read_line(fd, buf, sizeof(buf), deadline);
    close(fd);
    if (rc < 0)
        return rc;
    json_t *o = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
    if (!o || !json_is_true(json_object_get(o, "ok"))) {
        json_decref(o);
        return -EPROTO;
    }
    *out = o;
    return 0;
}

long long pt_cluster_counter(const pt_cluster *c, int i, const char *name)
{
    json_t *st;
    int rc = pt_cluster_status(c, i, &st, 5000);
    if (rc < 0)
        return rc;
    json_t *v = json_object_get(json_object_get(st, "counters"), name);
    long long n = json_is_integer(v) ? (long long)json_integer_value(v) : -ENOENT;
    json_decref(st);
    return n;
}

typedef struct pt_pool_wait {
    const pt_cluster *c;
    int i;
    const char *pool; /* NULL: wait for "ready" only */
} pt_pool_wait;

static bool pt_pool_loaded(void *arg)
{
    pt_pool_wait *w = arg;
    json_t *st;
    if (pt_cluster_status(w->c, w->i, &st, 2000) < 0)
        return false;
    bool ok = json_is_true(json_object_get(st, "ready")) &&
              strcmp(json_string_value(json_object_get(st, "zookeeper")) ?: "", "connected") == 0;
    if (ok && w->pool) {
        ok = false;
        size_t k;
        json_t *p;
        json_array_foreach(json_object_get(st, "pools"), k,
                           p) if (json_is_string(p) && strcmp(json_string_value(p), w->pool) == 0)
            ok = true;
    }
    json_decref(st);
    return ok;
}

bool pt_cluster_wait_pool(const pt_cluster *c, int i, const char *pool, int timeout_ms)
{
    pt_pool_wait w = {c, i, pool};
    return pt_wait_until(pt_pool_loaded, &w, timeout_ms);
}

pid_t pt_cluster_listen(pt_cluster *c, int i, int port)
{
    if (c->nextra >= PT_CLUSTER_EXTRA)
        return -ENOSPC;
    char port_s[16], outf[600];
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(outf, sizeof(outf), "%s/listen-%d-%d.out", c->dir, i, port);
    char *argv[] = {"python3", "-c", (char *)PT_PY_LISTEN, port_s, NULL};
    char **run = argv;
    char **ns_argv = NULL;
    if (c->hosts) {
        ns_argv = pt_hosts_exec_argv(c->hosts, i, argv);
        if (!ns_argv)
            return -ENOMEM;
        run = ns_argv;
    }
    pid_t pid = pt_spawn(run, NULL, outf, NULL);
    free(ns_argv);
    if (pid < 0)
        return pid;
    c->extra[c->nextra++] = pid;
    if (!pt_wait_file(outf, 10000)) {
        fprintf(stderr, "cluster: listener on port %d of host %d did not start\n", port, i);
        return -ETIMEDOUT;
    }
    return pid;
}

int pt_cluster_port_run(bool netns, int n)
{
    if (netns && pt_hosts_supported())
        return 21000;
    return pt_port_run(n);
}

int pt_cluster_start(pt_cluster *c, const pt_cluster_opts *o)
{
    memset(c, 0, sizeof(*c));
    if (o->agents < 1 || o->agents > PT_HOSTS_MAX || o->coordinators < 0 ||
        o->coordinators > PT_CLUSTER_COORDS || !o->cluster)
        return -EINVAL;
    c->coord_session_ms = o->coord_session_ms > 0 ? o->coord_session_ms : 1500;
    c->agent_session_ms = o->agent_session_ms > 0 ? o->agent_session_ms : 10000;
    c->dir = pt_tmpdir("portco-cluster");
    if (!c->dir)
        return -errno;
    pt_unique_root("cluster", c->root, sizeof(c->root));
    snprintf(c->cluster_file, sizeof(c->cluster_file), "%s/cluster.yaml", c->dir);
    int rc = 0;
    if (o->netns) {
        if (pt_hosts_supported()) {
            rc = pt_hosts_create(o->agents, &c->hosts);
            if (rc < 0) {
                fprintf(stderr, "cluster: cannot create %d network namespaces: %d\n", o->agents,
                        rc);
                goto fail;
            }
        } else {
            c->netns_fallback = true;
            fprintf(stderr, "cluster: network namespaces are not available to this process; "
                            "every agent runs in the root namespace\n");
        }
    }
    if (o->own_zk) {
        rc = c->hosts ? pt_zk_start_on(&c->zk, 1, c->hosts->root_addr) : pt_zk_start(&c->zk, 1);
        if (rc < 0) {
            fprintf(stderr, "cluster: ZooKeeper did not start: %d\n", rc);
            goto fail;
        }
        snprintf(c->connect, sizeof(c->connect), "%s", c->zk.connect);
    } else {
        const char *shared = pt_zk_shared();
        if (!shared) {
            fprintf(stderr, "cluster: no shared ZooKeeper (run through ctest)\n");
            rc = -ENOENT;
            goto fail;
        }
        snprintf(c->connect, sizeof(c->connect), "%s", shared);
    }
    rc = pt_cluster_write_file(c, o->cluster);
    for (int i = 0; rc == 0 && i < o->coordinators; i++)
        rc = pt_cluster_coord_start(c, i);
    /* Agents start right away, as on a real cluster: some of them find
     * nothing published yet and must pick the pools up when they appear. */
    for (int i = 0; rc == 0 && i < o->agents; i++)
        rc = pt_agent_start(c, i);
    if (rc < 0) {
        fprintf(stderr, "cluster: cannot start the daemons: %d\n", rc);
        goto fail;
    }
    for (int i = 0; i < o->agents; i++) {
        if (!pt_wait_unix_socket(c->agents[i].sock, PT_START_MS) ||
            !pt_cluster_wait_pool(c, i, NULL, PT_START_MS)) {
            fprintf(stderr, "cluster: agent %s did not become ready (log %s)\n", c->agents[i].id,
                    c->agents[i].log);
            rc = -ETIMEDOUT;
            goto fail;
        }
    }
    return 0;
fail:
    pt_cluster_stop(c);
    return rc < 0 ? rc : -EIO;
}

/* Print a daemon log that holds a sanitizer report; returns 1 then, else 0. */
static int pt_check_log(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while (m && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    if (m)
        fclose(m);
    int bad = buf && (strstr(buf, "Sanitizer") || strstr(buf, "runtime error:"));
    if (bad)
        fprintf(stderr, "==== %s ====\n%s\n", path, buf);
    free(buf);
    return bad;
}

int pt_cluster_stop(pt_cluster *c)
{
    int bad = 0;
    for (int i = 0; i < c->nextra; i++)
        if (c->extra[i] > 0)
            pt_stop_pid(c->extra[i], SIGTERM, PT_STOP_MS);
    c->nextra = 0;
    for (int i = 0; i < c->nagents; i++)
        if (c->agents[i].pid > 0) {
            pt_stop_pid(c->agents[i].pid, SIGTERM, PT_STOP_MS);
            c->agents[i].pid = 0;
        }
    for (int i = 0; i < c->ncoords; i++)
        if (c->coords[i] > 0) {
            pt_stop_pid(c->coords[i], SIGTERM, PT_STOP_MS);
            c->coords[i] = 0;
        }
    if (c->dir) {
        for (int i = 0; i < c->nagents; i++)
            bad += pt_check_log(c->agents[i].log);
        for (int i = 0; i < c->ncoords; i++) {
            char p[600];
            snprintf(p, sizeof(p), "%s/c%d.log", c->dir, i);
            bad += pt_check_log(p);
        }
    }
    if (c->zk.dir[0]) {
        pt_zk_stop(&c->zk);
    } else if (c->connect[0] && c->root[0]) {
        pt_zkr *z;
        if (pt_zkr_connect(&z, c->connect, 10000, 10000) == 0) {
            pt_zkr_delete_tree(z, c->root);
            pt_zkr_close(z);
        }
    }
    c->connect[0] = '\0';
    pt_hosts_destroy(c->hosts);
    c->hosts = NULL;
    if (c->dir) {
        if (getenv("PORTCO_TEST_KEEP"))
            fprintf(stderr, "cluster: kept %s (PORTCO_TEST_KEEP)\n", c->dir);
        else
            pt_rmtree(c->dir);
        free(c->dir);
        c->dir = NULL;
    }
    return bad;
}
