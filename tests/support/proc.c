/* proc.c - test helpers for child processes: spawn, run with a deadline, wait, stop by pid. */
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The current environment with extra "KEY=VALUE" entries added (replacing
 * entries of the same key). The array is malloc'd; the strings are borrowed. */
static char **build_env(char *const extra[])
{
    size_t n = 0, ne = 0;
    while (environ[n])
        n++;
    while (extra && extra[ne])
        ne++;
    char **env = calloc(n + ne + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool overridden = false;
        for (size_t j = 0; j < ne && !overridden; j++)
            overridden = strncmp(extra[j], environ[i], klen) == 0 && extra[j][klen] == '=';
        if (!overridden)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < ne; j++)
        env[k++] = extra[j];
    env[k] = NULL;
    return env;
}

/*
 * Fork and exec argv in a new process group. fds[0..2] are the child's
 * stdin/stdout/stderr (-1 = inherit). A close-on-exec pipe reports an exec
 * failure back, so the caller gets -errno instead of a child exiting 127.
 */
static pid_t spawn_fds(char *const argv[], char *const extra_env[], const int fds[3])
{
    char **env = build_env(extra_env);
    if (!env)
        return -ENOMEM;
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0) {
        int e = errno;
        free(env);
        return -e;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        free(env);
        close(ep[0]);
        close(ep[1]);
        return -e;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0 && dup2(fds[i], i) < 0)
                _exit(127);
        execvpe(argv[0], argv, env);
        int e = errno;
        ssize_t w = write(ep[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    free(env);
    close(ep[1]);
    int e = 0;
    ssize_t r;
    do
        r = read(ep[0], &e, sizeof e);
    while (r < 0 && errno == EINTR);
    close(ep[0]);
    if (r == (ssize_t)sizeof e) {
        waitpid(pid, NULL, 0);
        return -e;
    }
    return pid;
}

pid_t pt_spawn(char *const argv[], char *const extra_env[], const char *out_file,
               const char *err_file)
{
    int fds[3] = {-1, -1, -1};
    int rc = 0;
    fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out_file && (fds[1] = open(out_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
        rc = -errno;
    if (!rc && err_file &&
        (fds[2] = open(err_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
        rc = -errno;
    pid_t pid = rc ? rc : spawn_fds(argv, extra_env, fds);
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return pid;
}

static int decode_status(int ws)
{
    if (WIFEXITED(ws))
        return WEXITSTATUS(ws);
    if (WIFSIGNALED(ws))
        return 128 + WTERMSIG(ws);
    return -1;
}

char pt_pid_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The state follows the last ')' of "pid (comm) S ...". */
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] ? p[2] : '?';
}

bool pt_pid_alive(pid_t pid)
{
    if (pid <= 0)
        return false;
    if (kill(pid, 0) < 0 && errno != EPERM)
        return false;
    char st = pt_pid_state(pid);
    return st && st != 'Z' && st != 'X';
}

int pt_wait_pid(pid_t pid, int timeout_ms, int *status)
{
    long long deadline = pt_now_ms() + timeout_ms;
    int nap = 2;
    for (;;) {
        int ws;
        pid_t r = waitpid(pid, &ws, WNOHANG);
        if (r == pid) {
            if (status)
                *status = decode_status(ws);
            return 0;
        }
        if (r < 0 && errno == ECHILD) {
            /* Not our child: all we can see is whether it still exists. */
            if (!pt_pid_alive(pid)) {
                if (status)
                    *status = -1;
                return 0;
            }
        } else if (r < 0 && errno != EINTR) {
            return -errno;
        }
        long long left = deadline - pt_now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        pt_nap_ms(nap < left ? nap : (int)left);
        nap = nap * 2 > 50 ? 50 : nap * 2;
    }
}

int pt_stop_pid(pid_t pid, int sig, int timeout_ms)
{
    if (pid <= 0)
        return -EINVAL;
    if (kill(pid, sig) < 0 && errno != ESRCH)
        return -errno;
    if (pt_wait_pid(pid, timeout_ms, NULL) == 0)
        return 0;
    if (kill(pid, SIGKILL) < 0 && errno != ESRCH)
        return -errno;
    return pt_wait_pid(pid, 5000, NULL);
}

typedef struct capture {
    int fd;
    char *buf;
    size_t len, cap;
} capture;

/* Read what is available; returns 1 at EOF, 0 otherwise, -errno on error. */
static int capture_read(capture *c)
{
    char tmp[4096];
    ssize_t r = read(c->fd, tmp, sizeof tmp);
    if (r == 0)
        return 1;
    if (r < 0)
        return (errno == EINTR || errno == EAGAIN) ? 0 : -errno;
    if (c->len + (size_t)r + 1 > c->cap) {
        size_t ncap = (c->cap ? c->cap * 2 : 8192) + (size_t)r;
        char *nb = realloc(c->buf, ncap);
        if (!nb)
            return -ENOMEM;
        c->buf = nb;
        c->cap = ncap;
    }
    memcpy(c->buf + c->len, tmp, (size_t)r);
    c->len += (size_t)r;
    c->buf[c->len] = '\0';
    return 0;
}

static char *capture_take(capture *c)
{
    if (!c->buf)
        return strdup("");
    char *b = c->buf;
    c->buf = NULL;
    return b;
}

int pt_run(char *const argv[], char *const extra_env[], int timeout_ms, char **out, char **err,
           int *status)
{
    int po[2], pe[2];
    if (out)
        *out = NULL;
    if (err)
        *err = NULL;
    if (pipe2(po, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    if (pipe2(pe, O_CLOEXEC | O_NONBLOCK) < 0) {
        int e = errno;
        close(po[0]);
        close(po[1]);
        return -e;
    }
    /* Only this side reads without blocking: the child gets blocking
     * stdout and stderr, as from a shell, so a large output is not cut by
     * EAGAIN. */
    fcntl(po[1], F_SETFL, fcntl(po[1], F_GETFL) & ~O_NONBLOCK);
    fcntl(pe[1], F_SETFL, fcntl(pe[1], F_GETFL) & ~O_NONBLOCK);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fds[3] = {devnull, po[1], pe[1]};
    pid_t pid = spawn_fds(argv, extra_env, fds);
    if (devnull >= 0)
        close(devnull);
    close(po[1]);
    close(pe[1]);
    capture cap[2] = {{.fd = po[0]}, {.fd = pe[0]}};
    int rc = pid < 0 ? (int)pid : 0;
    long long deadline = pt_now_ms() + timeout_ms;
    bool open_[2] = {pid > 0, pid > 0};
    while (rc == 0 && (open_[0] || open_[1])) {
        struct pollfd pfd[2];
        int n = 0, idx[2];
        for (int i = 0; i < 2; i++)
            if (open_[i]) {
                pfd[n] = (struct pollfd){.fd = cap[i].fd, .events = POLLIN};
                idx[n++] = i;
            }
        long long left = deadline - pt_now_ms();
        if (left <= 0) {
            rc = -ETIMEDOUT;
            break;
        }
        int pr = poll(pfd, (nfds_t)n, (int)left);
        if (pr < 0 && errno != EINTR)
            rc = -errno;
        for (int k = 0; pr > 0 && k < n; k++) {
            if (!pfd[k].revents)
                continue;
            int r = capture_read(&cap[idx[k]]);
            if (r == 1)
                open_[idx[k]] = false;
            else if (r < 0)
                rc = r;
        }
    }
    if (pid > 0) {
        int st = -1;
        if (rc == 0) {
            long long left = deadline - pt_now_ms();
            rc = pt_wait_pid(pid, left > 0 ? (int)left : 0, &st);
        }
        if (rc != 0) {
            /* Deadline passed (or a read failed): kill the process group we
             * created for this child, by its pid, and reap the child. */
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            st = decode_status(st);
        }
        if (status)
            *status = st;
    }
    if (out)
        *out = capture_take(&cap[0]);
    if (err)
        *err = capture_take(&cap[1]);
    free(cap[0].buf);
    free(cap[1].buf);
    close(po[0]);
    close(pe[0]);
    return rc;
}
