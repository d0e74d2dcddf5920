/* frame.h - line framing of the agent protocol: bounded lines, fd passing. */
#ifndef PC_FRAME_H
#define PC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Largest message, newline included (docs/protocol.md, "Framing"). */
#define PC_PROTO_MAX_LINE 65536

/* At most this many received descriptors are queued; further ones are closed. */
#define PC_FRAME_MAX_FDS 8

/*
 * Incremental reader of newline-terminated lines from a stream socket.
 * Bytes come from pc_linebuf_read() (recvmsg on a socket, collecting
 * SCM_RIGHTS descriptors) or from pc_linebuf_feed(); complete lines are taken
 * with pc_linebuf_next(). A line longer than `max` bytes (newline included) is
 * reported as PORTCO_ETOOBIG as soon as that is known, without buffering more
 * than `max` bytes; the reader then stays in that error state, since the
 * stream can no longer be trusted to be in sync.
 *
 * Received descriptors are queued in arrival order (up to `max_fds`, the
 * rest are closed at once); pc_linebuf_take_fd() hands them out. A response
 * that says "fd": true takes the oldest queued descriptor: the agent sends
 * each descriptor with the first byte of the line that announces it.
 */
typedef struct pc_linebuf {
    char *buf;
    size_t len;   /* bytes held */
    size_t cap;   /* allocated */
    size_t start; /* offset of the first byte not yet returned as a line */
    size_t max;   /* line bound, newline included */
    bool toobig;
    int fds[PC_FRAME_MAX_FDS];
    size_t nfds;
    size_t max_fds; /* 0: close every received descriptor (the agent's setting) */
} pc_linebuf;

/* Initialise an empty reader. max 0 means PC_PROTO_MAX_LINE; max_fds is capped
 * at PC_FRAME_MAX_FDS. */
void pc_linebuf_init(pc_linebuf *lb, size_t max, size_t max_fds);

/* Free the buffer and close every queued descriptor. Accepts NULL. */
void pc_linebuf_free(pc_linebuf *lb);

/*
 * One recvmsg() on `sock` (MSG_CMSG_CLOEXEC | MSG_DONTWAIT: it never blocks,
 * whatever the socket's mode), appending the bytes and queueing
 * passed descriptors. Returns the number of bytes read (> 0), 0 at end of
 * stream, -EAGAIN when nothing is available,
 * PORTCO_ETOOBIG once a line exceeds the bound (nothing more is read), or
 * another -errno.
 */
ssize_t pc_linebuf_read(pc_linebuf *lb, int sock);

/* Append bytes read elsewhere. Returns 0, PORTCO_ETOOBIG, -ENOMEM. */
int pc_linebuf_feed(pc_linebuf *lb, const void *data, size_t n);

/*
 * Take the next complete line. Returns 1 with *line pointing at the line
 * (newline replaced by NUL; borrowed, valid until the next call on lb) and
 * *len its length without the newline; 0 when no complete line is buffered;
 * PORTCO_ETOOBIG when the line in progress exceeds the bound.
 */
int pc_linebuf_next(pc_linebuf *lb, char **line, size_t *len);

/* Bytes buffered that do not yet form a complete line. */
size_t pc_linebuf_pending(const pc_linebuf *lb);

/* Take (ownership of) the oldest queued descriptor, or -1 when none. */
int pc_linebuf_take_fd(pc_linebuf *lb);

/*
 * One sendmsg() of buf[0..len) on `sock` with MSG_NOSIGNAL | MSG_DONTWAIT
 * (never blocks, never raises SIGPIPE); when fd >= 0 it
 * rides along as SCM_RIGHTS (put it on the call that sends a line's first
 * byte). Returns bytes sent (>= 0; on a stream socket the fd went along when
 * the result is > 0), -EAGAIN, or another -errno. The caller keeps `fd`.
 */
ssize_t pc_frame_sendmsg(int sock, const void *buf, size_t len, int fd);

/*
 * Send all of buf, waiting with poll() up to timeout_ms in total (-1: no
 * limit) whenever the socket is full; fd as in pc_frame_sendmsg(). For
 * clients with blocking or non-blocking sockets. Returns 0, -ETIMEDOUT,
 * -EPIPE (peer gone), or another -errno.
 */
int pc_frame_send_all(int sock, const void *buf, size_t len, int fd, int timeout_ms);

/*
 * Read until a complete line is buffered in lb, waiting with poll() up to
 * timeout_ms in total (-1: no limit), then take it as pc_linebuf_next() does.
 * Returns 1 with the line, 0 at end of stream before a complete line,
 * -ETIMEDOUT, PORTCO_ETOOBIG, or another -errno.
 */
int pc_frame_read_line(pc_linebuf *lb, int sock, int timeout_ms, char **line, size_t *len);

#endif
