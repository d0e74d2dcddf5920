/* zksync.c - blocking ZooKeeper calls: async request plus a private poll loop. */
#include "zksync.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "zkloop.h"

struct pc_zks {
    zhandle_t *zh;
    int timeout_ms;
    int session_state; /* last session state the watcher saw */
};

/*
 * One request in flight. When the caller stops waiting (deadline), the op is
 * marked abandoned and its completion, which the client still calls later
 * (at the latest inside zookeeper_close() with ZCLOSING), frees it.
 */
typedef struct pc_zks_op {
    bool done;
    bool abandoned;
    int zrc;
    char *data;
    int len;
    struct Stat stat;
    struct String_vector strings;
    char *created;
} pc_zks_op;

static long long pc_zks_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pc_zks_op_free(pc_zks_op *op)
{
    free(op->data);
    free(op->created);
    deallocate_String_vector(&op->strings);
    free(op);
}

/* Called first in every completion: false when the op was abandoned (and is now freed). */
static bool pc_zks_op_finish(pc_zks_op *op, int zrc)
{
    if (op->abandoned) {
        pc_zks_op_free(op);
        return false;
    }
    op->done = true;
    op->zrc = zrc;
    return true;
}

static void pc_zks_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    pc_zks *s = ctx;
    if (type == ZOO_SESSION_EVENT)
        s->session_state = state;
}

/* One round of interest / poll / process, waiting at most `left` ms. */
static int pc_zks_step(pc_zks *s, long long left)
{
    int fd = -1, interest = 0;
    struct timeval tv = {0, 0};
    int rc = zookeeper_interest(s->zh, &fd, &interest, &tv);
    if (rc == ZINVALIDSTATE || is_unrecoverable(s->zh) == ZINVALIDSTATE)
        return ZINVALIDSTATE;
    long long wait = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    if (wait > left)
        wait = left;
    if (wait < 0)
        wait = 0;
    struct pollfd p = {.fd = fd, .events = 0};
    if (interest & ZOOKEEPER_READ)
        p.events |= POLLIN;
    if (interest & ZOOKEEPER_WRITE)
        p.events |= POLLOUT;
    int n = poll(&p, fd >= 0 ? 1 : 0, (int)wait);
    int events = 0;
    if (n > 0) {
        if (p.revents & (POLLIN | POLLHUP | POLLERR))
            events |= interest & ZOOKEEPER_READ;
        if (p.revents & (POLLOUT | POLLHUP | POLLERR))
            events |= interest & ZOOKEEPER_WRITE;
    }
    zookeeper_process(s->zh, events);
    return ZOK;
}

/* Drive the client until op completes or the deadline passes. */
static int pc_zks_wait(pc_zks *s, pc_zks_op *op, const char *what, const char *path, pc_error *err)
{
    long long deadline = pc_zks_now_ms() + s->timeout_ms;
    while (!op->done) {
        long long left = deadline - pc_zks_now_ms();
        if (left <= 0) {
            op->abandoned = true;
            return pc_error_set(err, PORTCO_EZKUNAVAIL, "%s %s: timed out after %d ms", what, path,
                                s->timeout_ms);
        }
        if (pc_zks_step(s, left) == ZINVALIDSTATE && !op->done) {
            op->abandoned = true;
            return pc_error_set(err, PORTCO_EZKUNAVAIL, "%s %s: ZooKeeper session %s", what, path,
                                zoo_state(s->zh) == ZOO_AUTH_FAILED_STATE ? "authentication failed"
                                                                          : "expired");
        }
    }
    int rc = pc_zk_err(op->zrc);
    if (rc < 0)
        pc_error_set(err, rc, "%s %s: %s", what, path, zerror(op->zrc));
    return rc;
}

