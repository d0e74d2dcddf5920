/* agent.h - the portco-agent's shared state: the agent, its pools, claims and connections. */
#ifndef PC_AGENT_H
#define PC_AGENT_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"
#include "frame.h"
#include "kports.h"
#include "message.h"
#include "zkloop.h"
#include "zkpath.h"

typedef struct pc_agent pc_agent;
typedef struct pc_conn pc_conn;
typedef struct pc_apool pc_apool;
typedef struct pc_hold pc_hold;
typedef struct pc_acq pc_acq;
typedef struct pc_agent_http pc_agent_http;
typedef struct pc_batch pc_batch;

/* The agent's settings after the file and the command line are merged. */
typedef struct pc_agent_opts {
    char *zk;         /* owned */
    char *host_id;    /* owned */
    char *socket;     /* owned */
    char *root;       /* owned */
    char *state_file; /* owned: claims and session across restarts, "" for none */
    int session_timeout_ms;
    int log_level;
    pc_timewait_policy timewait;
    pc_ephemeral_policy ephemeral;
    char **probe_addrs; /* owned: more addresses the probe bind-tests */
    size_t nprobe_addrs;
    char *metrics_listen; /* owned: "IP:PORT" of the HTTP endpoints, "" for none */
    char *tls_cert;       /* owned: PEM certificate for HTTPS, "" for plain HTTP */
    char *tls_key;        /* owned: its PEM key */
    char *tls_client_ca;  /* owned: CA of accepted client certificates, "" for none */
} pc_agent_opts;

/* Bound sockets that keep a port on this host while it is claimed. */
#define PC_HOLD_MAX_FDS 4
typedef struct pc_holdset {
    int fd[PC_HOLD_MAX_FDS];
    int n;
    int primary; /* index of the socket to hand over with "socket": true, -1 if none */
} pc_holdset;

/* Counters shown by `status`. */
typedef struct pc_counters {
    uint64_t grants;
    uint64_t releases;
    uint64_t watch_wakeups; /* predecessor watches that fired for waiting requests */
    uint64_t creates;       /* claim nodes created */
    uint64_t lost_races;    /* created a claim node but another owned the port */
    uint64_t probe_refused; /* candidates the local probe refused */
    uint64_t reasserted;
    uint64_t conflicts;
    uint64_t lost_answers;  /* claim creates whose answer a connection loss took */
    uint64_t found_by_uuid; /* of those, nodes found afterwards by their uuid */
    uint64_t batches;       /* multi-ops that carried several claims or releases */
    uint64_t batched;       /* claims and releases sent in them */
    uint64_t batch_splits;  /* of those, refused for one member's operation */
} pc_counters;

/*
 * The agent's view of one pool: the published definition, the static
 * assignments, and a cache of the ports that have a port node in ZooKeeper
 * (kept fresh by a child watch on the pool's ports directory).
 *
 * Ports are addressed by their index in def.ports (pc_rangeset_index), so the
 * bitmaps have one bit per claimable port.
 */
struct pc_apool {
    char name[PC_POOL_NAME_MAX + 1];
    bool defined;       /* a definition is published (false after it is removed) */
    bool loaded;        /* the definition has been read at least once */
    pc_pool def;        /* owned */
    size_t nports;      /* pc_rangeset_count(&def.ports) */
    uint64_t *claimed;  /* port node present in ZooKeeper (cache) */
    uint64_t *inflight; /* a claim attempt of this agent is on the port */
    size_t cursor;      /* next index to consider: rotates; starts at a hash of host and pool */
    /* Static assignments: sorted by port. */
    pc_static *statics;
    size_t nstatics;
    char ports_dir[PC_ZKP_PATH_MAX];
    bool watching_ports;
    struct event *relist_ev; /* timer: coalesces the re-lists of the ports directory */
    size_t listed;           /* port nodes in the last listing */
    bool watching_statics;
    bool reread; /* reading the definition failed: read it again (pc_pools_refollow) */
    pc_agent *agent;
    TAILQ_ENTRY(pc_apool) link;
};
TAILQ_HEAD(pc_apool_list, pc_apool);

