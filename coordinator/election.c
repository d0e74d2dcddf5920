/* election.c - leader election: sequential ephemeral candidates, each watching its predecessor. */
#include "election.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "zkpath.h"

#define PC_ELECT_RETRY_MS 1000

struct pc_elect {
    struct event_base *base;
    pc_zk *zk;
    char id[128];
    char dir[PC_ZKP_PATH_MAX];
    char prefix[PC_ZKP_PATH_MAX];
    char leader_path[PC_ZKP_PATH_MAX];
    char *data; /* candidate node data: {"id","host","pid"} */

    char mine[PC_ZKP_PATH_MAX]; /* our candidate node, valid when have_mine */
    int64_t my_seq;
    bool have_mine;
    bool maybe_orphan; /* a create's answer was lost: look for our node first */
    bool leader;
    char watching[PC_ZKP_PATH_MAX]; /* predecessor watched, "" when none */

    bool busy;       /* a step chain is in flight */
    bool again;      /* something changed meanwhile: run once more when done */
    pc_zk_reqs reqs; /* its requests; a new session renews the generation, so
                        completions of the older ones are ignored */
    int search_pending;
    char search_found[PC_ZKP_PATH_MAX];

    pc_elect_cb cb;
    void *ud;
    struct event *retry;
};

static void pc_elect_begin(pc_elect *e);
static void pc_elect_list(pc_elect *e);
static void pc_elect_lead(pc_elect *e);
static void pc_elect_create(pc_elect *e);

/* A request context of e's current generation (NULL when out of memory). */
static pc_zk_req *pc_elect_op_new(pc_elect *e)
{
    return pc_zk_req_new(&e->reqs, e);
}

/* Take the election back from a completion; NULL when the answer is stale. */
static pc_elect *pc_elect_op_take(const void *data)
{
    bool current;
    pc_elect *e = pc_zk_req_take(data, &current);
    return current ? e : NULL;
}

static void pc_elect_kick(pc_elect *e)
{
    if (e->busy) {
        e->again = true;
        return;
    }
    e->busy = true;
    e->again = false;
    pc_elect_begin(e);
}

/* The current chain ended (waiting on a watch, or leading). */
static void pc_elect_done(pc_elect *e)
{
    e->busy = false;
    if (e->again)
        pc_elect_kick(e);
}

/* A step failed: try again from the top after a pause. */
static void pc_elect_fail(pc_elect *e, int zrc, const char *what, const char *path)
{
    if (zrc != ZCLOSING)
        pc_warn("election: %s %s: %s; retrying in %d ms", what, path, zerror(zrc),
                PC_ELECT_RETRY_MS);
    e->busy = false;
    e->again = false;
    struct timeval tv = {PC_ELECT_RETRY_MS / 1000, (PC_ELECT_RETRY_MS % 1000) * 1000};
    evtimer_add(e->retry, &tv);
}

static void pc_elect_on_retry(evutil_socket_t fd, short what, void *arg)
{
    pc_elect_kick(arg);
}

static bool pc_elect_lost_connection(int zrc)
{
    return zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT;
}

static void pc_elect_stop_leading(pc_elect *e, const char *why)
{
    if (!e->leader)
        return;
    e->leader = false;
    pc_warn("election: no longer leader (%s)", why);
    if (e->cb)
        e->cb(e, false, e->ud);
}

/* ---- adopt a node our session made but whose create answer was lost ---- */

static void pc_elect_search_done(pc_elect *e)
{
    e->maybe_orphan = false;
    if (e->search_found[0]) {
        snprintf(e->mine, sizeof(e->mine), "%s", e->search_found);
        pc_zkp_election_parse(strrchr(e->mine, '/') + 1, &e->my_seq);
        e->have_mine = true;
        pc_info("election: found our candidate %s after a lost answer", e->mine);
        pc_elect_list(e);
    } else {
        pc_elect_create(e);
    }
}

typedef struct pc_elect_probe {
    pc_zk_req req; /* the exists request; its completion's data */
    pc_elect *e;
    char path[PC_ZKP_PATH_MAX];
} pc_elect_probe;

