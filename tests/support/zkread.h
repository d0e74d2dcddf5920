/* zkread.h - a small blocking ZooKeeper client for tests that look at ZooKeeper directly. */
#ifndef PT_ZKREAD_H
#define PT_ZKREAD_H

#include <zookeeper/zookeeper.h>

/*
 * Built on libzookeeper_st: every call runs its own poll() loop around
 * zookeeper_interest()/zookeeper_process() until the async completion fires
 * or the handle's operation timeout passes. Not for daemons; tests only.
 *
 * Return codes: 0; -ENOENT (no node), -EEXIST (node exists), -ENOTEMPTY
 * (node has children), -ETIMEDOUT (no answer within the deadline),
 * -ECONNRESET (connection lost while the call was in flight), -ENOMEM,
 * -EINVAL (bad path or arguments), -EIO (any other ZooKeeper error).
 */
typedef struct pt_zkr pt_zkr;

/* Connect to `connect` (host:port[,host:port...]) with a session timeout of
 * session_ms, waiting at most timeout_ms for the session; timeout_ms is also
 * each later call's deadline. *out is set only on success. */
int pt_zkr_connect(pt_zkr **out, const char *connect, int session_ms, int timeout_ms);

/* Close the session (its ephemeral nodes go away) and free. Accepts NULL. */
void pt_zkr_close(pt_zkr *z);

/* Session id of a connected handle. */
long long pt_zkr_session_id(pt_zkr *z);

/* Children of path as a malloc'd array of malloc'd names (*count entries,
 * free with pt_zkr_free_strings); st, when not NULL, gets the parent's Stat. */
int pt_zkr_children(pt_zkr *z, const char *path, char ***names, int *count, struct Stat *st);
void pt_zkr_free_strings(char **names, int count);

/* Data of path as a malloc'd NUL-terminated buffer (*len bytes before the
 * NUL; a node with no data gives "" and 0); st gets its Stat (czxid etc.). */
int pt_zkr_get(pt_zkr *z, const char *path, char **data, int *len, struct Stat *st);

/* 0 when path exists (st filled when not NULL), -ENOENT when not. */
int pt_zkr_exists(pt_zkr *z, const char *path, struct Stat *st);

/* Create a persistent node with data (may be NULL: no data), open ACL. With
 * parents true, missing ancestors are created first and an existing node is
 * not an error. */
int pt_zkr_create(pt_zkr *z, const char *path, const char *data, bool parents);

/* A pool definition as the coordinator publishes it. NULL fields take the
 * defaults: proto "tcp", scope "cluster", address "0.0.0.0", exclude "". */
typedef struct pt_pool_def {
    const char *name;
    int lo, hi;
    const char *proto;
    const char *scope;
    const char *address;
    const char *exclude;
} pt_pool_def;

/* The definition's JSON (malloc'd), NULL when out of memory. */
char *pt_pool_json(const pt_pool_def *d);

/* Publish d as <root>/config/pools/<name>, creating the parents. 0 or -errno. */
int pt_zkr_publish_pool(pt_zkr *z, const char *root, const pt_pool_def *d);

/*
 * Create n persistent nodes (open ACL; data[i] may be NULL, data itself may
 * be NULL) in multi-ops of up to 500 nodes each: parents come before their
 * children in `paths`, and each multi-op either creates all its nodes or
 * none. 0, or the code of the first failed multi-op (the earlier ones stay).
 */
int pt_zkr_create_many(pt_zkr *z, char *const *paths, char *const *data, int n);

/* Delete n nodes (any version) in multi-ops of up to 500 each: children
 * before their parents in `paths`. 0, or the code of the first failed
 * multi-op (the earlier ones stay done). */
int pt_zkr_delete_many(pt_zkr *z, char *const *paths, int n);

/* Delete path at `version` (-1: any). */
int pt_zkr_delete(pt_zkr *z, const char *path, int version);

/* Delete path and everything below it; a missing path is not an error. */
int pt_zkr_delete_tree(pt_zkr *z, const char *path);

#endif
