/* zkread.h - the blocking ZooKeeper client of the tests: read, create and delete nodes directly. */
#ifndef PT_ZKREAD_H
#define PT_ZKREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <zookeeper/zookeeper.h>

/*
 * Built on libzookeeper_st, which has no synchronous API: every call issues
 * the asynchronous request and runs its own poll() loop around
 * zookeeper_interest()/zookeeper_process() until the completion fires or the
 * handle's deadline passes. The handle is driven only inside its calls, so a
 * handle left idle for longer than its session timeout may find its session
 * expired. A handle is not thread-safe: one per thread. Not for daemons
 * (they use lib/zk/zkloop.h); tests and their tools only.
 *
 * Every call returns 0 or a negative errno code:
 *   -ENOENT     no such node
 *   -EEXIST     the node exists
 *   -ENOTEMPTY  the node has children
 *   -ESTALE     the version given does not match the node's
 *   -ENOTDIR    the parent is ephemeral (ephemeral nodes have no children)
 *   -EACCES     refused by an ACL, or authentication failed
 *   -EINVAL     bad path or arguments
 *   -ETIMEDOUT  no answer within the deadline (the connect's timeout_ms)
 *   -ECONNRESET the connection was lost while the call was in flight, or
 *               the session expired
 *   -ENOMEM     out of memory
 *   -EIO        any other ZooKeeper error
 */
typedef struct pt_zkr pt_zkr;

/* Connect to `connect` (host:port[,host:port...]) with a session timeout of
 * session_ms, waiting at most timeout_ms for the session; timeout_ms is also
 * each later call's deadline. *out is set on success and NULL otherwise. */
int pt_zkr_connect(pt_zkr **out, const char *connect, int session_ms, int timeout_ms);

/* Close the session (its ephemeral nodes go away) and free. Accepts NULL. */
void pt_zkr_close(pt_zkr *z);

/* Session id of a connected handle. */
long long pt_zkr_session_id(pt_zkr *z);

/* Children of path as a malloc'd array of malloc'd names (*count entries,
 * free with pt_zkr_free_strings); st, when not NULL, gets the parent's Stat. */
int pt_zkr_children(pt_zkr *z, const char *path, char ***names, int *count, struct Stat *st);
void pt_zkr_free_strings(char **names, int count);

/* The number of children of path (>= 0), or a negative code. */
int pt_zkr_nchildren(pt_zkr *z, const char *path);

/* Data of path as a malloc'd NUL-terminated buffer (*len bytes before the
 * NUL; a node with no data gives "" and 0); st gets its Stat (czxid etc.).
 * data, len and st may each be NULL. *data is NULL when the call fails. */
int pt_zkr_get(pt_zkr *z, const char *path, char **data, int *len, struct Stat *st);

/* 0 when path exists (st filled when not NULL), -ENOENT when not. */
int pt_zkr_exists(pt_zkr *z, const char *path, struct Stat *st);

/*
 * Create the node path with data (a string, NULL for no data) and the
 * ZooKeeper create flags (0, ZOO_EPHEMERAL, ZOO_SEQUENCE or both), open ACL.
 * The path created (with its sequence suffix) is copied to
 * created[created_len] when created is not NULL; -ENAMETOOLONG when it
 * does not fit (the node exists then).
 */
int pt_zkr_create(pt_zkr *z, const char *path, const char *data, int flags, char *created,
                  size_t created_len);

/* Create path with data (NULL: no data) as a persistent node, its missing
 * ancestors first (persistent, no data). A node that exists already is not
 * an error, and keeps its data. */
int pt_zkr_create_path(pt_zkr *z, const char *path, const char *data);

/* Delete path at `version` (-1: any). */
int pt_zkr_delete(pt_zkr *z, const char *path, int version);

/* Delete path and everything below it; a missing path is not an error. */
int pt_zkr_delete_tree(pt_zkr *z, const char *path);

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

/* Publish d as <root>/config/pools/<name>, creating the parents. */
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

#endif
