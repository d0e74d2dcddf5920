/* faultctl.h - start portco-faultproxy from a test and command it over its control socket. */
#ifndef PT_FAULTCTL_H
#define PT_FAULTCTL_H

#include <stddef.h>
#include <sys/types.h>

/* A running proxy: one listener per upstream member, same order. */
typedef struct pt_proxy {
    pid_t pid;
    char ctl[512];      /* control socket */
    char connect[1024]; /* "127.0.0.1:p1[,127.0.0.1:p2...]": give this to the agent */
} pt_proxy;

/*
 * Start a proxy in front of `upstream` (a ZooKeeper connect string of
 * numeric IPv4 host:port members), with its files under `dir`, and wait
 * until it listens. Returns 0, -ETIMEDOUT, -EINVAL or -errno.
 */
int pt_proxy_start(pt_proxy *p, const char *dir, const char *upstream);

/*
 * Send one command line (see tests/tools/faultproxy.c) and read its answer
 * into ans (may be NULL). Returns 0 when the answer starts with "ok", -EIO
 * for an "err" answer, -ETIMEDOUT or -errno.
 */
int pt_proxy_cmd(pt_proxy *p, const char *cmd, char *ans, size_t len);

/* A counter of the "stats" answer ("accepted", "cuts", ...), or -1. */
long long pt_proxy_stat(pt_proxy *p, const char *name);

/* Stop the proxy by its pid (SIGTERM, then SIGKILL) and reap it. No-op when stopped. */
void pt_proxy_stop(pt_proxy *p);

#endif
