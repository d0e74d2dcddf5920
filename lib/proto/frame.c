/* frame.c - bounded line reader, sendmsg/recvmsg with SCM_RIGHTS descriptors. */
#include "frame.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Bytes asked of one recvmsg(). */
#define PC_FRAME_CHUNK 16384

void pc_linebuf_init(pc_linebuf *lb, size_t max, size_t max_fds)
{
    memset(lb, 0, sizeof(*lb));
    lb->max = max ? max : PC_PROTO_MAX_LINE;
    lb->max_fds = max_fds > PC_FRAME_MAX_FDS ? PC_FRAME_MAX_FDS : max_fds;
}

void pc_linebuf_free(pc_linebuf *lb)
{
    if (!lb)
        return;
    free(lb->buf);
    lb->buf = NULL;
    lb->len = lb->cap = lb->start = 0;
    for (size_t i = 0; i < lb->nfds; i++)
        close(lb->fds[i]);
    lb->nfds = 0;
}

size_t pc_linebuf_pending(const pc_linebuf *lb)
{
    return lb->len - lb->start;
}

/* True when the bytes after `start` hold no newline and already reach the bound. */
static bool pc_linebuf_overlong(const pc_linebuf *lb)
{
    size_t n = lb->len - lb->start;
    if (n < lb->max)
        return false;
    /* A newline within the first max bytes makes the first line legal. */
    return memchr(lb->buf + lb->start, '\n', lb->max) == NULL;
}

/* Make room for n more bytes, dropping already returned lines first. */
static int pc_linebuf_reserve(pc_linebuf *lb, size_t n)
{
    if (lb->start > 0) {
        memmove(lb->buf, lb->buf + lb->start, lb->len - lb->start);
        lb->len -= lb->start;
        lb->start = 0;
    }
    if (lb->len + n <= lb->cap)
        return 0;
    size_t cap = lb->cap ? lb->cap : 4096;
    while (cap < lb->len + n)
        cap *= 2;
    char *b = realloc(lb->buf, cap);
    if (!b)
        return -ENOMEM;
    lb->buf = b;
    lb->cap = cap;
    return 0;
}

int pc_linebuf_feed(pc_linebuf *lb, const void *data, size_t n)
{
    if (lb->toobig)
        return PORTCO_ETOOBIG;
    if (n == 0)
        return 0;
    int rc = pc_linebuf_reserve(lb, n);
    if (rc < 0)
        return rc;
    memcpy(lb->buf + lb->len, data, n);
    lb->len += n;
    return 0;
}

static void pc_linebuf_queue_fd(pc_linebuf *lb, int fd)
{
    if (lb->nfds < lb->max_fds)
        lb->fds[lb->nfds++] = fd;
    else
        close(fd);
}

ssize_t pc_linebuf_read(pc_linebuf *lb, int sock)
{
    if (lb->toobig || pc_linebuf_overlong(lb)) {
        lb->toobig = true;
        return PORTCO_ETOOBIG;
    }
    int rc = pc_linebuf_reserve(lb, PC_FRAME_CHUNK);
    if (rc < 0)
        return rc;
    union {
        char buf[CMSG_SPACE(sizeof(int) * PC_FRAME_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = lb->buf + lb->len, .iov_len = PC_FRAME_CHUNK};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    ssize_t n;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    /* Collect every descriptor, even when the message was truncated: the
     * kernel has installed them in this process and they must not leak. */
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            pc_linebuf_queue_fd(lb, fd);
        }
    }
    lb->len += (size_t)n;
    return n;
}

int pc_linebuf_next(pc_linebuf *lb, char **line, size_t *len)
{
    if (lb->toobig)
        return PORTCO_ETOOBIG;
    size_t avail = lb->len - lb->start;
    size_t look = avail < lb->max ? avail : lb->max;
    char *p = look ? memchr(lb->buf + lb->start, '\n', look) : NULL;
    if (!p) {
        if (avail >= lb->max) {
            lb->toobig = true;
            return PORTCO_ETOOBIG;
        }
        return 0;
    }
    *p = '\0';
    *line = lb->buf + lb->start;
    *len = (size_t)(p - (lb->buf + lb->start));
    lb->start += *len + 1;
    return 1;
}

int pc_linebuf_take_fd(pc_linebuf *lb)
{
    if (lb->nfds == 0)
        return -1;
    int fd = lb->fds[0];
    memmove(lb->fds, lb->fds + 1, (lb->nfds - 1) * sizeof(int));
    lb->nfds--;
    return fd;
}

ssize_t pc_frame_sendmsg(int sock, const void *buf, size_t len, int fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n;
    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return n;
}

static long long pc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for `events` on sock until the absolute deadline (-1: none). */
static int pc_frame_wait(int sock, short events, long long deadline)
{
    for (;;) {
        int t = -1;
        if (deadline >= 0) {
            long long left = deadline - pc_mono_ms();
            if (left <= 0)
                return -ETIMEDOUT;
            t = left > 1000000 ? 1000000 : (int)left;
        }
        struct pollfd p = {.fd = sock, .events = events};
        int r = poll(&p, 1, t);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

int pc_frame_send_all(int sock, const void *buf, size_t len, int fd, int timeout_ms)
{
    long long deadline = timeout_ms < 0 ? -1 : pc_mono_ms() + timeout_ms;
    const char *p = buf;
    bool fd_sent = fd < 0;
    while (len > 0) {
        ssize_t n = pc_frame_sendmsg(sock, p, len, fd_sent ? -1 : fd);
        if (n == -EAGAIN) {
            int rc = pc_frame_wait(sock, POLLOUT, deadline);
            if (rc < 0)
                return rc;
            continue;
        }
        if (n < 0)
            return (int)n;
        fd_sent = true;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int pc_frame_read_line(pc_linebuf *lb, int sock, int timeout_ms, char **line, size_t *len)
{
    long long deadline = timeout_ms < 0 ? -1 : pc_mono_ms() + timeout_ms;
    for (;;) {
        int rc = pc_linebuf_next(lb, line, len);
        if (rc != 0)
            return rc;
        ssize_t n = pc_linebuf_read(lb, sock);
        if (n == 0)
            return 0;
        if (n == -EAGAIN) {
            rc = pc_frame_wait(sock, POLLIN, deadline);
            if (rc < 0)
                return rc;
            continue;
        }
        if (n < 0)
            return (int)n;
    }
}
