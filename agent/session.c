/* session.c - ZooKeeper session changes: resume after a connection loss, re-assert after expiry. */
#include "session.h"

#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "log.h"
#include "release.h"
#include "state.h"

/* Tell the claimant (when connected) what became of its claim: `claim` is
 * consumed. A client that has gone is only noted; its connection closes. */
static void pc_reassert_tell(pc_conn *c, const char *type, json_t *claim, const char *msg)
{
    if (!c) {
        json_decref(claim);
        return;
    }
    int rc = pc_conn_send_event(c, pc_event_new(type, claim, msg));
    if (rc < 0)
        pc_info("connection %llu: the %s event was not delivered: %s", (unsigned long long)c->id,
                type, portco_strerror(rc));
}

void pc_session_reassert_done(pc_acq *q, bool owned)
{
    pc_agent *a = q->agent;
    pc_state_dirty(a);
    pc_hold *h = q->hold;
    if (!h) {
        pc_acq_withdraw(q);
        return;
    }
    h->reasserting = false;
    json_t *claim;
    if (owned) {
        snprintf(h->path, sizeof(h->path), "%s", q->node);
        const char *slash = strrchr(q->node, '/');
        pc_strlcpy(h->name, slash ? slash + 1 : q->node, sizeof(h->name));
        snprintf(h->uuid, sizeof(h->uuid), "%s", q->uuid);
        h->czxid = q->czxid;
        q->node[0] = '\0';
        a->counters.reasserted++;
        pc_info("re-asserted %s:%u as %s", h->pool->name, h->port, h->name);
        claim = pc_hold_to_json(h);
        q->port = 0;
        pc_acq_free(q);
        pc_reassert_tell(h->conn, "reasserted", claim, "claim re-created after a session loss");
        return;
    }
    a->counters.conflicts++;
    char msg[256];
    snprintf(msg, sizeof(msg),
             "port %u of pool %s was taken by another owner while this agent's session was lost",
             h->port, h->pool->name);
    pc_warn("conflict: %s", msg);
    claim = pc_hold_to_json(h);
    pc_conn *c = h->conn;
    q->hold = NULL;
    pc_hold_free(h);
    q->cancelled = true;
    pc_acq_withdraw(q);
    /* Told last: nothing of the claim or the operation is used after it. */
    pc_reassert_tell(c, "conflict", claim, msg);
}

void pc_session_reassert(pc_agent *a, pc_hold *h)
{
    pc_acq *q = pc_acq_new(a, PC_ACQ_REASSERT);
    if (!q)
        return;
    h->reasserting = true;
    q->hold = h;
    q->pool = h->pool;
    q->port = h->port;
    q->peer_pid = h->pid;
    q->peer_uid = h->uid;
    snprintf(q->port_dir, sizeof(q->port_dir), "%s", h->path);
    char *slash = strrchr(q->port_dir, '/');
    if (slash)
        *slash = '\0';
    pc_acq_create(q);
}

void pc_session_rewatch(pc_agent *a)
{
    pc_acq *q, *qn;
    PC_TAILQ_FOREACH_SAFE(q, &a->acqs, link, qn)
    {
        if (q->state == PC_ST_WAIT)
            pc_acq_list(q); /* lists again and watches the predecessor anew */
    }
}

static void pc_disconnect_deadline(evutil_socket_t fd, short what, void *arg)
{
    pc_agent *a = arg;
    if (pc_zk_get_state(a->zk) == PC_ZK_CONNECTED)
        return;
    pc_acq *q;
    TAILQ_FOREACH(q, &a->acqs, link)
    {
        if (q->kind != PC_ACQ_ACQUIRE || !q->creq || q->cancelled ||
            (q->state != PC_ST_BUSY && q->state != PC_ST_RECOVER))
            continue;
        /* The client is answered now; the operation stays until ZooKeeper
         * tells what became of its node, and then withdraws it. */
        pc_acq_answer(q,
                      pc_answer_error(q->creq->req.id, q->creq->req.has_id, PORTCO_EZKUNAVAIL,
                                      "the connection to ZooKeeper was lost during the claim and "
                                      "is not back; retry later"),
                      -1);
        q->cancelled = true;
    }
}

void pc_session_on_disconnected(pc_agent *a)
{
    if (!a->disconnect_ev)
        a->disconnect_ev = evtimer_new(a->base, pc_disconnect_deadline, a);
    if (!a->disconnect_ev || evtimer_pending(a->disconnect_ev, NULL))
        return;
    struct timeval tv = {PC_DISCONNECT_ANSWER_MS / 1000, (PC_DISCONNECT_ANSWER_MS % 1000) * 1000};
    evtimer_add(a->disconnect_ev, &tv);
}

void pc_session_on_connected(pc_agent *a, bool new_session)
{
    pc_acq *q, *qn;
    if (a->disconnect_ev)
        evtimer_del(a->disconnect_ev);
    PC_TAILQ_FOREACH_SAFE(q, &a->acqs, link, qn)
    {
        if (q->state == PC_ST_RECOVER) {
            pc_acq_list(q);
        } else if (q->state == PC_ST_REDELETE) {
            if (new_session) {
                /* The node went with the old session; no request of q is
                 * pending, so pc_del_node_cb() takes none back. */
                pc_del_node_cb(ZNONODE, q);
            } else
                pc_del_issue(q);
        }
    }
    if (new_session) {
        pc_hold *h;
        TAILQ_FOREACH(h, &a->holds, link)
        {
            if (h->reasserting)
                pc_session_reassert(a, h);
        }
    }
}

void pc_session_on_expired(pc_agent *a)
{
    pc_acq *q, *qn;
    PC_TAILQ_FOREACH_SAFE(q, &a->acqs, link, qn)
    {
        if (q->kind == PC_ACQ_DELETE)
            continue; /* a delete goes on; PC_ST_REDELETE is issued on the next connect */
        if (q->state == PC_ST_BUSY)
            continue;      /* its completion reports the expiry */
        q->node[0] = '\0'; /* ephemeral: gone with the session */
        if (q->kind == PC_ACQ_REASSERT) {
            q->cancelled = true;
            if (q->hold)
                q->hold->reasserting = true;
            q->hold = NULL;
            pc_acq_withdraw(q);
            continue;
        }
        pc_acq_fail(q, PORTCO_EZKUNAVAIL,
                    "the ZooKeeper session expired while claiming port %u; retry", q->port);
    }
    pc_hold *h;
    TAILQ_FOREACH(h, &a->holds, link)
    {
        h->reasserting = true;
    }
}
