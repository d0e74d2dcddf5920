/* cmd_run.c - `portco run`: claim a port, give its bound socket to a command as fd 3. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd_run.h"
#include "portco.h"
#include "run_listen.h"
#include "usage.h"

/*
 * How the pieces fit, and why in this order:
 *
 * 1. Fork the child first. It does nothing until the parent hands it the
 *    claim, so its pid exists before the claim is made and the claim can be
 *    bound to it (lifetime "pid", hold_pid = child). The claim then ends when
 *    the command exits, even if `portco run` itself is killed meanwhile.
 * 2. The parent acquires the claim with the bound (by default listening)
 *    socket and passes that socket and the claim to the child over a private
 *    socketpair (SCM_RIGHTS). The socket is held by the agent, then by the
 *    parent, then by the child: at no moment is the port free to take.
 * 3. The child moves the socket to fd 3, sets the systemd socket-activation
 *    variables (LISTEN_PID is its own pid, which exec keeps) and the PORT*
 *    variables, and execs the command.
 * 4. The parent keeps its agent connection open, forwards SIGTERM, SIGINT
 *    and SIGHUP, reports agent events (a claim lost to a conflict), and when
 *    the child exits releases the claim explicitly and exits with the
 *    child's status (128+signal when it was killed).
 */

/* Exit codes of the child when it cannot run the command, as sh(1) uses them. */
enum { PC_RUN_EXIT_NOEXEC = 126, PC_RUN_EXIT_NOTFOUND = 127 };

/* The fd the command receives, per the systemd convention (SD_LISTEN_FDS_START). */
enum { PC_RUN_LISTEN_FD = 3 };

/* Default of --listen-grace: how long CMD has to take up its socket before a warning. */
#define PC_RUN_LISTEN_GRACE_MS 5000

typedef struct pc_run_opts {
    const char *pool;
    const char *service;
    const char *instance;
    uint16_t port;
    int wait_ms;
    int backlog;
    bool listen;
    bool v6only;
    int listen_grace_ms; /* 0: no check that CMD takes up its socket */
    char **cmd;          /* NULL-terminated, borrowed from argv */
} pc_run_opts;

/* Pid of the command, read by the signal handler; 0 before the fork. */
static volatile sig_atomic_t pc_run_child;
/* Write end of the self-pipe that wakes the parent's loop on SIGCHLD. */
static int pc_run_wake_fd = -1;
/*
 * Until the socket is handed to the child, a forwarded signal or the child's
 * death aborts the claim: the handler shuts the agent connection down, which
 * ends a pending (possibly waiting) acquire at once and makes the agent drop
 * it. pc_run_abort_sig records the signal (-1: the child died first).
 */
static volatile sig_atomic_t pc_run_handed;
static volatile sig_atomic_t pc_run_abort_sig;
static int pc_run_agent_fd = -1;

static void pc_run_abort_claim(int sig)
{
    if (pc_run_handed || pc_run_agent_fd < 0)
        return;
    if (pc_run_abort_sig == 0)
        pc_run_abort_sig = sig;
    shutdown(pc_run_agent_fd, SHUT_RDWR);
}

