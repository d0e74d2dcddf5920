/* state.c - the agent's state file: written atomically, read back on start to re-attach or
 * re-assert. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acq.h"
#include "hold.h"
#include "lifetime.h"
#include "log.h"
#include "pools.h"
#include "release.h"
#include "session.h"
#include "state.h"

/* ------------------------------------------------------------------------ */
/* writing                                                                  */

static void pc_hex(const char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[(unsigned char)in[i] >> 4];
        out[2 * i + 1] = digits[(unsigned char)in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int pc_unhex(const char *in, char *out, size_t n)
{
    if (!in || strlen(in) != 2 * n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(in + 2 * i, "%2x", &v) != 1)
            return -EINVAL;
        out[i] = (char)v;
    }
    return 0;
}

static json_t *pc_hold_state(const pc_hold *h)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:I, s:s, s:I}", "pool",
                     h->pool->name, "port", (int)h->port, "path", h->path, "uuid", h->uuid, "czxid",
                     (json_int_t)h->czxid, "since_ms", (json_int_t)h->since_ms, "service",
                     h->service, "instance", h->instance, "pid", (json_int_t)h->pid, "uid",
                     (json_int_t)h->uid, "lifetime", pc_lifetime_name(h->lifetime), "hold_pid",
                     (json_int_t)h->hold_pid);
}

static json_t *pc_state_json(pc_agent *a)
{
    const clientid_t *cid = a->zk && !a->stopping ? pc_zk_client_id(a->zk) : NULL;
    char session[32], passwd[2 * sizeof(cid->passwd) + 1];
    snprintf(session, sizeof(session), "0x%llx", cid ? (unsigned long long)cid->client_id : 0ULL);
    if (cid)
        pc_hex(cid->passwd, sizeof(cid->passwd), passwd);
    else
        passwd[0] = '\0';
    json_t *claims = json_array();
    if (!claims)
        return NULL;
    pc_hold *h;
    TAILQ_FOREACH(h, &a->holds, link)
    {
        json_t *o = pc_hold_state(h);
        if (o)
            json_array_append_new(claims, o);
    }
    /* Claims not taken back yet stay in the file until they are. */
    size_t i;
    json_t *o;
    if (a->restore)
        json_array_foreach(a->restore, i, o) json_array_append(claims, o);
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:o}", "v", 1, "host", a->opts.host_id, "root",
                     a->opts.root, "session", session, "passwd", passwd, "saved_ms",
                     (json_int_t)pc_now_ms(), "claims", claims);
}

static int pc_write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Temp file, fsync, rename over the old one, fsync the directory: after a
 * crash the file is the old one or the new one, never a mix. */
static int pc_state_write(pc_agent *a)
{
    const char *path = a->opts.state_file;
    if (!path || !*path || a->state_disabled)
        return 0;
    json_t *j = pc_state_json(a);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return -ENOMEM;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
    } else {
        rc = pc_write_all(fd, s, strlen(s));
        if (rc == 0)
            rc = pc_write_all(fd, "\n", 1);
        if (rc == 0 && fsync(fd) < 0)
            rc = -errno;
        close(fd);
        if (rc == 0 && rename(tmp, path) < 0)
            rc = -errno;
        if (rc < 0)
            unlink(tmp);
    }
    free(s);
    if (rc == 0) {
        char dir[4200];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir)
            *slash = '\0';
        else
            snprintf(dir, sizeof(dir), "%s", slash ? "/" : ".");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    } else if (!a->state_warned) {
        a->state_warned = true;
        pc_warn("cannot write the state file %s: %s; claims will not survive a restart", path,
                strerror(-rc));
    }
    return rc;
}

static void pc_state_timer(evutil_socket_t fd, short what, void *arg)
{
    pc_state_write(arg);
}

void pc_state_dirty(pc_agent *a)
{
    if (!a->opts.state_file || !*a->opts.state_file || a->state_disabled || a->stopping)
        return;
    if (!a->state_ev && !(a->state_ev = evtimer_new(a->base, pc_state_timer, a)))
        return;
    if (!evtimer_pending(a->state_ev, NULL)) {
        struct timeval tv = {0, 0};
        evtimer_add(a->state_ev, &tv);
    }
}

void pc_state_flush(pc_agent *a)
{
    if (a->state_ev)
        evtimer_del(a->state_ev);
    pc_state_write(a);
}