static void pc_elect_probed(int zrc, const struct Stat *stat, const void *data)
{
    bool current;
    pc_elect_probe *pr = pc_zk_req_take(data, &current);
    pc_elect *e = pr->e;
    bool stale = !current;
    if (!stale && zrc == ZOK && stat) {
        const clientid_t *cid = pc_zk_client_id(e->zk);
        if (cid && stat->ephemeralOwner == cid->client_id)
            snprintf(e->search_found, sizeof(e->search_found), "%s", pr->path);
    }
    free(pr);
    if (!stale && --e->search_pending == 0)
        pc_elect_search_done(e);
}

static void pc_elect_searched(int zrc, const struct String_vector *kids, const void *data)
{
    pc_elect *e = pc_elect_op_take(data);
    if (!e)
        return;
    if (zrc != ZOK) {
        pc_elect_fail(e, zrc, "list", e->dir);
        return;
    }
    e->search_found[0] = '\0';
    e->search_pending = 1; /* guard while issuing */
    for (int i = 0; kids && i < kids->count; i++) {
        if (pc_zkp_election_parse(kids->data[i], NULL) < 0)
            continue;
        pc_elect_probe *pr = malloc(sizeof(*pr));
        if (!pr)
            break;
        pc_zk_req_init(&pr->req, &e->reqs, pr);
        pr->e = e;
        if (pc_zkp_join(pr->path, sizeof(pr->path), e->dir, kids->data[i]) < 0 ||
            pc_zk_req_sent(&pr->req, zoo_aexists(pc_zk_handle(e->zk), pr->path, 0, pc_elect_probed,
                                                 &pr->req)) != 0) {
            free(pr);
            continue;
        }
        e->search_pending++;
    }
    if (--e->search_pending == 0)
        pc_elect_search_done(e);
}

/* ---- enter: mkdirs, (search), create ---- */

static void pc_elect_created(int zrc, const char *value, const void *data)
{
    pc_elect *e = pc_elect_op_take(data);
    if (!e)
        return;
    if (zrc != ZOK || !value) {
        if (pc_elect_lost_connection(zrc))
            e->maybe_orphan = true;
        pc_elect_fail(e, zrc, "create candidate under", e->dir);
        return;
    }
    snprintf(e->mine, sizeof(e->mine), "%s", value);
    if (pc_zkp_election_parse(strrchr(e->mine, '/') + 1, &e->my_seq) < 0) {
        pc_err("election: unexpected candidate name %s", e->mine);
        pc_elect_fail(e, ZAPIERROR, "parse", e->mine);
        return;
    }
    e->have_mine = true;
    pc_info("election: candidate %s", e->mine);
    pc_elect_list(e);
}

static void pc_elect_create(pc_elect *e)
{
    pc_zk_req *op = pc_elect_op_new(e);
    int zrc =
        op ? zoo_acreate(pc_zk_handle(e->zk), e->prefix, e->data, (int)strlen(e->data),
                         &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL | ZOO_SEQUENCE, pc_elect_created, op)
           : ZSYSTEMERROR;
    if (pc_zk_req_sent(op, zrc) != 0) {
        pc_elect_fail(e, zrc, "create candidate under", e->dir);
    }
}

static void pc_elect_dir_ready(int rc, void *ud)
{
    pc_elect *e = pc_elect_op_take(ud);
    if (!e)
        return;
    if (rc < 0) {
        pc_elect_fail(e, pc_zk_zrc(rc), "create", e->dir);
        return;
    }
    if (!e->maybe_orphan) {
        pc_elect_create(e);
        return;
    }
    pc_zk_req *op = pc_elect_op_new(e);
    int zrc = op ? zoo_aget_children(pc_zk_handle(e->zk), e->dir, 0, pc_elect_searched, op)
                 : ZSYSTEMERROR;
    if (pc_zk_req_sent(op, zrc) != 0) {
        pc_elect_fail(e, zrc, "list", e->dir);
    }
}

static void pc_elect_begin(pc_elect *e)
{
    if (e->have_mine) {
        pc_elect_list(e);
        return;
    }
    pc_zk_req *op = pc_elect_op_new(e);
    int rc = op ? pc_zk_mkdirs(e->zk, e->dir, pc_elect_dir_ready, op) : -ENOMEM;
    if (pc_zk_req_sent(op, rc == 0 ? ZOK : ZSYSTEMERROR) != 0) {
        pc_elect_fail(e, ZSYSTEMERROR, "create", e->dir);
    }
}

/* ---- check our place: lead, or watch the predecessor ---- */

