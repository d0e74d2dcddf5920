/* grant.c - turning an operation that owns its port into a held claim, and answering it. */
#include "grant.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hold.h"
#include "lifetime.h"
#include "log.h"
#include "pools.h"
#include "state.h"

void pc_acq_grant(pc_acq *q)
{
    pc_agent *a = q->agent;
    if (q->cancelled || !q->conn || q->conn->closing) {
        pc_acq_withdraw(q); /* nobody to grant to: a closing connection is gone */
        return;
    }
    pc_hold *h = calloc(1, sizeof(*h));
    if (!h) {
        pc_acq_fail(q, -ENOMEM, "out of memory");
        return;
    }
    h->agent = a;
    h->pool = q->pool;
    h->port = q->port;
    snprintf(h->path, sizeof(h->path), "%s", q->node);
    const char *slash = strrchr(q->node, '/');
    pc_strlcpy(h->name, slash ? slash + 1 : q->node, sizeof(h->name));
    snprintf(h->uuid, sizeof(h->uuid), "%s", q->uuid);
    h->czxid = q->czxid;
    h->since_ms = q->since_ms;
    snprintf(h->service, sizeof(h->service), "%s", q->req.service);
    snprintf(h->instance, sizeof(h->instance), "%s", q->req.instance);
    h->pid = q->peer_pid;
    h->uid = q->peer_uid;
    h->lifetime = q->req.lifetime;
    h->hold_pid = q->req.hold_pid;
    h->pidfd = q->pidfd;
    q->pidfd = -1;
    h->conn = q->conn;
    h->holds = q->holds;
    pc_holdset_init(&q->holds);

    /* A pid claim that nothing would end is refused: nothing granted, node
     * withdrawn. */
    int wrc = h->lifetime == PORTCO_LIFETIME_PID ? pc_lifetime_watch(h) : 0;
    if (wrc < 0) {
        pc_holdset_close(&h->holds);
        pc_lifetime_unwatch(h);
        free(h);
        pc_acq_fail(q, PORTCO_EINTERNAL, "cannot watch process %d, whose exit ends the claim: %s",
                    (int)q->req.hold_pid, portco_strerror(wrc));
        return;
    }
    int fd = -1;
    pc_error err;
    if (q->req.socket) {
        fd = pc_holdset_handover(&h->holds, &err);
        if (fd < 0) {
            /* Keep the claim consistent: nothing granted, node withdrawn. */
            pc_holdset_close(&h->holds);
            pc_lifetime_unwatch(h);
            free(h);
            pc_acq_fail(q, PORTCO_EINTERNAL, "cannot hand over the socket of port %u: %s", q->port,
                        err.msg);
            return;
        }
    }
    TAILQ_INSERT_TAIL(&a->holds, h, link);
    /* A claim that outlives its connection is on disk before it is granted,
     * so a crash right after the answer cannot lose it. */
    if (h->lifetime == PORTCO_LIFETIME_CONNECTION)
        pc_state_dirty(a);
    else
        pc_state_flush(a);
    a->nholds++;
    a->counters.grants++;
    pc_pool_advance(q->pool, q->port);
    q->node[0] = '\0'; /* the node belongs to the claim now */
    pc_info("granted %s:%u to %s (pid %d) as %s", q->pool->name, h->port, h->service, (int)h->pid,
            h->name);
    json_t *ans = pc_answer_ok(q->creq->req.id);
    json_object_set_new(ans, "claim", pc_hold_to_json(h));
    if (fd >= 0)
        json_object_set_new(ans, "fd", json_true());
    /* q->port stays marked: the claim holds it now. */
    q->port = 0;
    pc_acq_answer(q, ans, fd);
    pc_acq_free(q);
    pc_hold_poll_update(a);
}
