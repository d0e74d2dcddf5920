/* probe.h - is a port usable on this host, and why not: bind tests, /proc/net, kernel ranges. */
#ifndef PC_PROBE_H
#define PC_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "kports.h"
#include "procnet.h"
#include "types.h"

/* When the probe walks /proc/PID/fd to name the owners of the sockets found. */
typedef enum pc_owner_mode {
    PC_OWNERS_ON_FAILURE = 0, /* only when the port is not usable (the default) */
    PC_OWNERS_NEVER = 1,      /* never: the cheapest probe */
    PC_OWNERS_ALWAYS = 2,
} pc_owner_mode;

typedef struct pc_probe_opts {
    pc_proto proto;                 /* TCP, UDP or BOTH; 0 means TCP */
    const char *address;            /* address the service will bind; NULL/"" = "0.0.0.0" */
    pc_timewait_policy timewait;    /* see types.h */
    pc_ephemeral_policy ephemeral;  /* see types.h */
    bool allow_privileged;          /* ports below ip_unprivileged_port_start may be usable */
    const char *const *extra_addrs; /* more addresses to bind-test; borrowed */
    size_t n_extra;
    bool hold; /* when usable, keep a hold socket per protocol (see below) */
    pc_owner_mode owners;
    const char *procroot; /* NULL = "/proc"; a fixture tree in tests */
    /*
     * Read /proc/net only when a bind test failed. Every socket with the port
     * as its local port (listening, connected, TIME_WAIT, UDP) makes the
     * wildcard bind test fail, so when every bind test passed the scan finds
     * nothing that changes the verdict: skipping it saves reading the whole
     * socket table of the host per candidate. r->socks stays empty then.
     */
    bool scan_on_failure_only;
    /* Kernel port settings read by the caller (e.g. refreshed on a timer);
     * borrowed. NULL: read them from procroot on every call. */
    const pc_kports *kports;
} pc_probe_opts;

/* A stable reason code and a sentence. Codes: "listen", "in-use", "time-wait",
 * "ephemeral", "reserved", "privileged", "bind-failed", "family-skipped",
 * "hold-failed". */
typedef struct pc_finding {
    char code[16];
    pc_proto proto; /* protocol concerned; the probe's protocol for port-wide findings */
    bool blocking;  /* true when it makes the port unusable; false for a note */
    char message[320];
} pc_finding;

/* One bind test: a socket bound without SO_REUSEADDR/SO_REUSEPORT, then closed. */
typedef struct pc_bind_test {
    pc_proto proto;              /* TCP or UDP */
    int family;                  /* AF_INET or AF_INET6 */
    char address[PC_ADDRSTRLEN]; /* as tested */
    int v6only;                  /* IPV6_V6ONLY set for the test: 0/1, -1 for IPv4 */
    bool wildcard;               /* 0.0.0.0 or :: */
    int rc;                      /* 0 or -errno of socket()/bind() */
    int rc_reuse;                /* after EADDRINUSE on TCP: the same bind with SO_REUSEADDR;
                                    1 when not tried */
} pc_bind_test;

typedef struct pc_probe_result {
    uint16_t port;
    pc_proto proto;
    char address[PC_ADDRSTRLEN];
    bool usable;
    bool reuseaddr_needed; /* usable only by a server that sets SO_REUSEADDR (TIME_WAIT) */
    char summary[512];     /* "30081/tcp: usable on 0.0.0.0 (note: ...)" */
    pc_finding *findings;  /* in the order found; owned */
    size_t n_findings, cap_findings;
    pc_bind_test *tests; /* owned */
    size_t n_tests, cap_tests;
    pc_sockvec socks;       /* sockets on the port for the probed protocol(s); owned */
    int hold_tcp, hold_udp; /* hold sockets (opts.hold, usable), else -1; owned */
} pc_probe_result;

void pc_probe_result_init(pc_probe_result *r);

/* Free everything and close the hold sockets that were not taken. Accepts NULL. */
void pc_probe_result_free(pc_probe_result *r);

/* Move the hold sockets to the caller (either pointer may be NULL: that socket
 * stays in the result). Taken slots become -1. */
void pc_probe_take_holds(pc_probe_result *r, int *tcp_fd, int *udp_fd);

/*
 * Probe `port` on this host. Order: kernel settings (ephemeral range,
 * reserved ports, unprivileged port start), bind tests on the address and
 * the wildcards, one read of /proc/net for the port (skipped under
 * scan_on_failure_only when every bind test passed), the verdict, owners when
 * opts->owners asks, then the hold sockets when opts->hold and usable.
 * `r` must have been set up with pc_probe_result_init() (a previous result in
 * it is freed first). Returns 0 when the probe ran (r->usable is the answer;
 * r must be freed with pc_probe_result_free() in every case), -EINVAL for port 0 or a bad
 * address, -ENOMEM, or -errno when /proc could not be read.
 */
int pc_probe(const pc_probe_opts *opts, uint16_t port, pc_probe_result *r, pc_error *err);

/* Append a finding (printf-style message). Returns 0 or -ENOMEM. */
int pc_probe_add_finding(pc_probe_result *r, const char *code, pc_proto proto, bool blocking,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * A hold: a socket of `proto` (TCP or UDP) bound to address:port with
 * SO_REUSEADDR, never listening; an IPv6 wildcard also covers IPv4
 * (IPV6_V6ONLY off). While it exists a bind() without SO_REUSEADDR fails
 * and the kernel does not pick the port for outgoing connections, while a
 * server setting SO_REUSEADDR can still bind and listen. address NULL/"" is
 * "0.0.0.0". On success *fd is an owned non-blocking, close-on-exec socket.
 * Returns 0, -EINVAL (bad address or proto), or -errno of socket()/bind().
 */
int pc_probe_hold_socket(pc_proto proto, const char *address, uint16_t port, int *fd,
                         pc_error *err);

/* "tcp", "udp" or "tcp+udp", as used in the messages. */
const char *pc_probe_proto_label(pc_proto p);

#endif
