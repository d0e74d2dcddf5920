/* zkreq.h - the context of one ZooKeeper request: owner, generation, pending count, codes. */
#ifndef PC_ZKREQ_H
#define PC_ZKREQ_H

#include <stdbool.h>
#include <zookeeper/zookeeper.h>

/*
 * A zoo_a* call (or pc_zk_mkdirs()) of an owner of requests passes a
 * pc_zk_req as its completion's data, and the completion starts by taking
 * it back with pc_zk_req_take(). The request context does three things in
 * that one place:
 *
 *  - it counts the request in its owner's pc_zk_reqs from the moment it was
 *    queued (pc_zk_req_sent() with ZOK) until its completion took it back,
 *    exactly once on every path, so an owner knows how many completions are
 *    still to come (the agent waits for zero before it stops);
 *  - it remembers the owner's generation at issue time, so that a
 *    completion issued before pc_zk_reqs_renew() (a new session, an
 *    abandoned cycle) is recognised as stale;
 *  - pc_zk_err() maps the ZooKeeper return codes to portco's (error.h), the
 *    only place where ZooKeeper's error space is translated.
 *
 * A context is either allocated per request (pc_zk_req_new(), freed by
 * pc_zk_req_take() or by a pc_zk_req_sent() that failed) or embedded in an
 * object that has at most one request in flight (pc_zk_req_init(), never
 * freed by this module). An object with an embedded context may pass
 * itself as the completion's data and take its context back by address;
 * taking back a context whose request is not pending changes nothing. The
 * owner must outlive the completions of its requests. Everything runs on
 * the loop thread: no locks.
 */

/* Held by the owner of requests (zero-initialised is valid: generation 0, none pending). */
typedef struct pc_zk_reqs {
    unsigned gen; /* requests issued under an older generation are stale */
    int pending;  /* requests queued whose completion has not run yet */
} pc_zk_reqs;

typedef struct pc_zk_req {
    pc_zk_reqs *owner; /* borrowed: must outlive the request's completion */
    void *ud;          /* what the completion works on (the owner, or a part of it) */
    unsigned gen;      /* owner->gen when the context was made */
    bool heap;         /* made by pc_zk_req_new(): freed when taken back */
    bool queued;       /* counted in owner->pending, not yet taken back */
} pc_zk_req;

/* Make every request issued so far stale; new contexts get the new generation. */
void pc_zk_reqs_renew(pc_zk_reqs *owner);

/* Set up an embedded context for one request of `owner` about `ud`. */
void pc_zk_req_init(pc_zk_req *r, pc_zk_reqs *owner, void *ud);

/* An allocated context for one request of `owner` about `ud`; NULL when out of memory. */
pc_zk_req *pc_zk_req_new(pc_zk_reqs *owner, void *ud);

/*
 * After the call that was given r as its completion's data: `zrc` is that
 * call's ZooKeeper return code. ZOK means the completion will run, and the
 * request is counted in r->owner->pending; anything else means it will not:
 * r is released (freed when allocated) and not counted. A NULL r (an
 * allocation that failed, with the call not made) gives -ENOMEM. Returns
 * pc_zk_err(zrc): 0 exactly when the request was queued.
 */
int pc_zk_req_sent(pc_zk_req *r, int zrc);

/*
 * The first step of every completion: `data` is the pc_zk_req given to the
 * call. When its request is pending (pc_zk_req_sent() returned 0 and it was
 * not taken back yet) it no longer is; an allocated context is freed.
 * Returns its `ud`. When `current` is not NULL it is set to whether the
 * owner's generation is still the one of issue time (false: the owner
 * renewed it since, the answer is stale).
 */
void *pc_zk_req_take(const void *data, bool *current);

/*
 * The watched reads, each with a context of its own: make one for `ud`
 * (pc_zk_req_new()), issue the call on zh with it as the completion's data,
 * and count the request (pc_zk_req_sent()). Return the call's ZooKeeper
 * code: ZOK when the request was queued (its completion will run and must
 * take the context back), ZSYSTEMERROR when no context could be made (no
 * call was issued), or the code the call was refused with.
 */
int pc_zk_req_awexists(pc_zk_reqs *owner, void *ud, zhandle_t *zh, const char *path,
                       watcher_fn watcher, void *wctx, stat_completion_t done);
int pc_zk_req_awget(pc_zk_reqs *owner, void *ud, zhandle_t *zh, const char *path,
                    watcher_fn watcher, void *wctx, data_completion_t done);
int pc_zk_req_awget_children(pc_zk_reqs *owner, void *ud, zhandle_t *zh, const char *path,
                             watcher_fn watcher, void *wctx, strings_completion_t done);

/*
 * Map a ZooKeeper return code to a portco code: ZOK and ZNOTHING -> 0;
 * ZCONNECTIONLOSS, ZSESSIONEXPIRED, ZOPERATIONTIMEOUT, ZINVALIDSTATE,
 * ZCLOSING, ZSESSIONMOVED, ZNOTREADONLY, ZTHROTTLEDOP -> PORTCO_EZKUNAVAIL;
 * ZNONODE, ZNOWATCHER -> -ENOENT; ZNODEEXISTS -> -EEXIST; ZNOTEMPTY ->
 * -ENOTEMPTY; ZNOAUTH, ZAUTHFAILED, ZSESSIONCLOSEDREQUIRESASLAUTH -> -EACCES;
 * ZBADVERSION -> -ESTALE; ZNOCHILDRENFOREPHEMERALS -> -ENOTDIR;
 * ZMARSHALLINGERROR -> -EBADMSG; ZBADARGUMENTS, ZINVALIDACL,
 * ZINVALIDCALLBACK -> -EINVAL; ZUNIMPLEMENTED -> -ENOSYS;
 * ZRUNTIMEINCONSISTENCY, ZDATAINCONSISTENCY -> -EPROTO; ZSYSTEMERROR -> -EIO;
 * anything else -> PORTCO_EINTERNAL.
 */
int pc_zk_err(int zrc);

/*
 * The inverse for the few answers made by portco itself in ZooKeeper terms
 * (pc_zk_mkdirs() reports portco codes to callers that keep ZooKeeper
 * codes): 0 -> ZOK, PORTCO_EZKUNAVAIL -> ZCONNECTIONLOSS, anything else ->
 * ZAPIERROR.
 */
int pc_zk_zrc(int code);

#endif
