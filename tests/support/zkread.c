/* zkread.c - blocking test-side ZooKeeper calls over libzookeeper_st's async API and a poll() loop.
 */
#include "zkread.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

struct pending;

struct pt_zkr {
    zhandle_t *zh;
    int timeout_ms;
    struct pending *orphans; /* calls given up on, freed by pt_zkr_close() */
};

/* State of one call in flight; the completion fills it. */
typedef struct pending {
    bool done;
    int rc;
    struct Stat stat;
    char *data; /* node data, or the path a create made */
    int len;
    char **names;
    int count;
    void *results;        /* what a multi-op's completion writes into */
    struct pending *next; /* in the handle's orphans */
} pending;

static void pending_free(pending *p)
{
    free(p->data);
    pt_zkr_free_strings(p->names, p->count);
    free(p->results);
    free(p);
}

static int map_rc(int zrc)
{
    switch (zrc) {
    case ZOK:
        return 0;
    case ZNONODE:
        return -ENOENT;
    case ZNODEEXISTS:
        return -EEXIST;
    case ZNOTEMPTY:
        return -ENOTEMPTY;
    case ZBADVERSION:
        return -ESTALE;
    case ZNOCHILDRENFOREPHEMERALS:
        return -ENOTDIR;
    case ZNOAUTH:
    case ZAUTHFAILED:
        return -EACCES;
    case ZBADARGUMENTS:
        return -EINVAL;
    case ZOPERATIONTIMEOUT:
        return -ETIMEDOUT;
    case ZCONNECTIONLOSS:
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
        return -ECONNRESET;
    case ZSYSTEMERROR:
    case ZMARSHALLINGERROR:
    default:
        return -EIO;
    }
}

/* Errors after which the handle cannot make progress; anything else (a
 * refused or lost connection, a system error on one socket) is retried by
 * the library on its next server, so the loop goes on until its deadline. */
static bool fatal(zhandle_t *zh, int zrc)
{
    int state = zoo_state(zh);
    return zrc == ZBADARGUMENTS || state == ZOO_EXPIRED_SESSION_STATE ||
           state == ZOO_AUTH_FAILED_STATE;
}

static int fatal_rc(zhandle_t *zh, int zrc)
{
    if (zrc == ZBADARGUMENTS)
        return -EINVAL;
    return zoo_state(zh) == ZOO_AUTH_FAILED_STATE ? -EACCES : -ECONNRESET;
}

/*
 * Drive the handle until *flag becomes true or the deadline passes. Returns
 * 0, -ETIMEDOUT, -ECONNRESET when the session expired, -EACCES when
 * authentication failed, or -errno from poll().
 */
static int drive(zhandle_t *zh, const bool *flag, int timeout_ms)
{
    long long deadline = pt_now_ms() + timeout_ms;
    while (!*flag) {
        long long left = deadline - pt_now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        int fd = -1, interest = 0;
        struct timeval tv = {0, 0};
        int zrc = zookeeper_interest(zh, &fd, &interest, &tv);
        if (fatal(zh, zrc))
            return fatal_rc(zh, zrc);
        long long wait = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
        if (wait > left || wait < 0)
            wait = left;
        if (wait == 0 && fd < 0)
            wait = 1;
        struct pollfd p = {.fd = fd, .events = 0};
        if (interest & ZOOKEEPER_READ)
            p.events |= POLLIN;
        if (interest & ZOOKEEPER_WRITE)
            p.events |= POLLOUT;
        int pr = poll(&p, fd >= 0 ? 1 : 0, (int)wait);
        if (pr < 0 && errno != EINTR)
            return -errno;
        int events = 0;
        if (pr > 0) {
            if (p.revents & (POLLIN | POLLHUP | POLLERR))
                events |= ZOOKEEPER_READ;
            if (p.revents & POLLOUT)
                events |= ZOOKEEPER_WRITE;
        }
        if (fd < 0)
            continue; /* between connection attempts: nothing to process */
        zrc = zookeeper_process(zh, events);
        if (fatal(zh, zrc))
            return fatal_rc(zh, zrc);
    }
    return 0;
}

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    bool *connected = ctx;
    if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE)
        *connected = true;
}

