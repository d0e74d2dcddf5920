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
 * Results that must not be ignored: an ignored acquire leaks its claim and
 * socket, an ignored release or list hides a failure. The compiler warns
 * (warn_unused_result); a cast to void does not silence it with GCC.
 */
#if defined(__GNUC__)
#define PORTCO_NODISCARD __attribute__((warn_unused_result))
#else
#define PORTCO_NODISCARD
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
 *
 * Room for growth: portco_connect_opts, portco_acquire_opts, portco_claim
 * and portco_event end in `reserved` words. A later release with the same
 * soname may give a reserved word a meaning, with 0 meaning what the release
 * before did; it never moves, resizes or removes a field. Structs passed in
 * must therefore be zeroed whole (`= {0}`, a designated initialiser, or
 * memset) before the fields are set: the library refuses non-zero reserved
 * words with PORTCO_EBADREQ, so that a stray value is found now, not read as
 * a new option later. In structs it fills, the library zeroes them.
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
#define PORTCO_ERRNO_MAP(XX)                                                                       \
    XX(EBADREQ, -1001, "BAD_REQUEST", "malformed or invalid request")                              \
    XX(ENOPOOL, -1002, "NO_SUCH_POOL", "no such pool")                                             \
    XX(EEXHAUSTED, -1003, "POOL_EXHAUSTED", "pool exhausted: no free usable port")                 \
    XX(ETAKEN, -1004, "PORT_TAKEN", "port is claimed by another owner")                            \
    XX(EUNUSABLE, -1005, "PORT_UNUSABLE", "port is not usable on this host")                       \
    XX(ENOTOWNER, -1006, "NOT_OWNER", "no claim on this port is held by the caller")               \
    XX(EZKUNAVAIL, -1007, "ZK_UNAVAILABLE", "ZooKeeper unavailable")                               \
    XX(ESTATIC, -1008, "STATIC_RESERVED", "port is statically assigned to another service")        \
    XX(EOUTOFPOOL, -1009, "PORT_OUT_OF_POOL", "port is not part of the pool")                      \
    XX(EWAITTIMEOUT, -1010, "WAIT_TIMEOUT", "timed out waiting for the port to be released")       \
    XX(ENOAGENT, -1011, "AGENT_UNAVAILABLE", "cannot reach the portco agent")                      \
    XX(EPROTO, -1012, "PROTOCOL_ERROR", "malformed message from the agent")                        \
    XX(EVERSION, -1013, "UNSUPPORTED_VERSION", "unsupported protocol version")                     \
    XX(ECONFLICT, -1014, "CONFLICT", "claim lost to another owner")                                \
    XX(ESHUTDOWN, -1015, "AGENT_SHUTTING_DOWN", "the agent is shutting down")                      \
    XX(ECONFIG, -1016, "CONFIG_INVALID", "invalid configuration")                                  \
    XX(ETOOBIG, -1017, "MESSAGE_TOO_BIG", "message exceeds the size limit")                        \
    XX(ENOTREADY, -1018, "NOT_READY", "the agent has not loaded the cluster configuration")        \
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
PORTCO_NODISCARD PORTCO_API int portco_err_from_name(const char *name, int *code);

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
 * client. Use one client per thread for independent waits. portco_close() is
 * the exception: see there.
 *
 * Blocking: every call that asks the agent something (acquire, release,
 * list, status) blocks the calling thread until the answer comes or the
 * client's timeout passes (portco_connect_opts.timeout_ms,
 * portco_set_timeout(); PORTCO_DEFAULT_TIMEOUT_MS unless set). The timeout
 * counts from when the call has the client to itself. An acquire with
 * wait_ms > 0 may take wait_ms longer; with wait_ms -1 it has no bound. A
 * call that times out returns -ETIMEDOUT and closes the connection (the
 * stream is out of step with its answers); later calls return
 * PORTCO_ENOAGENT. The agent may still act on a request it had read: an
 * explicit or pid-bound claim granted after the timeout stays held (find it
 * with portco_list()); a connection-bound one ends with the connection.
 *
 * The request codes: besides its own, every call that asks the agent may
 * return PORTCO_EBADREQ (a NULL client, or an argument refused before
 * sending), PORTCO_ENOAGENT (the connection is lost, or was closed after an
 * earlier PORTCO_EPROTO, PORTCO_EVERSION, -ETIMEDOUT or -errno),
 * PORTCO_EPROTO (a malformed or oversize answer; the connection is closed),
 * PORTCO_EVERSION (the agent speaks another protocol version; closed),
 * PORTCO_ESHUTDOWN (the agent is stopping), PORTCO_EINTERNAL (the agent
 * failed internally), PORTCO_ETOOBIG (a request over the message limit),
 * -ETIMEDOUT (no answer within the timeout; closed), -ENOMEM, or another
 * -errno of sending or receiving (closed).
 */