static int pc_run_parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Parse argv (argv[0] is "run"). Returns 0, or PC_EXIT_USAGE after printing why. */
static int pc_run_parse(int argc, char **argv, pc_run_opts *o)
{
    static const struct option longopts[] = {
        {"pool", required_argument, NULL, 'p'},
        {"service", required_argument, NULL, 's'},
        {"port", required_argument, NULL, 'P'},
        {"instance", required_argument, NULL, 'i'},
        {"wait", required_argument, NULL, 'w'},
        {"backlog", required_argument, NULL, 'b'},
        {"no-listen", no_argument, NULL, 'n'},
        {"v6only", no_argument, NULL, '6'},
        {"help", no_argument, NULL, 'h'},
        {"listen-grace", required_argument, NULL, 'g'},
        {NULL, 0, NULL, 0},
    };
    *o = (pc_run_opts){.listen = true, .listen_grace_ms = PC_RUN_LISTEN_GRACE_MS};
    long v;
    int c;
    optind = 1;
    opterr = 0;
    /* "+": stop at the first non-option, so CMD's own options stay CMD's. */
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->pool = optarg;
            break;
        case 's':
            o->service = optarg;
            break;
        case 'i':
            o->instance = optarg;
            break;
        case 'P':
            if (pc_run_parse_int(optarg, 1, 65535, &v) < 0)
                return pc_cli_usage("run", "--port wants 1-65535, not '%s'", optarg);
            o->port = (uint16_t)v;
            break;
        case 'w':
            /* -1 is an older spelling of "forever". */
            if (strcmp(optarg, "-1") == 0)
                o->wait_ms = -1;
            else if (pc_cli_parse_seconds(optarg, true, &o->wait_ms) < 0)
                return pc_cli_usage("run", "--wait wants seconds (e.g. 2.5) or 'forever', not '%s'",
                                    optarg);
            break;
        case 'g':
            if (pc_cli_parse_seconds(optarg, false, &o->listen_grace_ms) < 0)
                return pc_cli_usage("run", "--listen-grace wants seconds (0: no check), not '%s'",
                                    optarg);
            break;
        case 'b':
            if (pc_run_parse_int(optarg, 0, 1 << 20, &v) < 0)
                return pc_cli_usage("run", "--backlog wants a number >= 0, not '%s'", optarg);
            o->backlog = (int)v;
            break;
        case 'n':
            o->listen = false;
            break;
        case '6':
            o->v6only = true;
            break;
        case 'h':
            return pc_cli_help("run") == PC_EXIT_OK ? -1 : PC_EXIT_FAIL;
        case ':':
            return pc_cli_usage("run", "option '%s' needs a value", argv[optind - 1]);
        default:
            return pc_cli_usage("run", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!o->pool || !o->service)
        return pc_cli_usage("run", "--pool and --service are required");
    if (o->wait_ms != 0 && o->port == 0)
        return pc_cli_usage("run", "--wait needs --port");
    if (o->backlog != 0 && !o->listen)
        return pc_cli_usage("run", "--backlog has no effect with --no-listen");
    if (optind >= argc)
        return pc_cli_usage("run", "no command given (portco run ... -- CMD ARGS...)");
    o->cmd = argv + optind;
    return 0;
}

/*
 * Forward a signal to the command. A signal the kernel raised for the
 * terminal (Ctrl-C, or SIGHUP when the session ends) went to the whole
 * foreground process group, the command included, so it is not sent a
 * second time. The exception is a hangup sent to us as session leader: the
 * kernel sends that one to the leader alone.
 */
static volatile sig_atomic_t pc_run_session_leader;

static void pc_run_on_forward(int sig, siginfo_t *si, void *uctx)
{
    int saved = errno;
    pid_t pid = (pid_t)pc_run_child;
    pc_run_abort_claim(sig); /* first: the child's death must not be taken for the cause */
    bool from_tty = si && si->si_code == SI_KERNEL && !(sig == SIGHUP && pc_run_session_leader);
    if (pid > 0 && !from_tty)
        kill(pid, sig);
    errno = saved;
}

static void pc_run_on_chld(int sig)
{
    int saved = errno;
    if (pc_run_wake_fd >= 0) {
        char b = 0;
        ssize_t n = write(pc_run_wake_fd, &b, 1); /* a full pipe already wakes the loop */
        (void)n;
    }
    pc_run_abort_claim(-1);
    errno = saved;
}

static const int pc_run_forwarded[] = {SIGTERM, SIGINT, SIGHUP};
#define PC_RUN_NFWD (sizeof(pc_run_forwarded) / sizeof(pc_run_forwarded[0]))

/* ---- the child: wait for the claim, set up fd 3 and the environment, exec. ---- */

static void pc_run_setenv_num(const char *name, long long v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", v);
    setenv(name, buf, 1);
}

/*
 * Runs in the forked child; never returns. `sp` is the child's end of the
 * handoff socketpair. The child only waits, so a failed claim (the parent
 * closes its end) ends it with no trace.
 */