static void pc_elect_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    pc_elect *e = ctx;
    if (type == ZOO_SESSION_EVENT || zh != pc_zk_handle(e->zk) || !path ||
        strcmp(path, e->watching) != 0)
        return;
    pc_debug("election: predecessor %s changed", path);
    e->watching[0] = '\0';
    pc_elect_kick(e);
}

static void pc_elect_pred_checked(int zrc, const struct Stat *stat, const void *data)
{
    pc_elect *e = pc_elect_op_take(data);
    if (!e)
        return;
    if (zrc == ZNONODE) {
        e->watching[0] = '\0';
        pc_elect_list(e); /* it went between the listing and the watch */
        return;
    }
    if (zrc != ZOK) {
        pc_elect_fail(e, zrc, "watch", e->watching);
        return;
    }
    pc_info("election: following; watching %s", e->watching);
    pc_elect_done(e);
}

static void pc_elect_listed(int zrc, const struct String_vector *kids, const void *data)
{
    pc_elect *e = pc_elect_op_take(data);
    if (!e)
        return;
    if (zrc != ZOK) {
        pc_elect_fail(e, zrc, "list", e->dir);
        return;
    }
    const char *base = strrchr(e->mine, '/') + 1;
    bool present = false;
    for (int i = 0; i < kids->count && !present; i++)
        present = strcmp(kids->data[i], base) == 0;
    if (!present) {
        /* Someone deleted our node: the session is alive, so enter again. */
        pc_warn("election: our candidate %s is gone; entering again", e->mine);
        e->have_mine = false;
        pc_elect_stop_leading(e, "candidate node deleted");
        pc_elect_begin(e);
        return;
    }
    int pred = pc_zkp_predecessor(kids->data, kids->count, pc_zkp_election_seq, e->my_seq);
    if (pred < 0) {
        pc_elect_lead(e);
        return;
    }
    pc_elect_stop_leading(e, "a lower candidate exists");
    pc_zkp_join(e->watching, sizeof(e->watching), e->dir, kids->data[pred]);
    pc_zk_req *op = pc_elect_op_new(e);
    int rc = op ? zoo_awexists(pc_zk_handle(e->zk), e->watching, pc_elect_watch, e,
                               pc_elect_pred_checked, op)
                : ZSYSTEMERROR;
    if (pc_zk_req_sent(op, rc) != 0) {
        pc_elect_fail(e, rc, "watch", e->watching);
    }
}

static void pc_elect_list(pc_elect *e)
{
    pc_zk_req *op = pc_elect_op_new(e);
    int rc =
        op ? zoo_aget_children(pc_zk_handle(e->zk), e->dir, 0, pc_elect_listed, op) : ZSYSTEMERROR;
    if (pc_zk_req_sent(op, rc) != 0) {
        pc_elect_fail(e, rc, "list", e->dir);
    }
}

/* ---- leading: write the leader node ---- */

static void pc_elect_become_leader(pc_elect *e)
{
    pc_elect_done(e);
    if (e->leader)
        return;
    e->leader = true;
    pc_info("election: leading as %s (candidate %s)", e->id, e->mine);
    if (e->cb)
        e->cb(e, true, e->ud);
}

static void pc_elect_stale_deleted(int zrc, const void *data)
{
    pc_elect *e = pc_elect_op_take(data);
    if (!e)
        return;
    if (zrc != ZOK && zrc != ZNONODE && zrc != ZBADVERSION) {
        pc_elect_fail(e, zrc, "delete", e->leader_path);
        return;
    }
    pc_elect_lead(e);
}

static void pc_elect_leader_checked(int zrc, const struct Stat *stat, const void *data)
{
    pc_elect *e = pc_elect_op_take(data);
    if (!e)
        return;
    if (zrc == ZNONODE) {
        pc_elect_lead(e);
        return;
    }
    if (zrc != ZOK) {
        pc_elect_fail(e, zrc, "read", e->leader_path);
        return;
    }
    const clientid_t *cid = pc_zk_client_id(e->zk);
    if (cid && stat->ephemeralOwner == cid->client_id) {
        pc_elect_become_leader(e); /* ours, written before a connection loss */
        return;
    }
    /* Not ours, yet we are the lowest candidate: a leftover (e.g. a node made
     * by hand, or by a session that is closing). Replace it. */
    pc_warn("election: replacing %s owned by session 0x%llx", e->leader_path,
            (unsigned long long)stat->ephemeralOwner);
    pc_zk_req *op = pc_elect_op_new(e);
    int rc = op ? zoo_adelete(pc_zk_handle(e->zk), e->leader_path, stat->version,
                              pc_elect_stale_deleted, op)
                : ZSYSTEMERROR;
    if (pc_zk_req_sent(op, rc) != 0) {
        pc_elect_fail(e, rc, "delete", e->leader_path);
    }
}

