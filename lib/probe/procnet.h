/* procnet.h - the sockets of this host as listed in /proc/net/{tcp,tcp6,udp,udp6}. */
#ifndef PC_PROCNET_H
#define PC_PROCNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "error.h"
#include "types.h"

/* Room for any address text we produce, "ffff:...:ffff" or "255.255.255.255". */
#define PC_ADDRSTRLEN 46

/* Socket states, numbered as the kernel prints them (include/net/tcp_states.h). */
typedef enum pc_sock_state {
    PC_SS_UNKNOWN = 0,
    PC_SS_ESTABLISHED = 1,
    PC_SS_SYN_SENT = 2,
    PC_SS_SYN_RECV = 3,
    PC_SS_FIN_WAIT1 = 4,
    PC_SS_FIN_WAIT2 = 5,
    PC_SS_TIME_WAIT = 6,
    PC_SS_CLOSE = 7, /* for UDP: bound, not connected ("UNCONN") */
    PC_SS_CLOSE_WAIT = 8,
    PC_SS_LAST_ACK = 9,
    PC_SS_LISTEN = 10,
    PC_SS_CLOSING = 11,
    PC_SS_NEW_SYN_RECV = 12,
} pc_sock_state;

/* Which /proc/net file a line comes from. */
typedef enum pc_procnet_kind {
    PC_PROCNET_TCP = 0,
    PC_PROCNET_TCP6 = 1,
    PC_PROCNET_UDP = 2,
    PC_PROCNET_UDP6 = 3,
} pc_procnet_kind;

/* One socket. Addresses are text; IPv4-mapped IPv6 addresses are shown as IPv4. */
typedef struct pc_sock {
    pc_proto proto;            /* PC_PROTO_TCP or PC_PROTO_UDP */
    int family;                /* AF_INET or AF_INET6: the file it was listed in */
    char local[PC_ADDRSTRLEN]; /* "0.0.0.0", "::", "127.0.0.1", "::1" */
    uint16_t local_port;
    char remote[PC_ADDRSTRLEN];
    uint16_t remote_port;
    bool local_any; /* local address is 0.0.0.0 or :: */
    pc_sock_state state;
    uid_t uid;
    unsigned long inode;   /* 0 for TIME_WAIT and other orphaned sockets */
    pid_t pid;             /* owner (lowest pid holding it), 0 when unknown */
    char comm[32];         /* owner's /proc/PID/comm, "" when unknown */
    bool owner_unreadable; /* an owner may exist among processes we may not inspect */
} pc_sock;

/* A growable array of sockets. */
typedef struct pc_sockvec {
    pc_sock *v;
    size_t n, cap;
} pc_sockvec;

#define PC_SOCKVEC_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void pc_sockvec_init(pc_sockvec *sv);

/*
 * Address text as pc_sock shows it, from network-order bytes (4, or 16 when
 * v6): IPv4-mapped IPv6 as IPv4. *any tells 0.0.0.0 or ::. Returns 0, or
 * -EINVAL when len is too short.
 */
int pc_sock_addr_text(bool v6, const void *bytes, char *out, size_t len, bool *any);
void pc_sockvec_free(pc_sockvec *sv);

/* Append a copy of *s. Returns 0 or -ENOMEM. */
int pc_sockvec_push(pc_sockvec *sv, const pc_sock *s);

/*
 * State name for a socket of protocol `proto`: "LISTEN", "ESTABLISHED",
 * "TIME_WAIT", ...; a UDP socket in state CLOSE is "UNCONN". Never NULL.
 */
const char *pc_sock_state_name(pc_proto proto, pc_sock_state st);

/*
 * Parse the content of one /proc/net file (`kind` says which) and append
 * every socket whose local port is `port` (0: every socket) to `out`. The
 * header line and blank lines are skipped; an empty text is no sockets.
 * A malformed line is skipped and the rest still parsed; the call then
 * returns -EBADMSG with err naming the first bad line. Returns 0, -EBADMSG,
 * -ENOMEM.
 */
int pc_procnet_parse(FILE *f, pc_procnet_kind kind, uint16_t port, pc_sockvec *out, pc_error *err);

/* Same, on a buffer of `len` bytes (need not be NUL-terminated). */
int pc_procnet_parse_buf(const char *buf, size_t len, pc_procnet_kind kind, uint16_t port,
                         pc_sockvec *out, pc_error *err);

/*
 * Read <procroot>/net/{tcp,tcp6} (when proto includes TCP) and
 * <procroot>/net/{udp,udp6} (when it includes UDP), once each, appending the
 * sockets on `port` (0: all) to `out`. procroot NULL means "/proc". A
 * missing file (no IPv6 on this host) is skipped. Malformed lines are
 * skipped silently. Owners are not resolved: see pc_sock_owners().
 * Returns 0, -ENOMEM, or -errno when a file exists but cannot be read.
 */
int pc_procnet_scan(const char *procroot, pc_proto proto, uint16_t port, pc_sockvec *out,
                    pc_error *err);

/*
 * Format one socket as an `ss -tuanp`-like line, without newline:
 * "tcp   LISTEN      0.0.0.0:30080            0.0.0.0:*      pid=4242 (nginx)".
 * Returns buf.
 */
const char *pc_sock_format(const pc_sock *s, char *buf, size_t len);

/* "addr:port" (IPv6 in brackets; port 0 of a remote shown as "*"). Returns buf. */
const char *pc_sock_endpoint(const char *addr, uint16_t port, bool remote, char *buf, size_t len);

#endif
