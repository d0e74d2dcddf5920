/* zksync.h - blocking ZooKeeper calls with deadlines, for short-lived tools. */
#ifndef PC_ZKSYNC_H
#define PC_ZKSYNC_H

#include <stddef.h>
#include <zookeeper/zookeeper.h>

#include "error.h"

/*
 * libzookeeper_st has no synchronous API. Each pc_zks_* call issues the async
 * request and runs a private poll(2) loop around zookeeper_interest() /
 * zookeeper_process() until the completion fires or the handle's deadline
 * passes. Meant for the CLI, benchmarks and tests; daemons use zkloop.h.
 * A handle is not thread-safe; use one per thread.
 *
 * Every call returns 0 or a negative code: pc_zk_err() of the ZooKeeper
 * result (-ENOENT, -EEXIST, -ENOTEMPTY, -ESTALE, -EACCES, PORTCO_EZKUNAVAIL
 * for a lost connection or an expired session, ...), PORTCO_EZKUNAVAIL with
 * "timed out" in err when the deadline passed, -EINVAL for bad arguments,
 * -ENOMEM. `err` (optional) says which path failed and why.
 */

typedef struct pc_zks pc_zks;

/*
 * Connect to `hosts` and wait up to timeout_ms for the session. The same
 * timeout_ms becomes the per-call deadline (see pc_zks_set_timeout()).
 * On success *out is an owned handle freed with pc_zks_close().
 * Returns 0, PORTCO_EZKUNAVAIL (no session in time; expired),
 * -EACCES (authentication failed), -EINVAL, -ENOMEM.
 */
int pc_zks_connect(const char *hosts, int session_timeout_ms, int timeout_ms, pc_zks **out,
                   pc_error *err);

/* Close the session (its ephemerals go) and free. Accepts NULL. */
void pc_zks_close(pc_zks *s);

/* Deadline of each later call, in ms (> 0). */
void pc_zks_set_timeout(pc_zks *s, int timeout_ms);

/* The underlying handle (borrowed), e.g. for zoo_client_id(). */
zhandle_t *pc_zks_handle(pc_zks *s);

/*
 * Children of path, with its Stat when stat is not NULL. On success *out
 * holds malloc'd copies; free with deallocate_String_vector(out).
 */
int pc_zks_get_children(pc_zks *s, const char *path, struct String_vector *out, struct Stat *stat,
                        pc_error *err);

/*
 * Data of path: *data is malloc'd, NUL-terminated (for convenience; the data
 * may contain NULs, *len is its length), NULL for a node without data
 * (*len -1 then, 0 for empty data). stat may be NULL.
 */
int pc_zks_get(pc_zks *s, const char *path, char **data, int *len, struct Stat *stat,
               pc_error *err);

/*
 * Create path with data[len] (data NULL: no data) and flags (ZOO_EPHEMERAL,
 * ZOO_SEQUENCE, ...), open ACL. The created path (with the sequence suffix)
 * is copied to created[created_len] when created is not NULL.
 */
int pc_zks_create(pc_zks *s, const char *path, const char *data, int len, int flags, char *created,
                  size_t created_len, pc_error *err);

/* Set data; version -1 matches any. stat (optional) gets the new Stat. */
int pc_zks_set(pc_zks *s, const char *path, const char *data, int len, int version,
               struct Stat *stat, pc_error *err);

/* Delete path; version -1 matches any. */
int pc_zks_delete(pc_zks *s, const char *path, int version, pc_error *err);

/* 0 when path exists (stat filled when not NULL), -ENOENT when it does not. */
int pc_zks_exists(pc_zks *s, const char *path, struct Stat *stat, pc_error *err);

/* Create every missing node of path (persistent, empty). */
int pc_zks_mkdirs(pc_zks *s, const char *path, pc_error *err);

/* Delete path and everything below it; 0 also when path does not exist. */
int pc_zks_delete_tree(pc_zks *s, const char *path, pc_error *err);

#endif