void pc_state_free(pc_agent *a)
{
    pc_event_clear(&a->state_ev);
    json_decref(a->restore);
    a->restore = NULL;
}

/* ------------------------------------------------------------------------ */
/* reading                                                                  */

int pc_state_load(pc_agent *a, clientid_t *resume, bool *have)
{
    *have = false;
    const char *path = a->opts.state_file;
    if (!path || !*path)
        return 0;
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        struct stat st;
        if (dir[0] && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
            pc_warn("no directory %s for the state file: an agent restarted after a crash "
                    "cannot take its claims back; create it, or set state_file \"\" to run "
                    "without one",
                    dir);
            a->state_disabled = true;
            return 0;
        }
    }
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j) {
        if (access(path, F_OK) == 0)
            pc_warn("ignoring the state file %s: %s (line %d)", path, jerr.text, jerr.line);
        return 0;
    }
    const char *host = json_string_value(json_object_get(j, "host"));
    const char *root = json_string_value(json_object_get(j, "root"));
    const char *session = json_string_value(json_object_get(j, "session"));
    const char *passwd = json_string_value(json_object_get(j, "passwd"));
    json_t *claims = json_object_get(j, "claims");
    if (json_integer_value(json_object_get(j, "v")) != 1 || !host || !root || !session ||
        !json_is_array(claims)) {
        pc_warn("ignoring the state file %s: not a portco-agent state file", path);
        json_decref(j);
        return 0;
    }
    if (strcmp(host, a->opts.host_id) != 0 || strcmp(root, a->opts.root) != 0) {
        pc_warn("ignoring the state file %s: written for host %s under %s", path, host, root);
        json_decref(j);
        return 0;
    }
    unsigned long long id = strtoull(session, NULL, 16);
    memset(resume, 0, sizeof(*resume));
    if (id && pc_unhex(passwd, resume->passwd, sizeof(resume->passwd)) == 0) {
        resume->client_id = (int64_t)id;
        a->restore_cid = *resume;
        *have = true;
        a->restore_pending = true; /* even with no claims: the orphan scan */
    }
    if (json_array_size(claims) > 0) {
        a->restore = json_incref(claims);
        a->restore_pending = true;
    }
    pc_info("state file %s: session 0x%llx, %zu claims to take back", path, id,
            json_array_size(claims));
    json_decref(j);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* taking the claims back                                                   */

/* A request of the restore whose answer frees its context. */
typedef struct pc_rctx {
    pc_zk_req req; /* the request; its completion's data */
    pc_agent *a;
    char path[PC_ZKP_PATH_MAX];
    char pool[PC_POOL_NAME_MAX + 1];
    uint16_t port;
} pc_rctx;

static pc_rctx *pc_rctx_new(pc_agent *a, const char *path, const char *pool, uint16_t port)
{
    pc_rctx *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pc_zk_req_init(&c->req, &a->zk_reqs, c);
    c->a = a;
    snprintf(c->path, sizeof(c->path), "%s", path);
    snprintf(c->pool, sizeof(c->pool), "%s", pool);
    c->port = port;
    return c;
}

/* Is `name` (a child of a port node) a claim this agent holds or is making? */
static bool pc_node_in_use(pc_agent *a, const char *path)
{
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    pc_hold *h;
    TAILQ_FOREACH(h, &a->holds, link)
    {
        if (strcmp(h->path, path) == 0)
            return true;
    }
    pc_acq *q;
    TAILQ_FOREACH(q, &a->acqs, link)
    {
        if ((q->uuid[0] && pc_zkp_claim_is_ours(name, q->uuid)) || strcmp(q->node, path) == 0)
            return true;
    }
    return false;
}

