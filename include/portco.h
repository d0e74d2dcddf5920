/* portco.h - the application API of portco: ask the local agent for a port. */
#ifndef PORTCO_H
#define PORTCO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "portco_version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(PORTCO_BUILDING)
#define PORTCO_API __attribute__((visibility("default")))
#else
#define PORTCO_API
#endif

/*
 * Versions and ABI. portco_version.h (generated from the build's project
 * version, included above) has PORTCO_VERSION_MAJOR, _MINOR, _PATCH, _STRING
 * and _HEX (0xMMmmpp) of the headers an application compiles against;
 * portco_version() and portco_version_string() give those of the library
 * loaded at run time.
 *
 * While the major version is 0, a minor release may change the ABI: the
 * soname carries the minor version (libportco.so.0.1) and the CMake package
 * accepts only the same minor version. A patch release never changes it.
 * From 1.0 on, the soname is libportco.so.1 and minor releases only add.
 */

/* 0xMMmmpp of the library loaded at run time (PORTCO_VERSION_HEX of its build). */
PORTCO_API unsigned portco_version(void);

/* "MAJOR.MINOR.PATCH" of the library loaded at run time. Static; never NULL. */
PORTCO_API const char *portco_version_string(void);

/* Default path of the agent's Unix socket; $PORTCO_SOCKET overrides it. */
#define PORTCO_DEFAULT_SOCKET "/run/portco/agent.sock"

/*
 * Error codes. Every function that can fail returns 0 or a negative code:
 * either -errno for a system error, or one of the PORTCO_E* codes below.
 * The second column is the stable, machine-readable name used on the wire,
 * in JSON output and in logs; it never changes once released. The list is
 * the only definition: the enum and both string tables are generated from it.
 */
#define PORTCO_ERRNO_MAP(XX)                                                                 \
    XX(EBADREQ, -1001, "BAD_REQUEST", "malformed or invalid request")                        \
    XX(ENOPOOL, -1002, "NO_SUCH_POOL", "no such pool")                                       \
    XX(EEXHAUSTED, -1003, "POOL_EXHAUSTED", "pool exhausted: no free usable port")           \
    XX(ETAKEN, -1004, "PORT_TAKEN", "port is claimed by another owner")                      \
    XX(EUNUSABLE, -1005, "PORT_UNUSABLE", "port is not usable on this host")                 \
    XX(ENOTOWNER, -1006, "NOT_OWNER", "no claim on this port is held by the caller")         \
    XX(EZKUNAVAIL, -1007, "ZK_UNAVAILABLE", "ZooKeeper unavailable")                         \
    XX(ESTATIC, -1008, "STATIC_RESERVED", "port is statically assigned to another service")  \
    XX(EOUTOFPOOL, -1009, "PORT_OUT_OF_POOL", "port is not part of the pool")                \
    XX(EWAITTIMEOUT, -1010, "WAIT_TIMEOUT", "timed out waiting for the port to be released") \
    XX(ENOAGENT, -1011, "AGENT_UNAVAILABLE", "cannot reach the portco agent")                \
    XX(EPROTO, -1012, "PROTOCOL_ERROR", "malformed message from the agent")                  \
    XX(EVERSION, -1013, "UNSUPPORTED_VERSION", "unsupported protocol version")               \
    XX(ECONFLICT, -1014, "CONFLICT", "claim lost to another owner")                          \
    XX(ESHUTDOWN, -1015, "AGENT_SHUTTING_DOWN", "the agent is shutting down")                \
    XX(ECONFIG, -1016, "CONFIG_INVALID", "invalid configuration")                            \
    XX(ETOOBIG, -1017, "MESSAGE_TOO_BIG", "message exceeds the size limit")                  \
    XX(ENOTREADY, -1018, "NOT_READY", "the agent has not loaded the cluster configuration")  \
    XX(EINTERNAL, -1019, "INTERNAL", "internal error")

typedef enum portco_errno {
#define PORTCO_XX_(name, value, code, msg) PORTCO_##name = (value),
    PORTCO_ERRNO_MAP(PORTCO_XX_)
#undef PORTCO_XX_
} portco_errno;

/*
 * Human-readable text for any return code (0, -errno or PORTCO_E*). Never
 * NULL; a static string, safe to use from any thread.
 */
PORTCO_API const char *portco_strerror(int code);

/*
 * Stable name of a return code: "OK", a PORTCO_ERRNO_MAP name such as
 * "POOL_EXHAUSTED", or the errno name such as "ECONNREFUSED". Never NULL.
 */
PORTCO_API const char *portco_err_name(int code);