int pc_zks_connect(const char *hosts, int session_timeout_ms, int timeout_ms, pc_zks **out,
                   pc_error *err)
{
    if (!hosts || !*hosts || !out || session_timeout_ms <= 0 || timeout_ms <= 0)
        return pc_error_set(err, -EINVAL, "pc_zks_connect: bad arguments");
    *out = NULL;
    pc_zk_log_setup();
    pc_zks *s = calloc(1, sizeof(*s));
    if (!s)
        return pc_error_set(err, -ENOMEM, "out of memory");
    s->timeout_ms = timeout_ms;
    int init_rc = pc_zk_handle_new(hosts, pc_zks_watcher, session_timeout_ms, NULL, s, &s->zh, err);
    if (init_rc < 0) {
        free(s);
        return init_rc;
    }
    long long deadline = pc_zks_now_ms() + timeout_ms;
    while (s->session_state != ZOO_CONNECTED_STATE) {
        long long left = deadline - pc_zks_now_ms();
        int rc = left > 0 ? pc_zks_step(s, left) : ZOK;
        if (rc == ZINVALIDSTATE || s->session_state == ZOO_AUTH_FAILED_STATE ||
            s->session_state == ZOO_EXPIRED_SESSION_STATE) {
            bool auth = zoo_state(s->zh) == ZOO_AUTH_FAILED_STATE;
            pc_zks_close(s);
            return pc_error_set(err, auth ? -EACCES : PORTCO_EZKUNAVAIL, "ZooKeeper %s: session %s",
                                hosts, auth ? "authentication failed" : "expired");
        }
        if (left <= 0) {
            pc_zks_close(s);
            return pc_error_set(err, PORTCO_EZKUNAVAIL,
                                "ZooKeeper %s: no session within %d ms; is it running?", hosts,
                                timeout_ms);
        }
    }
    *out = s;
    return 0;
}

void pc_zks_close(pc_zks *s)
{
    if (!s)
        return;
    zookeeper_close(s->zh);
    free(s);
}

void pc_zks_set_timeout(pc_zks *s, int timeout_ms)
{
    if (s && timeout_ms > 0)
        s->timeout_ms = timeout_ms;
}

zhandle_t *pc_zks_handle(pc_zks *s)
{
    return s ? s->zh : NULL;
}

static pc_zks_op *pc_zks_op_new(void)
{
    return calloc(1, sizeof(pc_zks_op));
}

/* Queue failed: nothing will call the completion, free here. */
static int pc_zks_queue_failed(pc_zks_op *op, int zrc, const char *what, const char *path,
                               pc_error *err)
{
    pc_zks_op_free(op);
    int rc = pc_zk_err(zrc);
    return pc_error_set(err, rc ? rc : PORTCO_EINTERNAL, "%s %s: %s", what, path, zerror(zrc));
}

static bool pc_zks_args_ok(pc_zks *s, const char *path)
{
    return s && path && path[0] == '/';
}

#define PC_ZKS_BAD(err, what) pc_error_set(err, -EINVAL, "%s: bad arguments", what)

/* ---- children ---- */

static void pc_zks_children_done(int zrc, const struct String_vector *strings,
                                 const struct Stat *stat, const void *data)
{
    pc_zks_op *op = (pc_zks_op *)data;
    if (!pc_zks_op_finish(op, zrc))
        return;
    if (zrc != ZOK)
        return;
    if (stat)
        op->stat = *stat;
    int n = strings ? strings->count : 0;
    if (allocate_String_vector(&op->strings, n) != 0) {
        op->zrc = ZMARSHALLINGERROR;
        return;
    }
    for (int i = 0; i < n; i++) {
        op->strings.data[i] = strdup(strings->data[i]);
        if (!op->strings.data[i]) {
            op->strings.count = i;
            op->zrc = ZMARSHALLINGERROR;
            return;
        }
    }
}

int pc_zks_get_children(pc_zks *s, const char *path, struct String_vector *out, struct Stat *stat,
                        pc_error *err)
{
    if (!pc_zks_args_ok(s, path) || !out)
        return PC_ZKS_BAD(err, "get_children");
    out->count = 0;
    out->data = NULL;
    pc_zks_op *op = pc_zks_op_new();
    if (!op)
        return pc_error_set(err, -ENOMEM, "out of memory");
    int zrc = zoo_aget_children2(s->zh, path, 0, pc_zks_children_done, op);
    if (zrc != ZOK)
        return pc_zks_queue_failed(op, zrc, "get_children", path, err);
    int rc = pc_zks_wait(s, op, "get_children", path, err);
    if (rc == 0 || !op->abandoned) {
        if (rc == 0) {
            *out = op->strings;
            op->strings.count = 0;
            op->strings.data = NULL;
            if (stat)
                *stat = op->stat;
        }
        pc_zks_op_free(op);
    }
    return rc;
}