static void pc_orphan_exists_cb(int rc, const struct Stat *st, const void *data)
{
    pc_rctx *c = pc_zk_req_take(data, NULL);
    pc_agent *a = c->a;
    const clientid_t *me = pc_zk_client_id(a->zk);
    if (rc == ZOK && me && st->ephemeralOwner == me->client_id && !a->stopping &&
        !pc_node_in_use(a, c->path)) {
        pc_info("deleting %s: a claim node of this session that no claim owns", c->path);
        char dir[PC_ZKP_PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", c->path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        pc_delete_claim(a, pc_pools_find(a, c->pool), c->path, dir, NULL, NULL);
    }
    free(c);
}

static void pc_orphan_port_cb(int rc, const struct String_vector *sv, const void *data)
{
    pc_rctx *c = pc_zk_req_take(data, NULL);
    pc_agent *a = c->a;
    for (int i = 0; rc == ZOK && !a->stopping && i < sv->count; i++) {
        pc_claim_name nm;
        if (pc_zkp_claim_parse(sv->data[i], &nm) < 0 || !nm.portco)
            continue;
        char path[PC_ZKP_PATH_MAX];
        if (pc_zkp_join(path, sizeof(path), c->path, sv->data[i]) < 0)
            continue;
        pc_rctx *k = pc_rctx_new(a, path, c->pool, c->port);
        if (k && pc_zk_req_sent(&k->req, zoo_aexists(pc_zk_handle(a->zk), path, 0,
                                                     pc_orphan_exists_cb, &k->req)) != 0)
            free(k);
    }
    free(c);
}

static void pc_orphan_ports_cb(int rc, const struct String_vector *sv, const void *data)
{
    pc_rctx *c = pc_zk_req_take(data, NULL);
    pc_agent *a = c->a;
    for (int i = 0; rc == ZOK && !a->stopping && i < sv->count; i++) {
        char path[PC_ZKP_PATH_MAX];
        long port = strtol(sv->data[i], NULL, 10);
        if (port <= 0 || port > 65535 || pc_zkp_join(path, sizeof(path), c->path, sv->data[i]) < 0)
            continue;
        pc_rctx *k = pc_rctx_new(a, path, c->pool, (uint16_t)port);
        if (k && pc_zk_req_sent(&k->req, zoo_aget_children(pc_zk_handle(a->zk), path, 0,
                                                           pc_orphan_port_cb, &k->req)) != 0)
            free(k);
    }
    free(c);
}

/* Delete every claim node of this session that nothing of this agent owns:
 * creates whose answer the previous process never saw. */
static void pc_orphan_scan(pc_agent *a)
{
    pc_apool *p;
    TAILQ_FOREACH(p, &a->pools, link)
    {
        if (!p->defined)
            continue;
        char dir[PC_ZKP_PATH_MAX];
        const char *host = p->def.scope == PC_SCOPE_HOST ? a->opts.host_id : NULL;
        if (pc_zkp_ports_dir(dir, sizeof(dir), a->opts.root, p->name, host) < 0)
            continue;
        pc_rctx *c = pc_rctx_new(a, dir, p->name, 0);
        if (c && pc_zk_req_sent(&c->req, zoo_aget_children(pc_zk_handle(a->zk), dir, 0,
                                                           pc_orphan_ports_cb, &c->req)) != 0)
            free(c);
    }
}

/* A re-attached claim whose node is gone (released just before the crash)
 * is not brought back. */
static void pc_adopt_exists_cb(int rc, const struct Stat *st, const void *data)
{
    pc_rctx *c = pc_zk_req_take(data, NULL);
    pc_agent *a = c->a;
    if (rc == ZNONODE && !a->stopping) {
        pc_hold *h;
        TAILQ_FOREACH(h, &a->holds, link)
        {
            if (strcmp(h->path, c->path) == 0 && !h->reasserting) {
                pc_info("claim %s is gone from ZooKeeper; not taken back", c->path);
                pc_hold_free(h);
                break;
            }
        }
    }
    free(c);
}

/* Build a held claim from one entry of the file, or NULL when its claimant
 * is gone or its pool is not published. */
static pc_hold *pc_state_claim(pc_agent *a, json_t *o)
{
    const char *pool = json_string_value(json_object_get(o, "pool"));
    const char *path = json_string_value(json_object_get(o, "path"));
    const char *lts = json_string_value(json_object_get(o, "lifetime"));
    json_int_t port = json_integer_value(json_object_get(o, "port"));
    portco_lifetime lt;
    if (!pool || !path || !lts || port <= 0 || port > 65535 || pc_lifetime_parse(lts, &lt) < 0)
        return NULL;
    pc_apool *p = pc_pools_find(a, pool);
    if (!p || !p->defined || !pc_rangeset_contains(&p->def.ports, (uint16_t)port))
        return NULL;
    int pidfd = -1;
    pid_t hold_pid = (pid_t)json_integer_value(json_object_get(o, "hold_pid"));
    if (lt == PORTCO_LIFETIME_CONNECTION)
        return NULL; /* its connection ended with the previous process */
    if (lt == PORTCO_LIFETIME_PID) {
        pc_error err;
        if (pc_lifetime_open_pid(hold_pid, &pidfd, &err) < 0)
            return NULL;
    }
    pc_hold *h = calloc(1, sizeof(*h));
    if (!h) {
        if (pidfd >= 0)
            close(pidfd);
        return NULL;
    }
    h->agent = a;
    h->pool = p;
    h->port = (uint16_t)port;
    snprintf(h->path, sizeof(h->path), "%s", path);
    const char *slash = strrchr(path, '/');
    pc_strlcpy(h->name, slash ? slash + 1 : path, sizeof(h->name));
    const char *uuid = json_string_value(json_object_get(o, "uuid"));
    snprintf(h->uuid, sizeof(h->uuid), "%s", uuid ? uuid : "");
    h->czxid = json_integer_value(json_object_get(o, "czxid"));
    h->since_ms = json_integer_value(json_object_get(o, "since_ms"));
    const char *service = json_string_value(json_object_get(o, "service"));
    const char *instance = json_string_value(json_object_get(o, "instance"));
    snprintf(h->service, sizeof(h->service), "%s", service ? service : "");
    snprintf(h->instance, sizeof(h->instance), "%s", instance ? instance : "");
    h->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
    h->uid = (uid_t)json_integer_value(json_object_get(o, "uid"));
    h->lifetime = lt;
    h->hold_pid = hold_pid;
    h->pidfd = pidfd;
    pc_holdset_init(&h->holds);
    /* Hold the port again unless its claimant already uses it. */
    pc_error err;
    if (pc_hold_probe(a, p, h->port, false, &h->holds, &err) < 0)
        pc_holdset_init(&h->holds);
    /* A pid claim that nothing would end is not taken back (it ends here). */
    int wrc = h->lifetime == PORTCO_LIFETIME_PID ? pc_lifetime_watch(h) : 0;
    if (wrc < 0) {
        pc_warn("not taking back the claim on %s:%u: cannot watch process %d, whose exit ends "
                "it: %s",
                p->name, h->port, (int)h->hold_pid, portco_strerror(wrc));
        pc_holdset_close(&h->holds);
        pc_lifetime_unwatch(h);
        free(h);
        return NULL;
    }
    return h;
}

void pc_state_restore(pc_agent *a)
{
    if (!a->restore_pending || !a->pools_ready || pc_zk_get_state(a->zk) != PC_ZK_CONNECTED)
        return;
    a->restore_pending = false;
    const clientid_t *cid = pc_zk_client_id(a->zk);
    bool same = cid && a->restore_cid.client_id && cid->client_id == a->restore_cid.client_id;
    json_t *claims = a->restore;
    a->restore = NULL;
    size_t i, kept = 0, dropped = 0;
    json_t *o;
    json_array_foreach(claims, i, o)
    {
        pc_hold *h = pc_state_claim(a, o);
        const char *path = json_string_value(json_object_get(o, "path"));
        const char *pool = json_string_value(json_object_get(o, "pool"));
        if (!h) {
            dropped++;
            if (same && path && pool) {
                /* Same session: its node is still there and nobody wants it. */
                char dir[PC_ZKP_PATH_MAX];
                snprintf(dir, sizeof(dir), "%s", path);
                char *slash = strrchr(dir, '/');
                if (slash)
                    *slash = '\0';
                pc_delete_claim(a, pc_pools_find(a, pool), path, dir, NULL, NULL);
            }
            continue;
        }
        kept++;
        TAILQ_INSERT_TAIL(&a->holds, h, link);
        a->nholds++;
        pc_acq_mark_inflight(a, h->pool);
        if (same) {
            pc_rctx *c = pc_rctx_new(a, h->path, h->pool->name, h->port);
            if (c && pc_zk_req_sent(&c->req, zoo_aexists(pc_zk_handle(a->zk), h->path, 0,
                                                         pc_adopt_exists_cb, &c->req)) != 0)
                free(c);
        } else {
            pc_session_reassert(a, h);
        }
    }
    json_decref(claims);
    pc_info("state file: %s, %zu claims taken back, %zu dropped (claimant gone)",
            same ? "re-attached to the previous session" : "the previous session expired", kept,
            dropped);
    if (same)
        pc_orphan_scan(a);
    pc_hold_poll_update(a);
    pc_state_dirty(a);
}