/*
 * Inverse of portco_err_name(): "OK" gives 0, a PORTCO_ERRNO_MAP name its
 * PORTCO_E* code, an errno name such as "ECONNREFUSED" its -errno. Returns 0
 * with *code set, or PORTCO_EBADREQ (unknown name, name or code NULL) with
 * *code untouched.
 */
PORTCO_API int portco_err_from_name(const char *name, int *code);

/* Detail of a failure, filled by functions that take one (the pointer may be NULL). */
typedef struct portco_status {
    int code;          /* same as the function's return value */
    char message[512]; /* what went wrong and what to do; NUL-terminated */
} portco_status;

/*
 * An open connection to the local agent. Opaque; safe to share between
 * threads: calls on one client are serialised (each holds the client's lock
 * from sending its request until its answer has been read), so a call that
 * waits (acquire with wait_ms) delays the other threads' calls on the same
 * client. Use one client per thread for independent waits.
 */
typedef struct portco_client portco_client;

/*
 * Connect to the agent listening on the Unix socket `path`; NULL means
 * $PORTCO_SOCKET, or PORTCO_DEFAULT_SOCKET when that is unset.
 * On success *out is an owned handle, released with portco_close(); on
 * failure *out is NULL. The socket is close-on-exec. Connecting exchanges no
 * message: an agent speaking another protocol version is reported as
 * PORTCO_EVERSION by the first call.
 * Returns 0, PORTCO_ENOAGENT (nothing listening, path missing; the message
 * names the path), -ENAMETOOLONG (path too long for a Unix socket),
 * -ENOMEM, or another -errno of socket()/connect() such as -EACCES.
 */
PORTCO_API int portco_connect(const char *path, portco_client **out, portco_status *st);

/*
 * Close the connection. Claims whose lifetime is the connection are released
 * by the agent. Accepts NULL.
 */
PORTCO_API void portco_close(portco_client *c);

/*
 * File descriptor of the connection, for applications that poll for events:
 * when it is readable, call portco_poll(). Do not read, write or close it.
 * -1 for NULL.
 */
PORTCO_API int portco_fd(const portco_client *c);

typedef enum portco_lifetime {
    PORTCO_LIFETIME_CONNECTION = 0, /* released when the connection closes (default) */
    PORTCO_LIFETIME_PID = 1,        /* released when hold_pid exits */
    PORTCO_LIFETIME_EXPLICIT = 2,   /* held until portco_release() or the agent stops */
} portco_lifetime;

/* Flags of portco_acquire_opts. */
#define PORTCO_ACQ_SOCKET 0x1u /* receive the agent's bound socket in claim->fd */
#define PORTCO_ACQ_LISTEN 0x2u /* with PORTCO_ACQ_SOCKET: the socket already listens (TCP) */
#define PORTCO_ACQ_V6ONLY 0x4u /* with PORTCO_ACQ_SOCKET on an IPv6 pool: no IPv4 traffic */

typedef struct portco_acquire_opts {
    const char *pool;         /* required: pool name */
    const char *service;      /* required: who the port is for */
    const char *instance;     /* optional: instance id within the service */
    uint16_t port;            /* 0: any free port of the pool; else exactly this one */
    int wait_ms;              /* with port: wait this long for the holder to release it;
                                 0 = fail at once with PORTCO_ETAKEN, -1 = forever */
    portco_lifetime lifetime; /* see portco_lifetime */
    pid_t hold_pid;           /* with PORTCO_LIFETIME_PID */
    unsigned flags;           /* PORTCO_ACQ_* */
    int backlog;              /* with PORTCO_ACQ_LISTEN; 0 means SOMAXCONN */
} portco_acquire_opts;

/* A granted claim. Strings are NUL-terminated copies owned by the struct. */
typedef struct portco_claim {
    char pool[64];
    uint16_t port;
    char proto[8];     /* "tcp", "udp" or "both" */
    char address[64];  /* address the service should bind */
    char host[128];    /* host id of the agent that holds the claim */
    char service[128];
    char instance[128];
    char claim[160];   /* claim node name in ZooKeeper */
    int64_t czxid;     /* fencing token: creation zxid of the claim node */
    pid_t pid;         /* claimant pid as the agent saw it */
    int64_t since_ms;  /* claim time, ms since the epoch */
    int fd;            /* bound socket with PORTCO_ACQ_SOCKET, else -1; owned by the caller;
                          close-on-exec and in blocking mode, like a fresh socket */
} portco_claim;

