/* agent.h - the portco-agent's shared state: the agent, its pools, claims and connections. */
#ifndef PC_AGENT_H
#define PC_AGENT_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "agent_config.h"
#include "cluster_file.h"
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

/* Bound sockets that keep a port on this host while it is claimed. */
#define PC_HOLD_MAX_FDS 4
typedef struct pc_holdset {
    int fd[PC_HOLD_MAX_FDS];
    int n;
    int primary; /* index of the socket to hand over with "socket": true, -1 if none */
} pc_holdset;

/*
 * The agent's counters, in one list: XX(field, metric, help). `field` is the
 * member of pc_counters and the key in the "counters" object of `status`
 * (listing.c); `metric` is the Prometheus counter of /metrics (http.c), with
 * `help` as its HELP line. Adding a counter here adds it everywhere.
 */
#define PC_AGENT_COUNTERS(XX)                                                                      \
    XX(grants, "portco_agent_grants_total", "Claims granted.")                                     \
    XX(releases, "portco_agent_releases_total", "Claims released.")                                \
    XX(creates, "portco_agent_creates_total", "Claim nodes created in ZooKeeper.")                 \
    XX(lost_races, "portco_agent_lost_races_total",                                                \
       "Claim nodes created while another claim owned the port.")                                  \
    XX(probe_refused, "portco_agent_probe_refused_total",                                          \
       "Candidate ports the local probe refused.")                                                 \
    XX(watch_wakeups, "portco_agent_watch_wakeups_total",                                          \
       "Predecessor watches that fired for waiting requests.")                                     \
    XX(reasserted, "portco_agent_reasserted_total",                                                \
       "Claims re-created after a ZooKeeper session loss.")                                        \
    XX(conflicts, "portco_agent_conflicts_total",                                                  \
       "Claims lost to another owner while re-asserting after a session loss.")                    \
    XX(lost_answers, "portco_agent_lost_answers_total",                                            \
       "Claim creates whose answer a ZooKeeper connection loss took.")                             \
    XX(found_by_uuid, "portco_agent_found_by_uuid_total",                                          \
       "Claim nodes of lost answers found afterwards by their uuid.")                              \
    XX(batches, "portco_agent_zk_batches_total",                                                   \
       "Multi-ops that carried several claims or releases in one transaction.")                    \
    XX(batched, "portco_agent_zk_batched_total", "Claims and releases sent in those multi-ops.")   \
    XX(batch_splits, "portco_agent_zk_batch_splits_total",                                         \
       "Of those multi-ops, the ones refused for one member's operation.")

/* Counters shown by `status` and /metrics (PC_AGENT_COUNTERS). */
typedef struct pc_counters {
#define PC_COUNTER_FIELD(field, metric, help) uint64_t field;
    PC_AGENT_COUNTERS(PC_COUNTER_FIELD)
#undef PC_COUNTER_FIELD
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
    pc_agent_config opts; /* the file, then the environment and the flags over it (owned) */
    int log_level;
    pc_zk *zk;
    bool zk_ever_connected;
    bool session_renewed; /* the session expired: the next one starts from scratch */
    int listen_fd;
    struct event *listen_ev;
    struct event *sigterm_ev, *sigint_ev;
    struct event *listen_poll_ev; /* timer: is a claimant listening yet? */
    struct event *disconnect_ev;  /* timer: answer acquires stuck on a lost connection */
    struct event *stop_ev;        /* timer: polls the deletes of a shutdown */
    int64_t stop_deadline_ms;     /* pc_mono_ms() at which a shutdown stops waiting for them */
    bool stopping;
    struct pc_conn_list conns;
    pc_conn *conn_running; /* the connection whose pc_conn_run() is innermost, NULL when none */
    bool conn_again;       /* that run has more to do: loop once more (conn.c) */
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
    pc_zk_reqs zk_reqs; /* ZooKeeper requests of this agent not yet completed */
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
    pc_agent_http *http;       /* HTTP endpoints, NULL when off */
    struct pc_listop *listops; /* `list` gathers in flight (listing.c) */
};

/* Milliseconds since the epoch (wall clock). */
int64_t pc_now_ms(void);

/* Claims whose port the agent still holds with bound sockets. */
size_t pc_agent_holding(const pc_agent *a);

/* Milliseconds of CLOCK_MONOTONIC: for deadlines and budgets. */
int64_t pc_mono_ms(void);

/* The agent whose ZooKeeper connection `zh` is: watchers find it this way
 * (their context is the operation's id only, so that it can outlive it). */
pc_agent *pc_agent_of(zhandle_t *zh);

/*
 * Make an event on `base` (fd, what, cb and arg as for event_new) and add it
 * with no timeout. Returns the event, or NULL when it cannot be made or added
 * (then nothing is left behind).
 */
struct event *pc_event_start(struct event_base *base, evutil_socket_t fd, short what,
                             event_callback_fn cb, void *arg);

/* Free the event *ev, when there is one, and set *ev to NULL. */
void pc_event_clear(struct event **ev);

/*
 * TAILQ_FOREACH for a loop that may remove or free `var`: `tvar` holds the
 * next element beforehand (BSD's TAILQ_FOREACH_SAFE, which glibc's
 * <sys/queue.h> lacks).
 */
#define PC_TAILQ_FOREACH_SAFE(var, head, field, tvar)                                              \
    for ((var) = TAILQ_FIRST(head); (var) && ((tvar) = TAILQ_NEXT(var, field), 1); (var) = (tvar))

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