int pt_zkr_connect(pt_zkr **out, const char *connect, int session_ms, int timeout_ms)
{
    *out = NULL;
    if (!connect || !*connect || session_ms <= 0 || timeout_ms <= 0)
        return -EINVAL;
    /* The client logs every reconnection at INFO: noise in a test's output. */
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    pt_zkr *z = calloc(1, sizeof *z);
    bool *connected = calloc(1, sizeof *connected);
    if (!z || !connected) {
        free(z);
        free(connected);
        return -ENOMEM;
    }
    z->timeout_ms = timeout_ms;
    errno = 0;
    z->zh = zookeeper_init(connect, session_watcher, session_ms, NULL, connected, 0);
    if (!z->zh) {
        int e = errno ? -errno : -EINVAL;
        free(connected);
        free(z);
        return e;
    }
    int rc = drive(z->zh, connected, timeout_ms);
    if (rc != 0) {
        pt_zkr_close(z); /* frees `connected`, the handle's context */
        return rc;
    }
    /* Later session events only need a place to write; the flag stays true. */
    *out = z;
    return 0;
}

void pt_zkr_close(pt_zkr *z)
{
    if (!z)
        return;
    bool *connected = (bool *)zoo_get_context(z->zh);
    zookeeper_close(z->zh); /* runs whatever completions are left */
    free(connected);
    while (z->orphans) {
        pending *p = z->orphans;
        z->orphans = p->next;
        pending_free(p);
    }
    free(z);
}

long long pt_zkr_session_id(pt_zkr *z)
{
    const clientid_t *id = zoo_client_id(z->zh);
    return id ? (long long)id->client_id : 0;
}

/*
 * Finish a call whose request zoo_a*() answered with zrc: wait for the
 * completion when the request was queued. Returns the call's result with p
 * still the caller's (free it), or, with *gone set, a result after which p
 * is no longer the caller's: freed here when the request was not queued;
 * when the wait failed, the library may still run the completion later
 * (from zookeeper_close() at the latest), so p becomes the handle's orphan,
 * freed by pt_zkr_close().
 */
static int finish(pt_zkr *z, int zrc, pending *p, bool *gone)
{
    *gone = false;
    if (zrc != ZOK) {
        pending_free(p);
        *gone = true;
        return map_rc(zrc);
    }
    int rc = drive(z->zh, &p->done, z->timeout_ms);
    if (rc != 0) {
        p->next = z->orphans;
        z->orphans = p;
        *gone = true;
        return rc;
    }
    return p->rc;
}

static void on_strings_stat(int rc, const struct String_vector *sv, const struct Stat *st,
                            const void *data)
{
    pending *p = (pending *)data;
    p->rc = map_rc(rc);
    if (rc == ZOK && st)
        p->stat = *st;
    if (rc == ZOK && sv) {
        p->names = calloc((size_t)sv->count + 1, sizeof *p->names);
        if (!p->names) {
            p->rc = -ENOMEM;
        } else {
            for (int i = 0; i < sv->count; i++) {
                p->names[i] = strdup(sv->data[i]);
                if (!p->names[i])
                    p->rc = -ENOMEM;
            }
            p->count = sv->count;
        }
    }
    p->done = true;
}