/* A granted claim this agent holds. */
struct pc_hold {
    pc_agent *agent;
    pc_apool *pool;
    uint16_t port;
    char path[PC_ZKP_PATH_MAX]; /* full path of the claim node */
    char name[160];             /* claim node name */
    char uuid[PC_ZKP_UUID_LEN + 1];
    int64_t czxid;
    int64_t since_ms;
    char service[PC_SERVICE_MAX];
    char instance[PC_INSTANCE_MAX];
    pid_t pid; /* claimant (SO_PEERCRED) */
    uid_t uid;
    portco_lifetime lifetime;
    pid_t hold_pid;
    int pidfd;
    struct event *pid_ev;
    pc_conn *conn; /* the owning connection for lifetime "connection" */
    pc_holdset holds;
    bool reasserting;
    TAILQ_ENTRY(pc_hold) link;
};
TAILQ_HEAD(pc_hold_list, pc_hold);

TAILQ_HEAD(pc_conn_list, pc_conn);
TAILQ_HEAD(pc_acq_list, pc_acq);

struct pc_agent {
    struct event_base *base;
    pc_agent_opts opts;
    pc_zk *zk;
    bool zk_ever_connected;
    bool session_renewed; /* the session expired: the next one starts from scratch */
    int listen_fd;
    struct event *listen_ev;
    struct event *sigterm_ev, *sigint_ev;
    struct event *listen_poll_ev; /* timer: is a claimant listening yet? */
    struct event *disconnect_ev;  /* timer: answer acquires stuck on a lost connection */
    struct event *stop_ev;        /* timer: shutdown deadline */
    bool stopping;
    struct pc_conn_list conns;
    struct pc_apool_list pools;
    bool pools_ready;  /* <root>/config/pools has been read */
    int pools_pending; /* pool definitions being read */
    bool watching_pools;
    struct event *pools_retry_ev; /* timer: issue failed pool reads again (pools.c) */
    struct pc_hold_list holds;
    size_t nholds;
    struct pc_acq_list acqs;  /* acquire/reassert/release operations in progress */
    struct pc_acq_list ready; /* operations waiting for their turn to probe */
    struct event *ready_ev;   /* timer: runs probes a few milliseconds at a time */
    uint64_t next_op_id;
    pc_counters counters;
    int64_t started_ms;
    pc_kports kports;     /* kernel port settings, re-read at most once a second */
    int64_t kports_at_ms; /* when kports was read; 0: never */
    int presence_tries;
    int zk_pending;     /* ZooKeeper requests of this agent not yet completed */
    pc_batch *batch;    /* multi-ops collected in this loop turn (batch.c) */
    zhandle_t *zh_seen; /* handle of the last CONNECTED: watches live on a handle */
    /* The state file (state.c). */
    struct event *state_ev; /* a write is scheduled */
    bool state_disabled;
    bool state_warned;
    json_t *restore; /* claims of the file not taken back yet (owned) */
    bool restore_pending;
    clientid_t restore_cid; /* the session the file named */
    int exit_code;
    pc_agent_http *http; /* HTTP endpoints, NULL when off */
};

/* Milliseconds since the epoch (wall clock). */
int64_t pc_now_ms(void);

/* Copy src into dst[len], truncating; dst is always NUL-terminated. */
static inline void pc_strlcpy(char *dst, const char *src, size_t len)
{
    size_t n = strlen(src);
    if (n >= len)
        n = len - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Bitmap helpers for pc_apool. */
static inline bool pc_bit_get(const uint64_t *b, size_t i)
{
    return (b[i / 64] >> (i % 64)) & 1u;
}
static inline void pc_bit_set(uint64_t *b, size_t i, bool v)
{
    if (v)
        b[i / 64] |= (uint64_t)1 << (i % 64);
    else
        b[i / 64] &= ~((uint64_t)1 << (i % 64));
}

#endif