static void pc_run_child_main(int sp, const pc_run_opts *o, const sigset_t *origmask)
{
    portco_claim claim;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = &claim, .iov_len = sizeof(claim)};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};

    /* Signals the parent forwards get their default effect again; nothing is blocked. */
    for (size_t i = 0; i < PC_RUN_NFWD; i++)
        signal(pc_run_forwarded[i], SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, origmask, NULL);

    ssize_t n;
    do
        n = recvmsg(sp, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(claim))
        _exit(PC_RUN_EXIT_NOTFOUND); /* no claim: the parent reports why */
    int fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(c), sizeof(int));
    close(sp);
    if (fd < 0)
        _exit(PC_RUN_EXIT_NOTFOUND);

    /* fd 3 loses close-on-exec: it is the one descriptor the command inherits. */
    if (fd == PC_RUN_LISTEN_FD) {
        if (fcntl(fd, F_SETFD, 0) < 0)
            _exit(PC_RUN_EXIT_NOEXEC);
    } else {
        if (dup2(fd, PC_RUN_LISTEN_FD) < 0)
            _exit(PC_RUN_EXIT_NOEXEC);
        close(fd);
    }
    /* The command manages the socket's blocking mode itself; hand it blocking, as systemd does. */
    int fl = fcntl(PC_RUN_LISTEN_FD, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK))
        fcntl(PC_RUN_LISTEN_FD, F_SETFL, fl & ~O_NONBLOCK);

    claim.pool[sizeof(claim.pool) - 1] = '\0';
    claim.host[sizeof(claim.host) - 1] = '\0';
    claim.claim[sizeof(claim.claim) - 1] = '\0';
    claim.address[sizeof(claim.address) - 1] = '\0';
    claim.proto[sizeof(claim.proto) - 1] = '\0';
    pc_run_setenv_num("LISTEN_PID", (long long)getpid());
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_FDNAMES", o->service, 1);
    pc_run_setenv_num("PORT", claim.port);
    pc_run_setenv_num("PORTCO_PORT", claim.port);
    setenv("PORTCO_POOL", claim.pool, 1);
    setenv("PORTCO_HOST", claim.host, 1);
    setenv("PORTCO_CLAIM", claim.claim, 1);
    setenv("PORTCO_ADDRESS", claim.address, 1);
    setenv("PORTCO_PROTO", claim.proto, 1);
    setenv("PORTCO_SERVICE", o->service, 1);
    pc_run_setenv_num("PORTCO_CZXID", (long long)claim.czxid);
    if (o->instance)
        setenv("PORTCO_INSTANCE", o->instance, 1);
    else
        unsetenv("PORTCO_INSTANCE");

    execvp(o->cmd[0], o->cmd);
    int e = errno;
    fprintf(stderr, "portco run: cannot run '%s': %s\n", o->cmd[0], strerror(e));
    _exit(e == ENOENT ? PC_RUN_EXIT_NOTFOUND : PC_RUN_EXIT_NOEXEC);
}

/* ---- the parent ---- */

static void pc_run_on_event(portco_client *c, const portco_event *ev, void *userdata)
{
    const char *what = ev->type == PORTCO_EVENT_CONFLICT ? "conflict" : "reasserted";
    fprintf(stderr, "portco run: %s: port %u of pool %s: %s\n", what, (unsigned)ev->claim.port,
            ev->claim.pool, ev->message);
}

/* Send the claim and its socket to the child. Returns 0 or -errno. */
static int pc_run_send_claim(int sp, const portco_claim *claim)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct iovec iov = {.iov_base = (void *)claim, .iov_len = sizeof(*claim)};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &claim->fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(sp, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return n == (ssize_t)sizeof(*claim) ? 0 : -EIO;
}

/* Exit code for a wait status: the child's code, or 128+signal. */
static int pc_run_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return PC_EXIT_FAIL;
}

/*
 * Wait for the child while serving agent events. Returns the wait status;
 * *agent_ok tells whether the agent connection is still there. The loop
 * wakes on SIGCHLD (self-pipe), on agent traffic, or for the --listen-grace
 * check; signals to forward are handled entirely in their handler.
 */