void pt_zkr_free_strings(char **names, int count)
{
    if (!names)
        return;
    for (int i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int pt_zkr_children(pt_zkr *z, const char *path, char ***names, int *count, struct Stat *st)
{
    *names = NULL;
    *count = 0;
    pending *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    bool gone;
    int rc = finish(z, zoo_aget_children2(z->zh, path, 0, on_strings_stat, p), p, &gone);
    if (gone)
        return rc;
    if (rc == 0) {
        *names = p->names;
        *count = p->count;
        p->names = NULL;
        p->count = 0;
        if (st)
            *st = p->stat;
    }
    pending_free(p);
    return rc;
}

int pt_zkr_nchildren(pt_zkr *z, const char *path)
{
    char **names;
    int count;
    int rc = pt_zkr_children(z, path, &names, &count, NULL);
    if (rc < 0)
        return rc;
    pt_zkr_free_strings(names, count);
    return count;
}

static void on_data(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    pending *p = (pending *)data;
    p->rc = map_rc(rc);
    if (rc == ZOK) {
        if (st)
            p->stat = *st;
        int n = (value && len > 0) ? len : 0;
        p->data = malloc((size_t)n + 1);
        if (!p->data) {
            p->rc = -ENOMEM;
        } else {
            if (n)
                memcpy(p->data, value, (size_t)n);
            p->data[n] = '\0';
            p->len = n;
        }
    }
    p->done = true;
}

int pt_zkr_get(pt_zkr *z, const char *path, char **data, int *len, struct Stat *st)
{
    if (data)
        *data = NULL;
    pending *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    bool gone;
    int rc = finish(z, zoo_aget(z->zh, path, 0, on_data, p), p, &gone);
    if (gone)
        return rc;
    if (rc == 0) {
        if (data) {
            *data = p->data;
            p->data = NULL;
        }
        if (len)
            *len = p->len;
        if (st)
            *st = p->stat;
    }
    pending_free(p);
    return rc;
}

static void on_stat(int rc, const struct Stat *st, const void *data)
{
    pending *p = (pending *)data;
    p->rc = map_rc(rc);
    if (rc == ZOK && st)
        p->stat = *st;
    p->done = true;
}

int pt_zkr_exists(pt_zkr *z, const char *path, struct Stat *st)
{
    pending *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    bool gone;
    int rc = finish(z, zoo_aexists(z->zh, path, 0, on_stat, p), p, &gone);
    if (gone)
        return rc;
    if (rc == 0 && st)
        *st = p->stat;
    pending_free(p);
    return rc;
}

static void on_created(int rc, const char *value, const void *data)
{
    pending *p = (pending *)data;
    p->rc = map_rc(rc);
    if (rc == ZOK && value && !(p->data = strdup(value)))
        p->rc = -ENOMEM;
    p->done = true;
}

int pt_zkr_create(pt_zkr *z, const char *path, const char *data, int flags, char *created,
                  size_t created_len)
{
    pending *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    bool gone;
    int len = data ? (int)strlen(data) : -1;
    int rc =
        finish(z, zoo_acreate(z->zh, path, data, len, &ZOO_OPEN_ACL_UNSAFE, flags, on_created, p),
               p, &gone);
    if (gone)
        return rc;
    if (rc == 0 && created) {
        const char *made = p->data ? p->data : path;
        if (strlen(made) >= created_len)
            rc = -ENAMETOOLONG;
        else
            strcpy(created, made);
    }
    pending_free(p);
    return rc;
}

int pt_zkr_create_path(pt_zkr *z, const char *path, const char *data)
{
    if (!path || path[0] != '/')
        return -EINVAL;
    char *buf = strdup(path);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    for (char *s = strchr(buf + 1, '/'); s && (rc == 0 || rc == -EEXIST); s = strchr(s + 1, '/')) {
        *s = '\0';
        rc = pt_zkr_create(z, buf, NULL, 0, NULL, 0);
        *s = '/';
    }
    free(buf);
    if (rc == 0 || rc == -EEXIST)
        rc = pt_zkr_create(z, path, data, 0, NULL, 0);
    return rc == -EEXIST ? 0 : rc;
}

static void on_void(int rc, const void *data)
{
    pending *p = (pending *)data;
    p->rc = map_rc(rc);
    p->done = true;
}

#define PT_ZKR_MULTI_MAX 500

/* Run n operations (paths with data; data NULL: deletes) in multi-ops of
 * up to PT_ZKR_MULTI_MAX each. */
static int pt_zkr_multi(pt_zkr *z, char *const *paths, char *const *data, bool create, int n)
{
    for (int base = 0; base < n; base += PT_ZKR_MULTI_MAX) {
        int k = n - base < PT_ZKR_MULTI_MAX ? n - base : PT_ZKR_MULTI_MAX;
        zoo_op_t ops[PT_ZKR_MULTI_MAX];
        /* The completion writes the results: they go with p, which outlives
         * a call given up on (an orphan, freed by pt_zkr_close()). */
        zoo_op_result_t *res = calloc((size_t)k, sizeof(*res));
        pending *p = calloc(1, sizeof *p);
        if (!res || !p) {
            free(res);
            free(p);
            return -ENOMEM;
        }
        p->results = res;
        for (int i = 0; i < k; i++) {
            const char *d = data ? data[base + i] : NULL;
            if (create)
                zoo_create_op_init(&ops[i], paths[base + i], d, d ? (int)strlen(d) : -1,
                                   &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
            else
                zoo_delete_op_init(&ops[i], paths[base + i], -1);
        }
        bool gone;
        int rc = finish(z, zoo_amulti(z->zh, k, ops, res, on_void, p), p, &gone);
        if (!gone)
            pending_free(p);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int pt_zkr_create_many(pt_zkr *z, char *const *paths, char *const *data, int n)
{
    return pt_zkr_multi(z, paths, data, true, n);
}

int pt_zkr_delete_many(pt_zkr *z, char *const *paths, int n)
{
    return pt_zkr_multi(z, paths, NULL, false, n);
}

int pt_zkr_delete(pt_zkr *z, const char *path, int version)
{
    pending *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    bool gone;
    int rc = finish(z, zoo_adelete(z->zh, path, version, on_void, p), p, &gone);
    if (!gone)
        pending_free(p);
    return rc;
}

int pt_zkr_delete_tree(pt_zkr *z, const char *path)
{
    char **names = NULL;
    int count = 0;
    int rc = pt_zkr_children(z, path, &names, &count, NULL);
    if (rc == -ENOENT)
        return 0;
    if (rc != 0)
        return rc;
    for (int i = 0; i < count && rc == 0; i++) {
        size_t n = strlen(path) + strlen(names[i]) + 2;
        char *child = malloc(n);
        if (!child) {
            rc = -ENOMEM;
            break;
        }
        snprintf(child, n, "%s/%s", strcmp(path, "/") == 0 ? "" : path, names[i]);
        if (strcmp(child, "/zookeeper") != 0)
            rc = pt_zkr_delete_tree(z, child);
        free(child);
    }
    pt_zkr_free_strings(names, count);
    if (rc == 0 && strcmp(path, "/") != 0)
        rc = pt_zkr_delete(z, path, -1);
    return rc == -ENOENT ? 0 : rc;
}

char *pt_pool_json(const pt_pool_def *d)
{
    char ranges[32];
    snprintf(ranges, sizeof(ranges), "%d-%d", d->lo, d->hi);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "name", d->name, "ranges", ranges,
                          "exclude", d->exclude ? d->exclude : "", "proto",
                          d->proto ? d->proto : "tcp", "scope", d->scope ? d->scope : "cluster",
                          "address", d->address ? d->address : "0.0.0.0", "allow_privileged", 0);
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

int pt_zkr_publish_pool(pt_zkr *z, const char *root, const pt_pool_def *d)
{
    char path[600];
    if (snprintf(path, sizeof(path), "%s/config/pools/%s", root, d->name) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    char *json = pt_pool_json(d);
    if (!json)
        return -ENOMEM;
    int rc = pt_zkr_create_path(z, path, json);
    free(json);
    return rc;
}