static void pc_elect_leader_written(int zrc, const char *value, const void *data)
{
    pc_elect *e = pc_elect_op_take(data);
    if (!e)
        return;
    if (zrc == ZOK) {
        pc_elect_become_leader(e);
        return;
    }
    if (zrc != ZNODEEXISTS) {
        pc_elect_fail(e, zrc, "create", e->leader_path);
        return;
    }
    pc_zk_req *op = pc_elect_op_new(e);
    int rc = op ? zoo_aexists(pc_zk_handle(e->zk), e->leader_path, 0, pc_elect_leader_checked, op)
                : ZSYSTEMERROR;
    if (pc_zk_req_sent(op, rc) != 0) {
        pc_elect_fail(e, rc, "read", e->leader_path);
    }
}

static char *pc_elect_leader_json(const pc_elect *e)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char since[32];
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *o =
        json_pack("{s:s, s:s, s:i, s:s, s:I}", "id", e->id, "host", host, "pid", (int)getpid(),
                  "since", since, "since_ms", (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static void pc_elect_lead(pc_elect *e)
{
    if (e->leader) {
        pc_elect_done(e);
        return;
    }
    char *json = pc_elect_leader_json(e);
    pc_zk_req *op = json ? pc_elect_op_new(e) : NULL;
    int rc = op ? zoo_acreate(pc_zk_handle(e->zk), e->leader_path, json, (int)strlen(json),
                              &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, pc_elect_leader_written, op)
                : ZSYSTEMERROR;
    free(json);
    if (pc_zk_req_sent(op, rc) != 0) {
        pc_elect_fail(e, rc, "create", e->leader_path);
    }
}

/* ---- public ---- */

int pc_elect_new(struct event_base *base, pc_zk *zk, const char *root, const char *id,
                 pc_elect_cb cb, void *ud, pc_elect **out, pc_error *err)
{
    if (!base || !zk || !id || !*id || !out)
        return pc_error_set(err, -EINVAL, "election: bad arguments");
    pc_elect *e = calloc(1, sizeof(*e));
    if (!e)
        return pc_error_set(err, -ENOMEM, "out of memory");
    e->base = base;
    e->zk = zk;
    e->cb = cb;
    e->ud = ud;
    snprintf(e->id, sizeof(e->id), "%s", id);
    if (pc_zkp_election_dir(e->dir, sizeof(e->dir), root) < 0 ||
        pc_zkp_election_prefix(e->prefix, sizeof(e->prefix), root) < 0 ||
        pc_zkp_leader(e->leader_path, sizeof(e->leader_path), root) < 0) {
        free(e);
        return pc_error_set(err, -EINVAL, "election: bad ZooKeeper root '%s'", root);
    }
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    json_t *o = json_pack("{s:s, s:s, s:i}", "id", id, "host", host, "pid", (int)getpid());
    e->data = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    e->retry = evtimer_new(base, pc_elect_on_retry, e);
    if (!e->data || !e->retry) {
        pc_elect_free(e);
        return pc_error_set(err, -ENOMEM, "out of memory");
    }
    *out = e;
    return 0;
}

void pc_elect_free(pc_elect *e)
{
    if (!e)
        return;
    if (e->retry)
        event_free(e->retry);
    free(e->data);
    free(e);
}

void pc_elect_on_connected(pc_elect *e)
{
    pc_elect_kick(e);
}

void pc_elect_on_expired(pc_elect *e)
{
    pc_zk_reqs_renew(&e->reqs);
    e->have_mine = false;
    e->maybe_orphan = false;
    e->busy = false;
    e->again = false;
    e->watching[0] = '\0';
    evtimer_del(e->retry);
    pc_elect_stop_leading(e, "session expired");
}

bool pc_elect_is_leader(const pc_elect *e)
{
    return e && e->leader;
}

const char *pc_elect_node(const pc_elect *e)
{
    return e && e->have_mine ? e->mine : NULL;
}
