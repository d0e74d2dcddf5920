/* run_listen.h - has the command of `portco run` taken up its claimed socket? (Linux /proc) */
#ifndef PC_CLI_RUN_LISTEN_H
#define PC_CLI_RUN_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What pc_run_listen_check() concluded. */
typedef enum pc_run_take {
    /* The command uses the socket: it listens, or shows a sign of use. */
    PC_RUN_TAKEN = 0,
    /* Handed over listening: no sign either way (yet). */
    PC_RUN_UNDECIDED,
    /* Handed over bound but not listening: nothing listens on the claimed port. */
    PC_RUN_NOT_LISTENING,
    /* Handed over listening: the command listens on other ports and shows no
     * sign of using the socket it was given. */
    PC_RUN_ELSEWHERE,
    /* Handed over listening: no process holds the socket any more, so the
     * claimed port is not served. */
    PC_RUN_CLOSED,
    /* The command's processes could not be inspected (another user's, or /proc
     * unreadable): no conclusion. */
    PC_RUN_UNKNOWN,
} pc_run_take;

#define PC_RUN_OTHER_PORTS_MAX 8

typedef struct pc_run_listen_result {
    pc_run_take take;
    uint16_t other_ports[PC_RUN_OTHER_PORTS_MAX]; /* TCP ports the command listens on instead */
    size_t nother;
} pc_run_listen_result;

/*
 * Look at the command `cmd` and its descendants, which were given the TCP
 * socket with inode `inode` bound to `port`, already listening when
 * `handed_listening`.
 *
 * Handed over bound but not listening, a program that uses the socket calls
 * listen() on it, and one that binds $PORT itself (with SO_REUSEADDR) listens
 * on the port too: either way some socket listens on `port`, and that is the
 * check.
 *
 * Handed over listening, the port listens whatever the program does, so the
 * check looks for signs of use instead. The socket counts as taken when a
 * process of the command holds it at a descriptor other than 3 (dup'd), with
 * O_NONBLOCK or close-on-exec set (event loops and sd_listen_fds(3) do that),
 * registered in an epoll set, or with a thread blocked in accept() on it. It
 * counts as not taken when no process holds it any more (PC_RUN_CLOSED), or
 * when none of those signs is there and the command listens on other TCP
 * ports (PC_RUN_ELSEWHERE): a program that binds a port of its own. Without
 * either, nothing is concluded (PC_RUN_UNDECIDED): a program may use the
 * socket through plain poll() or select() without a trace outside its
 * memory, or may not have started listening anywhere yet.
 *
 * Fills *r and returns 0; the check costs one walk of /proc/PID/stat of the
 * host and of the command's descriptors.
 */
int pc_run_listen_check(pid_t cmd, unsigned long inode, uint16_t port, bool handed_listening,
                        pc_run_listen_result *r);

/*
 * The --listen-grace check, first when the grace has passed. While it finds
 * no sign either way (a program still starting up), it looks again after
 * twice the time so far, PC_RUN_RECHECKS times at most; it warns once.
 */
#define PC_RUN_RECHECKS 3

typedef struct pc_run_watch {
    long long deadline_ms; /* CLOCK_MONOTONIC; 0: no check (off, done, or not a TCP socket) */
    long long start_ms;    /* when CMD got the socket */
    int rechecks;          /* left */
    int grace_ms;
    unsigned long inode; /* the claimed socket */
    uint16_t port;
    bool listening; /* handed over listening */
    const char *cmd;
} pc_run_watch;

/* Milliseconds of CLOCK_MONOTONIC. */
long long pc_run_now_ms(void);

/* Arm the --listen-grace check of w (w->grace_ms, port, listening and cmd
 * set) for the claimed socket `fd` when it applies (a TCP socket). */
void pc_run_watch_setup(pc_run_watch *w, int fd);

/*
 * Look whether CMD (the process `child`) has taken up its socket and say so
 * on stderr when it has not; arm the next look while there is no sign either
 * way (w->deadline_ms, 0 when there is none).
 */
void pc_run_check_taken(pc_run_watch *w, pid_t child);

#endif
