/* lifetime.h - claims bound to a process: pidfd watches. */
#ifndef PC_LIFETIME_H
#define PC_LIFETIME_H

#include "agent.h"

/*
 * Open a pidfd for `pid` (pidfd_open(2): robust to pid reuse, since the
 * descriptor names the process, not the number). Returns 0 with *pidfd
 * (close-on-exec, non-blocking), PORTCO_EBADREQ when no such process
 * exists, or -errno (err says why).
 */
int pc_lifetime_open_pid(pid_t pid, int *pidfd, pc_error *err);

/* Watch h->pidfd on the loop: when the process exits the claim is released.
 * Returns 0, -EBADF when h has no pidfd, or -ENOMEM. A claim whose process
 * cannot be watched would never end: callers refuse it. */
int pc_lifetime_watch(pc_hold *h);

/* Stop watching and close the pidfd. Idempotent. */
void pc_lifetime_unwatch(pc_hold *h);

#endif