static int pc_run_wait_child(portco_client *c, pid_t child, int wake_rd, pc_run_watch *w,
                             bool *agent_ok)
{
    *agent_ok = true;
    for (;;) {
        int status;
        pid_t r = waitpid(child, &status, WNOHANG);
        if (r == child)
            return status;
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "portco run: waitpid: %s\n", strerror(errno));
            return 0;
        }
        int timeout = -1;
        if (w->deadline_ms > 0) {
            long long left = w->deadline_ms - pc_run_now_ms();
            if (left <= 0) {
                pc_run_check_taken(w, child);
                continue;
            }
            timeout = (int)left;
        }
        struct pollfd pfd[2] = {{.fd = wake_rd, .events = POLLIN},
                                {.fd = *agent_ok ? portco_fd(c) : -1, .events = POLLIN}};
        if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
            fprintf(stderr, "portco run: poll: %s\n", strerror(errno));
            return 0;
        }
        if (pfd[0].revents) {
            char buf[64];
            while (read(wake_rd, buf, sizeof(buf)) > 0)
                ;
        }
        if (*agent_ok && pfd[1].revents) {
            int n = portco_poll(c);
            if (n < 0) {
                /* The claim is bound to the child's pid: what becomes of it is the
                 * agent's to decide, and nothing here can take it back. */
                fprintf(stderr,
                        "portco run: lost the connection to the agent (%s: %s); the command keeps "
                        "running with its socket. Its claim is bound to the command's pid: an "
                        "agent that stopped has released it, one that restarted from its state "
                        "file holds it until the command exits (docs/faults.md)\n",
                        portco_err_name(n), portco_strerror(n));
                *agent_ok = false;
            }
        }
    }
}

/*
 * Release the claim after the command exited. The agent also ends it by
 * itself when it sees the pid exit, and a request waiting for the port may
 * be granted right after that: the release names the claim, so that a
 * successor's claim is never released. NOT_OWNER means the agent was first.
 */
static void pc_run_release(portco_client *c, const portco_claim *claim)
{
    portco_status st = {0};
    int rc = portco_release_claim(c, claim, &st);
    if (rc < 0 && rc != PORTCO_ENOTOWNER)
        fprintf(stderr, "portco run: release of port %u: %s: %s\n", (unsigned)claim->port,
                portco_err_name(rc), st.message[0] ? st.message : portco_strerror(rc));
}

static void pc_run_reap_unstarted(pid_t child)
{
    /* The child has not exec'd: it sits in recvmsg and dies on SIGKILL at once. */
    kill(child, SIGKILL);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
        ;
}

