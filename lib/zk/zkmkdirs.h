/* zkmkdirs.h - create a znode path and every missing parent, asynchronously. */
#ifndef PC_ZKMKDIRS_H
#define PC_ZKMKDIRS_H

#include "zkloop.h"

/*
 * Ensure every node of the absolute `path` exists (persistent, empty data,
 * open ACL), asynchronously; cb(rc, ud) runs on the loop thread when done,
 * with rc 0 or a pc_zk_err() code of the first create that failed for a
 * reason other than "exists". When the whole path exists already this costs
 * one exists request. `path` is copied.
 * Returns 0 (cb will be called exactly once), -EINVAL (not an absolute path,
 * or "/"), -ENOMEM, or the pc_zk_err() of a request that could not be queued
 * (cb is then not called).
 */
int pc_zk_mkdirs(pc_zk *zk, const char *path, void (*cb)(int rc, void *ud), void *ud);

#endif
