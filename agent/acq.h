/* acq.h - operations of the claim engine in flight: acquire, re-assert, delete. */
#ifndef PC_ACQ_H
#define PC_ACQ_H

#include "agent.h"
#include "conn.h"
#include "pools.h"

typedef enum pc_acq_kind {
    PC_ACQ_ACQUIRE = 0,  /* a client's acquire */
    PC_ACQ_REASSERT = 1, /* re-create a held claim's node after a session expiry */
    PC_ACQ_DELETE = 2,   /* delete a claim node, then its port node */
} pc_acq_kind;

typedef enum pc_acq_state {
    PC_ST_IDLE = 0, /* between steps, nothing outstanding */
    PC_ST_BUSY,     /* a ZooKeeper request is outstanding */
    PC_ST_WAIT,     /* watching the predecessor */
    PC_ST_RECOVER,  /* connection lost: list the port's children when connected */
    PC_ST_REDELETE, /* connection lost during a delete: delete again when connected */
    PC_ST_QUEUED,   /* waiting for its turn to probe (probeq.c) */
} pc_acq_state;

struct pc_acq {
    pc_agent *agent;
    uint64_t id;
    pc_acq_kind kind;
    pc_acq_state state;
    pc_conn *conn; /* who to answer; NULL once detached */
    pc_creq *creq;
    pc_acquire_req req;
    pid_t peer_pid;
    uid_t peer_uid;
    pc_apool *pool;
    pc_zk_req zreq; /* the ZooKeeper request in flight (at most one), counted in the agent */
    pc_scan scan;
    bool specific;
    uint16_t static_first;
    uint16_t port; /* current candidate, 0 when none */
    pc_holdset holds;
    char port_dir[PC_ZKP_PATH_MAX];
    char uuid[PC_ZKP_UUID_LEN + 1];
    char node[PC_ZKP_PATH_MAX]; /* our claim node, "" when none */
    int64_t seq;
    int64_t czxid;
    int64_t since_ms;
    int pidfd;
    struct event *timer;     /* wait_ms deadline */
    bool cancelled;          /* nobody to grant to any more: withdraw */
    int mkdirs;              /* port-node creations for this candidate (another agent's release may
                                delete an empty port node between our mkdirs and our create) */
    bool multi_tried;        /* the port node and claim were tried in one transaction */
    bool sole;               /* that transaction created the port node: ours is its only claim */
    zoo_op_result_t mres[3]; /* results of the multi-op in flight */
    struct Stat mstat;       /* the port node's stat after that multi-op */
    char mpath[PC_ZKP_PATH_MAX]; /* path of the claim node that multi-op created */
    pc_hold *hold;               /* PC_ACQ_REASSERT */
    int step;                    /* what to run when its turn comes (PC_ST_QUEUED, pc_acq_step) */
    TAILQ_ENTRY(pc_acq) ready_link;
    TAILQ_ENTRY(pc_acq) link;
};

/* The operation with this id, or NULL when it is gone. */
pc_acq *pc_acq_find(pc_agent *a, uint64_t id);

/* A new operation, linked into a->acqs. NULL on ENOMEM. */
pc_acq *pc_acq_new(pc_agent *a, pc_acq_kind kind);

/* Unlink and free (unmarks its port; closes its holds and pidfd). */
void pc_acq_free(pc_acq *q);

/* Is the port taken by a claim or an operation of this agent other than q? */
bool pc_port_busy_locally(pc_agent *a, pc_apool *p, uint16_t port, const pc_acq *q);

/* Drop q's in-flight mark on its candidate port. */
void pc_acq_unmark(pc_acq *q);

/* Answer the client when still attached (ans and fd consumed) and detach. */
void pc_acq_answer(pc_acq *q, json_t *ans, int fd);

/* Answer an error, withdraw q's node, free q (or let its completion do it). */
void pc_acq_fail(pc_acq *q, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Give q up: its node (if any) goes to a delete operation; q is freed unless
 * a completion is outstanding (it then sees `cancelled`). */
void pc_acq_withdraw(pc_acq *q);

/* After issuing a ZooKeeper request for q (with q as its completion's
 * data): when `sent` (it was queued, and its completion will run), count it
 * in a->zk_reqs through q->zreq. Returns `sent`. */
bool pc_acq_zk_sent(pc_acq *q, bool sent);

/* The completion of q's ZooKeeper request has run: take back q->zreq (the
 * request is no longer pending in a->zk_reqs). Does nothing when no request
 * of q is pending. */
void pc_acq_zk_back(pc_acq *q);

/* The start of every completion of q's ZooKeeper request: pc_acq_zk_back(),
 * and q is between steps (PC_ST_IDLE). */
void pc_acq_zk_done(pc_acq *q);

/* When q was cancelled (nobody to grant to any more), withdraw it and
 * return true: q may be freed, the caller must return at once. */
bool pc_acq_withdrawn(pc_acq *q);

/* pc_acq_zk_done(), then !pc_acq_withdrawn(q): false when q was cancelled
 * meanwhile (q may be freed: the completion must return at once). */
bool pc_acq_zk_resume(pc_acq *q);

/* ZCONNECTIONLOSS / ZOPERATIONTIMEOUT: the outcome is unknown, retry later. */
bool pc_acq_zk_lost(int rc);

/* The claim node's JSON (malloc'd, *len bytes) for q, or for held claim h. */
char *pc_claim_data(const pc_acq *q, pc_apool *p, const pc_hold *h, int *len);

/* Set the in-flight bits of a pool from the claims and operations on it
 * (after its definition was (re)installed). */
void pc_acq_mark_inflight(pc_agent *a, pc_apool *p);

/* Build the claim object of an answer or event for a held claim (new reference). */
json_t *pc_hold_to_json(const pc_hold *h);

#endif