int pc_cmd_run(const pc_cli_globals *g, int argc, char **argv)
{
    pc_run_opts o;
    int rc = pc_run_parse(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? PC_EXIT_OK : rc;

    portco_status st = {0};
    portco_client *c = NULL;
    rc = portco_connect(g->socket, &c, &st);
    if (rc < 0) {
        fprintf(stderr, "portco run: %s: %s\n", portco_err_name(rc),
                st.message[0] ? st.message : portco_strerror(rc));
        return PC_EXIT_FAIL;
    }
    portco_set_event_cb(c, pc_run_on_event, NULL);

    int sp[2], wake[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        fprintf(stderr, "portco run: socketpair: %s\n", strerror(errno));
        portco_close(c);
        return PC_EXIT_FAIL;
    }
    if (pipe2(wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        fprintf(stderr, "portco run: pipe: %s\n", strerror(errno));
        close(sp[0]);
        close(sp[1]);
        portco_close(c);
        return PC_EXIT_FAIL;
    }

    /* Hold the forwarded signals and SIGCHLD until the handlers know the child's pid. */
    sigset_t block, orig;
    sigemptyset(&block);
    for (size_t i = 0; i < PC_RUN_NFWD; i++)
        sigaddset(&block, pc_run_forwarded[i]);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &orig);

    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "portco run: fork: %s\n", strerror(errno));
        sigprocmask(SIG_SETMASK, &orig, NULL);
        close(sp[0]);
        close(sp[1]);
        close(wake[0]);
        close(wake[1]);
        portco_close(c);
        return PC_EXIT_FAIL;
    }
    if (child == 0) {
        close(sp[0]);
        close(wake[0]);
        close(wake[1]);
        /* The agent connection is close-on-exec; close the child's copy now, the parent keeps it.
         */
        close(portco_fd(c));
        pc_run_child_main(sp[1], &o, &orig);
    }
    close(sp[1]);

    pc_run_child = child;
    pc_run_wake_fd = wake[1];
    pc_run_handed = 0;
    pc_run_abort_sig = 0;
    pc_run_agent_fd = portco_fd(c);
    pc_run_session_leader = getsid(0) == getpid();
    struct sigaction sa = {0};
    sa.sa_sigaction = pc_run_on_forward;
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    sa.sa_mask = block; /* the handlers do not interrupt each other */
    for (size_t i = 0; i < PC_RUN_NFWD; i++)
        sigaction(pc_run_forwarded[i], &sa, NULL);
    sa.sa_handler = pc_run_on_chld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_SETMASK, &orig, NULL);

    portco_acquire_opts ao = {
        .pool = o.pool,
        .service = o.service,
        .instance = o.instance,
        .port = o.port,
        .wait_ms = o.wait_ms,
        .lifetime = PORTCO_LIFETIME_PID,
        .hold_pid = child,
        .flags = PORTCO_ACQ_SOCKET | (o.listen ? PORTCO_ACQ_LISTEN : 0u) |
                 (o.v6only ? PORTCO_ACQ_V6ONLY : 0u),
        .backlog = o.backlog,
    };
    portco_claim claim;
    memset(&claim, 0, sizeof(claim));
    claim.fd = -1;
    rc = portco_acquire(c, &ao, &claim, &st);
    /* From here on signals go to the command only; one that came during the
     * acquire has left its mark in pc_run_abort_sig. */
    pc_run_handed = 1;
    int exit_code;
    int abort_sig = pc_run_abort_sig;
    if (abort_sig != 0) {
        /* Interrupted before the handoff: nothing was run, nothing is kept. */
        if (rc == 0) {
            close(claim.fd);
            pc_run_release(c, &claim);
        }
        pc_run_reap_unstarted(child);
        if (abort_sig > 0) {
            fprintf(stderr, "portco run: interrupted by signal %d before the command started\n",
                    abort_sig);
            exit_code = 128 + abort_sig;
        } else {
            fprintf(stderr, "portco run: the command's process ended before it started\n");
            exit_code = PC_EXIT_FAIL;
        }
        goto out;
    }
    if (rc < 0) {
        fprintf(stderr, "portco run: cannot claim a port of pool %s: %s: %s\n", o.pool,
                portco_err_name(rc), st.message[0] ? st.message : portco_strerror(rc));
        pc_run_reap_unstarted(child);
        exit_code = PC_EXIT_FAIL;
        goto out;
    }
    if (claim.fd < 0) {
        fprintf(stderr, "portco run: the agent granted port %u but handed over no socket\n",
                (unsigned)claim.port);
        pc_run_reap_unstarted(child);
        pc_run_release(c, &claim);
        exit_code = PC_EXIT_FAIL;
        goto out;
    }
    pc_run_watch watch = {
        .grace_ms = o.listen_grace_ms, .port = claim.port, .listening = o.listen, .cmd = o.cmd[0]};
    pc_run_watch_setup(&watch, claim.fd);
    rc = pc_run_send_claim(sp[0], &claim);
    close(claim.fd); /* the child has its own reference now; the port stays held */
    close(sp[0]);
    sp[0] = -1;
    if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET) {
        /* EPIPE means the child is already gone (a forwarded signal): its status says so. */
        fprintf(stderr, "portco run: cannot hand the socket to the command: %s\n", strerror(-rc));
        pc_run_reap_unstarted(child);
        pc_run_release(c, &claim);
        exit_code = PC_EXIT_FAIL;
        goto out;
    }

    bool agent_ok;
    exit_code = pc_run_exit_code(pc_run_wait_child(c, child, wake[0], &watch, &agent_ok));

    /* Without the connection there is nothing to release through: the agent
     * ends a pid claim by itself when the pid exits. */
    if (agent_ok)
        pc_run_release(c, &claim);

out:
    pc_run_handed = 1;
    pc_run_agent_fd = -1;
    pc_run_child = 0;
    if (sp[0] >= 0)
        close(sp[0]);
    pc_run_wake_fd = -1;
    close(wake[0]);
    close(wake[1]);
    portco_close(c);
    return exit_code;
}