typedef struct portco_client portco_client;

/* Bound of a connect and of each call, in milliseconds, unless set otherwise. */
#define PORTCO_DEFAULT_TIMEOUT_MS 30000

typedef struct portco_connect_opts {
    const char *path;     /* agent socket; NULL or "": $PORTCO_SOCKET, else PORTCO_DEFAULT_SOCKET */
    int timeout_ms;       /* bound of the connect and of each call: 0 = PORTCO_DEFAULT_TIMEOUT_MS,
                             -1 = none, else milliseconds */
    uint64_t reserved[7]; /* zero */
} portco_connect_opts;

/*
 * Connect to the agent listening on the Unix socket opts->path, within
 * opts->timeout_ms (an agent that is stopped and whose listen queue is full
 * does not complete a connect). On success *out is an owned handle,
 * released with portco_close(); on failure *out is NULL. The socket is
 * close-on-exec. Connecting exchanges no message: an agent speaking another
 * protocol version is reported as PORTCO_EVERSION by the first call.
 * The process serving the socket must be root or run as the caller's
 * effective uid (SO_PEERCRED), or as the uid $PORTCO_AGENT_UID names (for an
 * agent run as a user of its own); any other socket is closed at once, since
 * another user may have taken over its path.
 * Returns 0, PORTCO_ENOAGENT (nothing listening, path missing, or served by
 * another user; the message names the path and the uid), -ETIMEDOUT (the agent did not take the
 * connection in time), -ENAMETOOLONG (path too long for a Unix socket), PORTCO_EBADREQ (out or opts
 * NULL, timeout_ms < -1, reserved words not zero), -ENOMEM, or another -errno of socket()/connect()
 * such as -EACCES.
 */
PORTCO_NODISCARD PORTCO_API int portco_connect_with(const portco_connect_opts *opts,
                                                    portco_client **out, portco_status *st);

/* portco_connect_with() with `path` and the default timeout. */
PORTCO_NODISCARD PORTCO_API int portco_connect(const char *path, portco_client **out,
                                               portco_status *st);

/*
 * Set the bound of each later call on `c` (as portco_connect_opts.timeout_ms:
 * 0 = PORTCO_DEFAULT_TIMEOUT_MS, -1 = none). A call already running keeps
 * its own. Returns 0, or PORTCO_EBADREQ (c NULL, timeout_ms < -1).
 */
PORTCO_NODISCARD PORTCO_API int portco_set_timeout(portco_client *c, int timeout_ms);

/*
 * Close the connection and free `c`. Claims whose lifetime is the connection
 * are released by the agent. Accepts NULL. Not thread-safe, unlike the other
 * calls: it must not run while another thread is in any call on `c`, nor
 * from a callback of `c`; `c` is invalid once it returns.
 */
PORTCO_API void portco_close(portco_client *c);

/*
 * File descriptor of the connection, for applications that poll for events:
 * when it is readable, call portco_poll(). Do not read, write or close it.
 * Returns PORTCO_EBADREQ for NULL (negative, and no -errno value).
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
    uint64_t reserved[8];     /* zero */
} portco_acquire_opts;

