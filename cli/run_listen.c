/* run_listen.c - has the command of `portco run` taken up its claimed socket? (Linux /proc) */
#include "run_listen.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "procnet.h"
#include "sockdiag.h"

/* Bounds of the walk: a command with more processes or sockets is looked at in part. */
#define PC_TREE_MAX  256
#define PC_SOCKS_MAX 4096
#define PC_HOLD_MAX  64

/* The descriptor of the claimed socket the command was given. */
enum { PC_GIVEN_FD = 3 };

typedef struct pc_fdref {
    pid_t pid;
    int fd;
} pc_fdref;

typedef struct pc_tree {
    pid_t pid[PC_TREE_MAX];
    size_t n;
    unsigned long sock[PC_SOCKS_MAX]; /* inodes of every socket the processes hold */
    size_t nsock;
    pc_fdref hold[PC_HOLD_MAX]; /* descriptors of the claimed socket */
    size_t nhold;
    pc_fdref epoll[PC_HOLD_MAX]; /* epoll instances */
    size_t nepoll;
    bool unreadable; /* the command's own descriptors could not be listed */
} pc_tree;

static bool pc_tree_has(const pc_tree *t, pid_t pid)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->pid[i] == pid)
            return true;
    return false;
}

/* Parent pid from /proc/PID/stat ("PID (comm) S PPID ..."; comm may hold blanks). */
static pid_t pc_ppid_of(const char *pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%.20s/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    char state;
    int ppid;
    if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return (pid_t)ppid;
}

/* The command and every process descended from it. */
static void pc_tree_collect(pc_tree *t, pid_t cmd)
{
    t->pid[t->n++] = cmd;
    DIR *d = opendir("/proc");
    if (!d)
        return;
    pid_t pids[4096], ppids[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < sizeof(pids) / sizeof(pids[0])) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        pid_t pp = pc_ppid_of(e->d_name);
        if (pp > 0) {
            pids[n] = (pid_t)atoi(e->d_name);
            ppids[n++] = pp;
        }
    }
    closedir(d);
    /* Parents usually come before their children in /proc; repeat until nothing is added. */
    for (bool grew = true; grew && t->n < PC_TREE_MAX;) {
        grew = false;
        for (size_t i = 0; i < n && t->n < PC_TREE_MAX; i++)
            if (pc_tree_has(t, ppids[i]) && !pc_tree_has(t, pids[i])) {
                t->pid[t->n++] = pids[i];
                grew = true;
            }
    }
}

/* Record the sockets, the claimed socket's descriptors and the epoll instances of one process. */
static void pc_tree_fds(pc_tree *t, pid_t pid, unsigned long inode)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d) {
        if (pid == t->pid[0])
            t->unreadable = true;
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char link[64];
        ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
        if (n <= 0)
            continue;
        link[n] = '\0';
        unsigned long ino;
        int fd = atoi(e->d_name);
        if (sscanf(link, "socket:[%lu]", &ino) == 1) {
            if (t->nsock < PC_SOCKS_MAX)
                t->sock[t->nsock++] = ino;
            if (ino == inode && t->nhold < PC_HOLD_MAX)
                t->hold[t->nhold++] = (pc_fdref){pid, fd};
        } else if (strcmp(link, "anon_inode:[eventpoll]") == 0 && t->nepoll < PC_HOLD_MAX) {
            t->epoll[t->nepoll++] = (pc_fdref){pid, fd};
        }
    }
    closedir(d);
}

/* Read /proc/PID/<what> into buf (NUL-terminated). Returns the length, or -1. */
static ssize_t pc_read_proc(pid_t pid, const char *what, char *buf, size_t len)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* O_NONBLOCK or close-on-exec on a descriptor: the program has set it up for use. */
static bool pc_fd_prepared(const pc_fdref *h)
{
    char what[48], buf[512];
    snprintf(what, sizeof(what), "fdinfo/%d", h->fd);
    if (pc_read_proc(h->pid, what, buf, sizeof(buf)) < 0)
        return false;
    const char *f = strstr(buf, "flags:");
    unsigned long flags;
    if (!f || sscanf(f + 6, " %lo", &flags) != 1)
        return false;
    return (flags & (O_NONBLOCK | O_CLOEXEC)) != 0;
}