/* ---- get ---- */

static void pc_zks_get_done(int zrc, const char *value, int value_len, const struct Stat *stat,
                            const void *data)
{
    pc_zks_op *op = (pc_zks_op *)data;
    if (!pc_zks_op_finish(op, zrc) || zrc != ZOK)
        return;
    if (stat)
        op->stat = *stat;
    op->len = value ? value_len : -1;
    if (value && value_len >= 0) {
        op->data = malloc((size_t)value_len + 1);
        if (!op->data) {
            op->zrc = ZMARSHALLINGERROR;
            return;
        }
        memcpy(op->data, value, (size_t)value_len);
        op->data[value_len] = '\0';
    }
}

int pc_zks_get(pc_zks *s, const char *path, char **data, int *len, struct Stat *stat, pc_error *err)
{
    if (!pc_zks_args_ok(s, path) || !data)
        return PC_ZKS_BAD(err, "get");
    *data = NULL;
    pc_zks_op *op = pc_zks_op_new();
    if (!op)
        return pc_error_set(err, -ENOMEM, "out of memory");
    int zrc = zoo_aget(s->zh, path, 0, pc_zks_get_done, op);
    if (zrc != ZOK)
        return pc_zks_queue_failed(op, zrc, "get", path, err);
    int rc = pc_zks_wait(s, op, "get", path, err);
    if (rc == 0 || !op->abandoned) {
        if (rc == 0) {
            *data = op->data;
            op->data = NULL;
            if (len)
                *len = op->len;
            if (stat)
                *stat = op->stat;
        }
        pc_zks_op_free(op);
    }
    return rc;
}

/* ---- create ---- */

static void pc_zks_create_done(int zrc, const char *value, const void *data)
{
    pc_zks_op *op = (pc_zks_op *)data;
    if (!pc_zks_op_finish(op, zrc) || zrc != ZOK)
        return;
    if (value) {
        op->created = strdup(value);
        if (!op->created)
            op->zrc = ZMARSHALLINGERROR;
    }
}

int pc_zks_create(pc_zks *s, const char *path, const char *data, int len, int flags, char *created,
                  size_t created_len, pc_error *err)
{
    if (!pc_zks_args_ok(s, path) || (data && len < 0))
        return PC_ZKS_BAD(err, "create");
    pc_zks_op *op = pc_zks_op_new();
    if (!op)
        return pc_error_set(err, -ENOMEM, "out of memory");
    int zrc = zoo_acreate(s->zh, path, data, data ? len : -1, &ZOO_OPEN_ACL_UNSAFE, flags,
                          pc_zks_create_done, op);
    if (zrc != ZOK)
        return pc_zks_queue_failed(op, zrc, "create", path, err);
    int rc = pc_zks_wait(s, op, "create", path, err);
    if (rc == 0 || !op->abandoned) {
        if (rc == 0 && created && created_len > 0) {
            const char *c = op->created ? op->created : path;
            if (strlen(c) >= created_len)
                rc = pc_error_set(err, -ENAMETOOLONG, "create %s: name buffer too small", path);
            else
                strcpy(created, c);
        }
        pc_zks_op_free(op);
    }
    return rc;
}

/* ---- set, delete, exists ---- */

static void pc_zks_stat_done(int zrc, const struct Stat *stat, const void *data)
{
    pc_zks_op *op = (pc_zks_op *)data;
    if (!pc_zks_op_finish(op, zrc))
        return;
    if (zrc == ZOK && stat)
        op->stat = *stat;
}

static void pc_zks_void_done(int zrc, const void *data)
{
    pc_zks_op_finish((pc_zks_op *)data, zrc);
}

/* Wait for a Stat-only op and hand the Stat out. */
static int pc_zks_finish_stat(pc_zks *s, pc_zks_op *op, const char *what, const char *path,
                              struct Stat *stat, pc_error *err)
{
    int rc = pc_zks_wait(s, op, what, path, err);
    if (rc == 0 || !op->abandoned) {
        if (rc == 0 && stat)
            *stat = op->stat;
        pc_zks_op_free(op);
    }
    return rc;
}