/*
 * A granted claim. Strings are NUL-terminated copies owned by the struct;
 * the struct may be copied freely (fd excepted: one owner closes it).
 */
typedef struct portco_claim {
    char pool[64];
    uint16_t port;
    char proto[8];    /* "tcp", "udp" or "both" */
    char address[64]; /* address the service should bind */
    char host[128];   /* host id of the agent that holds the claim */
    char service[128];
    char instance[128];
    char claim[160];      /* claim node name in ZooKeeper */
    int64_t czxid;        /* fencing token: creation zxid of the claim node */
    pid_t pid;            /* claimant pid as the agent saw it */
    int64_t since_ms;     /* claim time, ms since the epoch */
    int fd;               /* bound socket with PORTCO_ACQ_SOCKET, else -1; owned by the caller;
                             close-on-exec and in blocking mode, like a fresh socket */
    uint64_t reserved[8]; /* zeroed by the library */
} portco_claim;

/*
 * Ask the agent for a port. `opts` is borrowed for the call. On success
 * fills *out and returns 0: *out owns out->fd (close it) and the claim is
 * held as opts->lifetime says. On failure *out is zeroed with fd -1 (nothing
 * to release or close). The options are checked before anything is sent:
 * wait_ms needs port; hold_pid is set exactly with PORTCO_LIFETIME_PID;
 * PORTCO_ACQ_LISTEN and PORTCO_ACQ_V6ONLY need PORTCO_ACQ_SOCKET; pool is
 * at most 63 bytes, service and instance at most 127; reserved is zero.
 * Blocks up to the client's timeout, plus wait_ms when waiting (see
 * portco_client).
 * Returns 0, PORTCO_EBADREQ (missing pool or service, bad options),
 * PORTCO_ENOPOOL, PORTCO_EEXHAUSTED, PORTCO_ETAKEN (port given, wait_ms 0),
 * PORTCO_EWAITTIMEOUT, PORTCO_EUNUSABLE (port given and the local probe
 * refused it; st->message has the reason), PORTCO_ESTATIC,
 * PORTCO_EOUTOFPOOL, PORTCO_EZKUNAVAIL, PORTCO_ENOTREADY (the agent has not
 * read the pools yet), or one of the request codes (see portco_client).
 */
PORTCO_NODISCARD PORTCO_API int portco_acquire(portco_client *c, const portco_acquire_opts *opts,
                                               portco_claim *out, portco_status *st);

/*
 * Release the claim on `port` of `pool` that the local agent holds. Who may
 * release it, whatever the client: a PORTCO_LIFETIME_CONNECTION claim only
 * its own connection (closing it releases it too); a PORTCO_LIFETIME_PID or
 * PORTCO_LIFETIME_EXPLICIT claim any connection of the same user (uid) as
 * the one that acquired it, or of root. The agent learns the uid from the
 * socket, not from the request. A claim held by another host's agent is
 * released only through that agent.
 * Returns 0, PORTCO_EBADREQ (pool missing or too long, port 0),
 * PORTCO_ENOTOWNER (no such claim here, another connection's, or another
 * user's; st->message says which), PORTCO_ENOPOOL, PORTCO_EZKUNAVAIL, or one
 * of the request codes (see portco_client).
 */
PORTCO_NODISCARD PORTCO_API int portco_release(portco_client *c, const char *pool, uint16_t port,
                                               portco_status *st);

/*
 * Release exactly `claim` (as portco_acquire() or portco_list() filled it):
 * when that claim has ended already and another now holds its port (a
 * waiter granted after the agent ended it), nothing is released and
 * PORTCO_ENOTOWNER is returned. Otherwise as portco_release(), with the same
 * rule on who may release.
 */
PORTCO_NODISCARD PORTCO_API int portco_release_claim(portco_client *c, const portco_claim *claim,
                                                     portco_status *st);