/* The claimed socket is in one of the command's epoll sets ("tfd: N ... ino:HEX"). */
static bool pc_in_epoll(const pc_tree *t, unsigned long inode)
{
    for (size_t i = 0; i < t->nepoll; i++) {
        char what[48], buf[8192];
        snprintf(what, sizeof(what), "fdinfo/%d", t->epoll[i].fd);
        if (pc_read_proc(t->epoll[i].pid, what, buf, sizeof(buf)) < 0)
            continue;
        for (const char *p = strstr(buf, "ino:"); p; p = strstr(p + 4, "ino:")) {
            unsigned long ino;
            if (sscanf(p + 4, "%lx", &ino) == 1 && ino == inode)
                return true;
        }
    }
    return false;
}

/* A thread of pid blocked in accept() on fd ("NR 0xFD ..." in /proc/PID/task/TID/syscall). */
static bool pc_accepting(pid_t pid, int fd)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool yes = false;
    struct dirent *e;
    while (!yes && (e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char what[96], buf[256];
        snprintf(what, sizeof(what), "task/%.20s/syscall", e->d_name);
        long nr;
        unsigned long arg0;
        if (pc_read_proc(pid, what, buf, sizeof(buf)) < 0 ||
            sscanf(buf, "%ld 0x%lx", &nr, &arg0) != 2 || arg0 != (unsigned long)fd)
            continue;
#ifdef SYS_accept
        yes = yes || nr == SYS_accept;
#endif
#ifdef SYS_accept4
        yes = yes || nr == SYS_accept4;
#endif
    }
    closedir(d);
    return yes;
}

static bool pc_socket_used(const pc_tree *t, unsigned long inode)
{
    for (size_t i = 0; i < t->nhold; i++)
        if (t->hold[i].fd != PC_GIVEN_FD || pc_fd_prepared(&t->hold[i]) ||
            pc_accepting(t->hold[i].pid, t->hold[i].fd))
            return true;
    return pc_in_epoll(t, inode);
}

/* The host's TCP listeners (sock_diag, else /proc/net). Returns 0 or a negative code. */
static int pc_listeners(pc_sockvec *sv)
{
    pc_error err;
    if (pc_sockdiag_bound(PC_PROTO_TCP, 0, sv, &err) == 0)
        return 0;
    pc_sockvec_free(sv);
    return pc_procnet_scan(NULL, PC_PROTO_TCP, 0, sv, &err);
}

static bool pc_tree_owns(const pc_tree *t, unsigned long inode)
{
    for (size_t i = 0; i < t->nsock; i++)
        if (t->sock[i] == inode)
            return true;
    return false;
}

