/* zkreq.c - the context of one ZooKeeper request, and ZooKeeper's codes in portco's terms. */
#include "zkreq.h"

#include <errno.h>
#include <stdlib.h>
#include <zookeeper/zookeeper.h>

#include "portco.h"

void pc_zk_reqs_renew(pc_zk_reqs *owner)
{
    owner->gen++;
}

void pc_zk_req_init(pc_zk_req *r, pc_zk_reqs *owner, void *ud)
{
    r->owner = owner;
    r->ud = ud;
    r->gen = owner->gen;
    r->heap = false;
    r->queued = false;
}

pc_zk_req *pc_zk_req_new(pc_zk_reqs *owner, void *ud)
{
    pc_zk_req *r = malloc(sizeof(*r));
    if (r) {
        pc_zk_req_init(r, owner, ud);
        r->heap = true;
    }
    return r;
}

int pc_zk_req_sent(pc_zk_req *r, int zrc)
{
    if (!r)
        return -ENOMEM;
    if (zrc == ZOK) {
        r->queued = true;
        r->owner->pending++;
        return 0;
    }
    if (r->heap)
        free(r);
    return pc_zk_err(zrc);
}

void *pc_zk_req_take(const void *data, bool *current)
{
    pc_zk_req *r = (pc_zk_req *)data;
    void *ud = r->ud;
    if (current)
        *current = r->gen == r->owner->gen;
    if (r->queued) {
        r->queued = false;
        r->owner->pending--;
    }
    if (r->heap)
        free(r);
    return ud;
}

int pc_zk_req_awexists(pc_zk_reqs *owner, void *ud, zhandle_t *zh, const char *path,
                       watcher_fn watcher, void *wctx, stat_completion_t done)
{
    pc_zk_req *r = pc_zk_req_new(owner, ud);
    int zrc = r ? zoo_awexists(zh, path, watcher, wctx, done, r) : ZSYSTEMERROR;
    pc_zk_req_sent(r, zrc);
    return zrc;
}

int pc_zk_req_awget(pc_zk_reqs *owner, void *ud, zhandle_t *zh, const char *path,
                    watcher_fn watcher, void *wctx, data_completion_t done)
{
    pc_zk_req *r = pc_zk_req_new(owner, ud);
    int zrc = r ? zoo_awget(zh, path, watcher, wctx, done, r) : ZSYSTEMERROR;
    pc_zk_req_sent(r, zrc);
    return zrc;
}

int pc_zk_req_awget_children(pc_zk_reqs *owner, void *ud, zhandle_t *zh, const char *path,
                             watcher_fn watcher, void *wctx, strings_completion_t done)
{
    pc_zk_req *r = pc_zk_req_new(owner, ud);
    int zrc = r ? zoo_awget_children(zh, path, watcher, wctx, done, r) : ZSYSTEMERROR;
    pc_zk_req_sent(r, zrc);
    return zrc;
}

int pc_zk_err(int zrc)
{
    switch (zrc) {
    case ZOK:
    case ZNOTHING:
        return 0;
    case ZCONNECTIONLOSS:
    case ZSESSIONEXPIRED:
    case ZOPERATIONTIMEOUT:
    case ZINVALIDSTATE:
    case ZCLOSING:
    case ZSESSIONMOVED:
    case ZNOTREADONLY:
    case ZTHROTTLEDOP:
        return PORTCO_EZKUNAVAIL;
    case ZNONODE:
    case ZNOWATCHER:
        return -ENOENT;
    case ZNODEEXISTS:
        return -EEXIST;
    case ZNOTEMPTY:
        return -ENOTEMPTY;
    case ZNOAUTH:
    case ZAUTHFAILED:
    case ZSESSIONCLOSEDREQUIRESASLAUTH:
        return -EACCES;
    case ZBADVERSION:
        return -ESTALE;
    case ZNOCHILDRENFOREPHEMERALS:
        return -ENOTDIR;
    case ZMARSHALLINGERROR:
        return -EBADMSG;
    case ZBADARGUMENTS:
    case ZINVALIDACL:
    case ZINVALIDCALLBACK:
        return -EINVAL;
    case ZUNIMPLEMENTED:
        return -ENOSYS;
    case ZRUNTIMEINCONSISTENCY:
    case ZDATAINCONSISTENCY:
        return -EPROTO;
    case ZSYSTEMERROR:
        return -EIO;
    default:
        return PORTCO_EINTERNAL;
    }
}

int pc_zk_zrc(int code)
{
    if (code == 0)
        return ZOK;
    return code == PORTCO_EZKUNAVAIL ? ZCONNECTIONLOSS : ZAPIERROR;
}
