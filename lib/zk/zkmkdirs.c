/* zkmkdirs.c - create a znode path and every missing parent, asynchronously. */
#include "zkmkdirs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct pc_zk_mkdirs_op {
    pc_zk *zk;
    char *path;
    void (*cb)(int rc, void *ud);
    void *ud;
    int pending; /* creates not completed yet */
    int rc;      /* first failure */
} pc_zk_mkdirs_op;

static void pc_zk_mkdirs_done(pc_zk_mkdirs_op *op)
{
    op->cb(op->rc, op->ud);
    free(op->path);
    free(op);
}

static void pc_zk_mkdirs_created(int zrc, const char *value, const void *data)
{
    pc_zk_mkdirs_op *op = (pc_zk_mkdirs_op *)data;
    if (zrc != ZOK && zrc != ZNODEEXISTS && op->rc == 0)
        op->rc = pc_zk_err(zrc);
    if (--op->pending == 0)
        pc_zk_mkdirs_done(op);
}

/*
 * The path is missing somewhere: create every prefix, all in flight at once.
 * The server handles a session's requests in order, so a parent is created
 * before its child is tried.
 */
static void pc_zk_mkdirs_exists(int zrc, const struct Stat *stat, const void *data)
{
    pc_zk_mkdirs_op *op = (pc_zk_mkdirs_op *)data;
    if (zrc != ZNONODE) {
        op->rc = pc_zk_err(zrc);
        pc_zk_mkdirs_done(op);
        return;
    }
    zhandle_t *zh = pc_zk_handle(op->zk);
    op->pending = 1; /* guard: completions may run before the loop ends */
    for (char *p = op->path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        int rc =
            zoo_acreate(zh, op->path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, pc_zk_mkdirs_created, op);
        *p = saved;
        if (rc != ZOK) {
            if (op->rc == 0)
                op->rc = pc_zk_err(rc);
            break;
        }
        op->pending++;
        if (saved == '\0')
            break;
    }
    if (--op->pending == 0)
        pc_zk_mkdirs_done(op);
}

int pc_zk_mkdirs(pc_zk *zk, const char *path, void (*cb)(int rc, void *ud), void *ud)
{
    if (!zk || !pc_zk_handle(zk) || !path || path[0] != '/' || path[1] == '\0' || !cb ||
        path[strlen(path) - 1] == '/' || strstr(path, "//"))
        return -EINVAL;
    pc_zk_mkdirs_op *op = calloc(1, sizeof(*op));
    if (!op)
        return -ENOMEM;
    op->path = strdup(path);
    if (!op->path) {
        free(op);
        return -ENOMEM;
    }
    op->zk = zk;
    op->cb = cb;
    op->ud = ud;
    int rc = zoo_aexists(pc_zk_handle(zk), op->path, 0, pc_zk_mkdirs_exists, op);
    if (rc != ZOK) {
        free(op->path);
        free(op);
        return pc_zk_err(rc);
    }
    return 0;
}