int pc_run_listen_check(pid_t cmd, unsigned long inode, uint16_t port, bool handed_listening,
                        pc_run_listen_result *r)
{
    memset(r, 0, sizeof(*r));
    pc_tree *t = calloc(1, sizeof(*t));
    pc_sockvec sv = PC_SOCKVEC_INIT;
    if (!t || pc_listeners(&sv) < 0) {
        free(t);
        pc_sockvec_free(&sv);
        r->take = PC_RUN_UNKNOWN;
        return 0;
    }
    pc_tree_collect(t, cmd);
    for (size_t i = 0; i < t->n; i++)
        pc_tree_fds(t, t->pid[i], inode);

    bool port_listens = false, given_listens = false;
    for (size_t i = 0; i < sv.n; i++) {
        const pc_sock *s = &sv.v[i];
        if (s->state != PC_SS_LISTEN)
            continue;
        if (s->local_port == port)
            port_listens = true;
        if (s->inode == inode)
            given_listens = true;
        else if (s->local_port != port && s->inode && pc_tree_owns(t, s->inode) &&
                 r->nother < PC_RUN_OTHER_PORTS_MAX) {
            bool seen = false;
            for (size_t k = 0; k < r->nother; k++)
                seen = seen || r->other_ports[k] == s->local_port;
            if (!seen)
                r->other_ports[r->nother++] = s->local_port;
        }
    }

    if (!handed_listening)
        r->take = port_listens ? PC_RUN_TAKEN : PC_RUN_NOT_LISTENING;
    else if (t->unreadable)
        r->take = PC_RUN_UNKNOWN;
    else if (t->nhold == 0)
        r->take = given_listens ? PC_RUN_TAKEN : PC_RUN_CLOSED; /* passed on outside the tree */
    else if (pc_socket_used(t, inode))
        r->take = PC_RUN_TAKEN;
    else
        r->take = r->nother > 0 ? PC_RUN_ELSEWHERE : PC_RUN_UNDECIDED;
    pc_sockvec_free(&sv);
    free(t);
    return 0;
}

/* ---- the --listen-grace check of `portco run` ---- */

long long pc_run_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pc_run_watch_setup(pc_run_watch *w, int fd)
{
    struct stat st;
    int type = 0;
    socklen_t tl = sizeof(type);
    w->deadline_ms = 0;
    if (w->grace_ms <= 0 || fstat(fd, &st) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
        return;
    w->inode = (unsigned long)st.st_ino;
    w->start_ms = pc_run_now_ms();
    w->deadline_ms = w->start_ms + w->grace_ms;
    w->rechecks = PC_RUN_RECHECKS;
}

/* " port 8000" or " ports 8000, 8001": the other ports of r, or "" when there are none. */
static const char *pc_run_other_ports(const pc_run_listen_result *r, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t off = 0;
    for (size_t i = 0; i < r->nother && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%u",
                                i == 0 ? (r->nother > 1 ? " ports " : " port ") : ", ",
                                (unsigned)r->other_ports[i]);
    return buf;
}

void pc_run_check_taken(pc_run_watch *w, pid_t child)
{
    pc_run_listen_result r;
    pc_run_listen_check(child, w->inode, w->port, w->listening, &r);
    long long now = pc_run_now_ms(), ran = now - w->start_ms;
    w->deadline_ms = 0;
    if (r.take == PC_RUN_UNDECIDED && w->rechecks > 0) {
        w->rechecks--;
        w->deadline_ms = now + (ran > 0 ? ran : w->grace_ms);
    }
    char others[128], what[400];
    pc_run_other_ports(&r, others, sizeof(others));
    switch (r.take) {
    case PC_RUN_NOT_LISTENING:
        snprintf(what, sizeof(what), "nothing listens on the claimed port %u%s%s",
                 (unsigned)w->port, r.nother ? "; it listens on" : "", others);
        break;
    case PC_RUN_ELSEWHERE:
        snprintf(what, sizeof(what),
                 "it listens on%s, not on the claimed port %u, and shows no sign of using the "
                 "socket at fd 3",
                 others, (unsigned)w->port);
        break;
    case PC_RUN_CLOSED:
        snprintf(what, sizeof(what),
                 "it closed the socket of the claimed port %u (fd 3) without serving on it%s%s",
                 (unsigned)w->port, r.nother ? "; it listens on" : "", others);
        break;
    default:
        return;
    }
    fprintf(stderr,
            "portco run: warning: %s has run %g s and %s: it seems to bind its own port "
            "instead of taking the socket at fd 3 (LISTEN_FDS). Clients of port %u are not "
            "served. See \"Programs that bind their own port\" in docs/handoff.md; "
            "--listen-grace 0 turns this check off.\n",
            w->cmd, (double)((ran + 50) / 100) / 10.0, what, (unsigned)w->port);
}