/*
 * List the owning claims of the whole cluster, of one pool when `pool` is not
 * NULL, ordered by pool, port, host and claim name. On success *out is an
 * owned array of *n claims (fd is -1), freed with portco_list_free(); NULL
 * when *n is 0. On failure *out is NULL and *n 0. Any number of claims: the
 * list is asked for in pages of up to 1000 claims (docs/protocol.md), each
 * its own request, so the client's timeout bounds each page, not the whole
 * list, and the list is not one snapshot: a claim made or released while it
 * is read may be missing or present, but no claim held throughout is missed
 * or listed twice.
 * Returns 0, PORTCO_EBADREQ (pool too long), PORTCO_ENOPOOL,
 * PORTCO_EZKUNAVAIL, PORTCO_ENOTREADY (the agent has not read the pools
 * yet), or one of the request codes (see portco_client).
 */
PORTCO_NODISCARD PORTCO_API int portco_list(portco_client *c, const char *pool, portco_claim **out,
                                            size_t *n, portco_status *st);

/* Free an array portco_list() returned. Accepts NULL. */
PORTCO_API void portco_list_free(portco_claim *list);

/*
 * The agent's status: on success *json is an owned, NUL-terminated JSON
 * object, freed with portco_agent_status_free(), with the fields of the
 * status answer in docs/protocol.md ("host", "version", "zookeeper",
 * "ready", "pools", "claims", "holding", "session", "counters", and any the
 * agent adds later); on failure *json is NULL. Returns 0, or one of the
 * request codes (see portco_client).
 */
PORTCO_NODISCARD PORTCO_API int portco_agent_status(portco_client *c, char **json,
                                                    portco_status *st);

/* Free the text portco_agent_status() returned. Accepts NULL. */
PORTCO_API void portco_agent_status_free(char *json);

/* Events the agent sends on its own: a claim was lost or re-asserted. */
typedef enum portco_event_type {
    PORTCO_EVENT_CONFLICT = 1,  /* another owner holds the port now; the claim is gone */
    PORTCO_EVENT_REASSERTED = 2 /* the claim was re-created after a session loss */
} portco_event_type;

typedef struct portco_event {
    portco_event_type type;
    portco_claim claim;   /* the claim concerned (fd -1) */
    char message[512];    /* what happened; NUL-terminated */
    uint64_t reserved[8]; /* zeroed by the library */
} portco_event;

typedef void (*portco_event_cb)(portco_client *c, const portco_event *ev, void *userdata);

/*
 * Set the callback that receives events; it runs in the thread that called
 * into the library when the event arrived (any call, or portco_poll()),
 * after that call has read its answer and released the client's lock, just
 * before the call returns. It may therefore call the library, on this client
 * too (portco_close() excepted). `ev` and everything in it are valid only
 * during the callback: copy what is kept. Events arriving while no callback
 * is set are dropped.
 */
PORTCO_API void portco_set_event_cb(portco_client *c, portco_event_cb cb, void *userdata);

/*
 * Read and dispatch events already waiting on the connection without
 * blocking. Returns the number dispatched (>= 0), or PORTCO_ENOAGENT (the
 * agent closed the connection), PORTCO_EPROTO, PORTCO_EVERSION, -errno of
 * the read, PORTCO_EBADREQ (c is NULL).
 */
PORTCO_NODISCARD PORTCO_API int portco_poll(portco_client *c);

/* Levels passed to the log callback. */
typedef enum portco_log_level {
    PORTCO_LOG_DEBUG = 0,
    PORTCO_LOG_INFO = 1,
    PORTCO_LOG_WARN = 2,
    PORTCO_LOG_ERROR = 3
} portco_log_level;

typedef void (*portco_log_cb)(portco_log_level level, const char *message, void *userdata);

/*
 * Route the library's diagnostics to `cb`; the library never prints. The
 * callback runs with the client's lock held: it must not call the library
 * on the same client. `message` is valid only during the callback.
 */
PORTCO_API void portco_set_log_cb(portco_client *c, portco_log_cb cb, void *userdata);

#ifdef __cplusplus
}
#endif
#endif /* PORTCO_H */
