/* server.c - the agent's Unix socket: create it safely, accept clients. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"

/* Connections accepted per wake-up, so a burst of clients cannot starve the loop. */
#define PC_ACCEPTS_PER_WAKE 32

static int pc_fill_addr(const char *path, struct sockaddr_un *sa, pc_error *err)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path))
        return pc_error_set(err, -ENAMETOOLONG,
                            "socket path %s is longer than %zu bytes; choose a shorter --socket",
                            path, sizeof(sa->sun_path) - 1);
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

/* mkdir -p of the socket's directory (0755). */
static int pc_mkdir_parents(const char *path, pc_error *err)
{
    char dir[PATH_MAX_SOCK];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return pc_error_set(err, -errno, "cannot create directory %s: %s", dir,
                                strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return pc_error_set(err, -errno, "cannot create directory %s: %s", dir, strerror(errno));
    return 0;
}

/*
 * A socket file already exists at the path: replace it only when nothing
 * answers on it (a previous agent died without removing it). A live agent
 * keeps its socket: starting a second one is an error.
 */
static int pc_clear_stale(const char *path, const struct sockaddr_un *sa, pc_error *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT
                   ? 0
                   : pc_error_set(err, -errno, "cannot inspect %s: %s", path, strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return pc_error_set(err, -EEXIST,
                            "%s exists and is not a socket; remove it or choose another --socket",
                            path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return pc_error_set(err, -errno, "socket: %s", strerror(errno));
    int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
    int e = errno;
    close(fd);
    if (rc == 0)
        return pc_error_set(err, -EADDRINUSE,
                            "another agent is serving %s; stop it first or choose another --socket",
                            path);
    if (e != ECONNREFUSED && e != ENOENT)
        return pc_error_set(err, -e, "cannot check %s: %s", path, strerror(e));
    pc_info("replacing stale socket %s", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return pc_error_set(err, -errno, "cannot remove stale socket %s: %s", path,
                            strerror(errno));
    return 0;
}

static void pc_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
    pc_agent *a = arg;
    for (int i = 0; i < PC_ACCEPTS_PER_WAKE; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                pc_warn("accept: %s", strerror(errno));
            return;
        }
        int rc = pc_conn_start(a, fd);
        if (rc < 0)
            pc_warn("cannot serve a new connection: %s", portco_strerror(rc));
    }
}

int pc_server_start(pc_agent *a, pc_error *err)
{
    const char *path = a->opts.socket;
    struct sockaddr_un sa;
    int rc;
    if ((rc = pc_fill_addr(path, &sa, err)) < 0 || (rc = pc_mkdir_parents(path, err)) < 0 ||
        (rc = pc_clear_stale(path, &sa, err)) < 0)
        return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return pc_error_set(err, -errno, "socket: %s", strerror(errno));
    /* Bind under a umask that leaves the file 0666, then make sure of it:
     * any local user may ask for ports; SO_PEERCRED tells who asked. */
    mode_t old = umask(0);
    rc = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    umask(old);
    if (rc < 0) {
        close(fd);
        return pc_error_set(err, -e, "cannot bind %s: %s", path, strerror(e));
    }
    chmod(path, 0666);
    if (listen(fd, 128) < 0) {
        e = errno;
        close(fd);
        unlink(path);
        return pc_error_set(err, -e, "cannot listen on %s: %s", path, strerror(e));
    }
    a->listen_ev = pc_event_start(a->base, fd, EV_READ | EV_PERSIST, pc_accept_cb, a);
    if (!a->listen_ev) {
        close(fd);
        unlink(path);
        return pc_error_set(err, -ENOMEM, "cannot watch the listening socket");
    }
    a->listen_fd = fd;
    pc_info("serving %s", path);
    return 0;
}

void pc_server_stop(pc_agent *a)
{
    pc_event_clear(&a->listen_ev);
    if (a->listen_fd >= 0) {
        close(a->listen_fd);
        a->listen_fd = -1;
        unlink(a->opts.socket);
    }
}