int pc_zks_set(pc_zks *s, const char *path, const char *data, int len, int version,
               struct Stat *stat, pc_error *err)
{
    if (!pc_zks_args_ok(s, path) || (data && len < 0))
        return PC_ZKS_BAD(err, "set");
    pc_zks_op *op = pc_zks_op_new();
    if (!op)
        return pc_error_set(err, -ENOMEM, "out of memory");
    int zrc = zoo_aset(s->zh, path, data, data ? len : -1, version, pc_zks_stat_done, op);
    if (zrc != ZOK)
        return pc_zks_queue_failed(op, zrc, "set", path, err);
    return pc_zks_finish_stat(s, op, "set", path, stat, err);
}

int pc_zks_exists(pc_zks *s, const char *path, struct Stat *stat, pc_error *err)
{
    if (!pc_zks_args_ok(s, path))
        return PC_ZKS_BAD(err, "exists");
    pc_zks_op *op = pc_zks_op_new();
    if (!op)
        return pc_error_set(err, -ENOMEM, "out of memory");
    int zrc = zoo_aexists(s->zh, path, 0, pc_zks_stat_done, op);
    if (zrc != ZOK)
        return pc_zks_queue_failed(op, zrc, "exists", path, err);
    return pc_zks_finish_stat(s, op, "exists", path, stat, err);
}

int pc_zks_delete(pc_zks *s, const char *path, int version, pc_error *err)
{
    if (!pc_zks_args_ok(s, path))
        return PC_ZKS_BAD(err, "delete");
    pc_zks_op *op = pc_zks_op_new();
    if (!op)
        return pc_error_set(err, -ENOMEM, "out of memory");
    int zrc = zoo_adelete(s->zh, path, version, pc_zks_void_done, op);
    if (zrc != ZOK)
        return pc_zks_queue_failed(op, zrc, "delete", path, err);
    return pc_zks_finish_stat(s, op, "delete", path, NULL, err);
}

/* ---- trees ---- */

int pc_zks_mkdirs(pc_zks *s, const char *path, pc_error *err)
{
    if (!pc_zks_args_ok(s, path) || path[1] == '\0')
        return PC_ZKS_BAD(err, "mkdirs");
    int rc = pc_zks_exists(s, path, NULL, err);
    if (rc != -ENOENT)
        return rc;
    char *p = strdup(path);
    if (!p)
        return pc_error_set(err, -ENOMEM, "out of memory");
    rc = 0;
    for (char *c = p + 1; rc == 0; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        char saved = *c;
        *c = '\0';
        rc = pc_zks_create(s, p, "", 0, 0, NULL, 0, err);
        if (rc == -EEXIST) {
            rc = 0;
            pc_error_clear(err);
        }
        *c = saved;
        if (saved == '\0')
            break;
    }
    free(p);
    return rc;
}

int pc_zks_delete_tree(pc_zks *s, const char *path, pc_error *err)
{
    if (!pc_zks_args_ok(s, path))
        return PC_ZKS_BAD(err, "delete_tree");
    struct String_vector kids;
    int rc = pc_zks_get_children(s, path, &kids, NULL, err);
    if (rc == -ENOENT) {
        pc_error_clear(err);
        return 0;
    }
    if (rc < 0)
        return rc;
    size_t plen = strlen(path);
    for (int i = 0; i < kids.count && rc == 0; i++) {
        size_t n = plen + strlen(kids.data[i]) + 2;
        char *child = malloc(n);
        if (!child) {
            rc = pc_error_set(err, -ENOMEM, "out of memory");
            break;
        }
        snprintf(child, n, "%s/%s", strcmp(path, "/") == 0 ? "" : path, kids.data[i]);
        if (strcmp(child, "/zookeeper") != 0)
            rc = pc_zks_delete_tree(s, child, err);
        free(child);
    }
    deallocate_String_vector(&kids);
    if (rc == 0 && strcmp(path, "/") != 0) {
        rc = pc_zks_delete(s, path, -1, err);
        if (rc == -ENOENT) {
            pc_error_clear(err);
            rc = 0;
        }
    }
    return rc;
}