/*
 * Ask the agent for a port. On success fills *out and returns 0; on failure
 * *out is zeroed with fd -1 (nothing to release or close). The options are
 * checked before anything is sent: wait_ms needs port; hold_pid is set
 * exactly with PORTCO_LIFETIME_PID; PORTCO_ACQ_LISTEN and PORTCO_ACQ_V6ONLY
 * need PORTCO_ACQ_SOCKET; pool is at most 63 bytes, service and instance
 * at most 127.
 * Returns PORTCO_EBADREQ (missing pool or service, bad options),
 * PORTCO_ENOPOOL, PORTCO_EEXHAUSTED, PORTCO_ETAKEN (port given, wait_ms 0),
 * PORTCO_EWAITTIMEOUT, PORTCO_EUNUSABLE (port given and the local probe
 * refused it; st->message has the reason), PORTCO_ESTATIC,
 * PORTCO_EOUTOFPOOL, PORTCO_EZKUNAVAIL, PORTCO_ENOTREADY, PORTCO_ENOAGENT
 * (connection lost, or closed after an earlier PORTCO_EPROTO), PORTCO_EPROTO
 * (garbage or oversize answer; the library then closes the connection),
 * PORTCO_EVERSION, PORTCO_ESHUTDOWN, -errno.
 */
PORTCO_API int portco_acquire(portco_client *c, const portco_acquire_opts *opts,
                              portco_claim *out, portco_status *st);

/*
 * Release the caller's claim on `port` of `pool`. Any client may release an
 * explicit or pid-bound claim; a connection-bound claim only by its own
 * connection. Returns 0, PORTCO_EBADREQ (pool missing, port 0),
 * PORTCO_ENOTOWNER, PORTCO_ENOPOOL, PORTCO_EZKUNAVAIL, PORTCO_ENOAGENT,
 * PORTCO_EPROTO.
 */
PORTCO_API int portco_release(portco_client *c, const char *pool, uint16_t port,
                              portco_status *st);

/*
 * Release exactly `claim` (as portco_acquire() or portco_list() filled it):
 * when that claim has ended already and another now holds its port (a
 * waiter granted after the agent ended it), nothing is released and
 * PORTCO_ENOTOWNER is returned. Otherwise as portco_release().
 */
PORTCO_API int portco_release_claim(portco_client *c, const portco_claim *claim,
                                    portco_status *st);

/*
 * List the owning claims of the whole cluster, of one pool when `pool` is not
 * NULL. On success *out is an owned array of *n claims (fd is -1), freed with
 * free(); NULL when *n is 0. Returns 0, PORTCO_ENOPOOL, PORTCO_EZKUNAVAIL,
 * PORTCO_ENOAGENT, PORTCO_EPROTO, -ENOMEM.
 */
PORTCO_API int portco_list(portco_client *c, const char *pool, portco_claim **out, size_t *n,
                           portco_status *st);

/* Events the agent sends on its own: a claim was lost or re-asserted. */
typedef enum portco_event_type {
    PORTCO_EVENT_CONFLICT = 1, /* another owner holds the port now; the claim is gone */
    PORTCO_EVENT_REASSERTED = 2 /* the claim was re-created after a session loss */
} portco_event_type;

typedef struct portco_event {
    portco_event_type type;
    portco_claim claim;  /* the claim concerned */
    char message[256];
} portco_event;

typedef void (*portco_event_cb)(portco_client *c, const portco_event *ev, void *userdata);

/*
 * Set the callback that receives events; it runs in the thread that called
 * into the library when the event arrived (any call, or portco_poll()),
 * after that call has read its answer and released the client's lock, just
 * before the call returns. It may therefore call the library, on this client
 * too. Events arriving while no callback is set are dropped.
 */
PORTCO_API void portco_set_event_cb(portco_client *c, portco_event_cb cb, void *userdata);

/*
 * Read and dispatch events already waiting on the connection without
 * blocking. Returns the number dispatched (>= 0), or PORTCO_ENOAGENT (the
 * agent closed the connection), PORTCO_EPROTO, PORTCO_EBADREQ (c is NULL).
 */
PORTCO_API int portco_poll(portco_client *c);

/* Levels passed to the log callback. */
enum { PORTCO_LOG_DEBUG = 0, PORTCO_LOG_INFO = 1, PORTCO_LOG_WARN = 2, PORTCO_LOG_ERROR = 3 };

typedef void (*portco_log_cb)(int level, const char *message, void *userdata);

/*
 * Route the library's diagnostics to `cb`; the library never prints. The
 * callback runs with the client's lock held: it must not call the library
 * on the same client.
 */
PORTCO_API void portco_set_log_cb(portco_client *c, portco_log_cb cb, void *userdata);

#ifdef __cplusplus
}
#endif
#endif /* PORTCO_H */
