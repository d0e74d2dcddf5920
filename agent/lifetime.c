/* lifetime.c - release claims bound to a process when it exits (pidfd_open(2)). */
#include "lifetime.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "release.h"

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK 04000 /* O_NONBLOCK */
#endif

static int pc_pidfd_open(pid_t pid, unsigned flags)
{
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

int pc_lifetime_open_pid(pid_t pid, int *pidfd, pc_error *err)
{
    if (pid <= 0)
        return pc_error_set(err, PORTCO_EBADREQ, "hold_pid must be a positive pid");
    int fd = pc_pidfd_open(pid, PIDFD_NONBLOCK);
    if (fd < 0 && errno == EINVAL)
        fd = pc_pidfd_open(pid, 0); /* kernels before 5.10 */
    if (fd < 0) {
        if (errno == ESRCH)
            return pc_error_set(err, PORTCO_EBADREQ,
                                "hold_pid %d is not a running process; pass the pid of the "
                                "process whose exit ends the claim",
                                (int)pid);
        return pc_error_set(err, -errno, "pidfd_open(%d): %s", (int)pid, strerror(errno));
    }
    *pidfd = fd; /* pidfds are close-on-exec from birth */
    return 0;
}

static void pc_lifetime_exit_cb(evutil_socket_t fd, short what, void *arg)
{
    pc_hold *h = arg;
    pc_info("pid %d exited: releasing %s:%u", (int)h->hold_pid, h->pool->name, h->port);
    pc_release_hold(h);
}

int pc_lifetime_watch(pc_hold *h)
{
    if (h->pidfd < 0)
        return -EBADF;
    /* A pidfd becomes readable when the process exits. */
    h->pid_ev = pc_event_start(h->agent->base, h->pidfd, EV_READ, pc_lifetime_exit_cb, h);
    return h->pid_ev ? 0 : -ENOMEM;
}

void pc_lifetime_unwatch(pc_hold *h)
{
    pc_event_clear(&h->pid_ev);
    if (h->pidfd >= 0) {
        close(h->pidfd);
        h->pidfd = -1;
    }
}
