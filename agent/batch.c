/*
 * batch.c - the claim and release multi-ops of one loop turn, sent as one.
 *
 * The claim protocol's fast paths are small multi-ops: create a port node and
 * its claim, or delete both. With many requests in flight the server's cost
 * is per transaction (one proposal, one log write), not per operation, so the
 * multi-ops started in one turn of the loop go out together, as one
 * transaction. They stand or fall together: when one member's operation fails
 * (a port node that another agent created first, say), that member takes its
 * own failure path and the others go out again in the next combined multi-op.
 */
#include "batch.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "batch_split.h"
#include "log.h"
#include "zkloop.h"

/* A caller's multi-op in a combined one; its operations are in pc_multi.spans. */
typedef struct pc_batch_item {
    zoo_op_result_t *results; /* the caller's */
    void_completion_t done;
    const void *data;
} pc_batch_item;

/* One combined multi-op: collected, then sent, then answered. */
typedef struct pc_multi {
    struct pc_multi *next; /* in pc_batch.failed */
    pc_agent *agent;
    int rc; /* when zoo_amulti() itself refused it */
    int nops, nitems;
    zoo_op_t ops[PC_BATCH_MAX_OPS];
    zoo_op_result_t results[PC_BATCH_MAX_OPS];
    pc_batch_item items[PC_BATCH_MAX_OPS];
    pc_batch_span spans[PC_BATCH_MAX_OPS]; /* items[i]'s operations */
    char *copies[PC_BATCH_MAX_OPS * 2];    /* the ops' paths and data */
    int ncopies;
} pc_multi;

struct pc_batch {
    pc_multi *open;      /* collecting this turn's multi-ops */
    pc_multi *failed;    /* refused by zoo_amulti() outside the loop's own turn */
    struct event *flush; /* timer: the end of the turn */
};

static void pc_multi_free(pc_multi *m)
{
    for (int i = 0; i < m->ncopies; i++)
        free(m->copies[i]);
    free(m);
}

/* Give item i its operations' results, where zoo_amulti() would have put them. */
static void pc_item_results(const pc_multi *m, int i)
{
    const pc_batch_span *sp = &m->spans[i];
    memcpy(m->items[i].results, &m->results[sp->first],
           (size_t)sp->count * sizeof(zoo_op_result_t));
}

static void pc_multi_answer(pc_multi *m, int rc)
{
    for (int i = 0; i < m->nitems; i++) {
        pc_item_results(m, i);
        m->items[i].done(rc, m->items[i].data);
    }
    pc_multi_free(m);
}

/*
 * The combined multi-op's answer. A refusal that one item's operation caused
 * goes to that item; the others go out again in the next combined multi-op
 * (pc_batch_split decides which), so one caller's conflict does not send the
 * rest down their slow paths. Each round answers at least one item, so this
 * ends. Once the batcher is freed nothing goes again.
 */
static void pc_multi_done(int rc, const void *data)
{
    pc_multi *m = (pc_multi *)data;
    pc_agent *a = m->agent;
    pc_batch_verdict verdict[PC_BATCH_MAX_OPS];
    if (!a->batch || pc_batch_split(rc, m->results, m->spans, m->nitems, verdict) == 0) {
        pc_multi_answer(m, rc);
        return;
    }
    a->counters.batch_splits++;
    for (int i = 0; i < m->nitems; i++) {
        pc_batch_item *it = &m->items[i];
        const pc_batch_span *sp = &m->spans[i];
        pc_item_results(m, i);
        if (verdict[i] == PC_BATCH_FAILED || pc_batch_multi(a, sp->count, &m->ops[sp->first],
                                                            it->results, it->done, it->data) != ZOK)
            it->done(rc, it->data);
    }
    pc_multi_free(m);
}

/* Answer the multi-ops zoo_amulti() refused; with `rc`, when not ZOK. */
static void pc_batch_run_failed(pc_batch *b, int rc)
{
    pc_multi *m;
    while ((m = b->failed)) {
        b->failed = m->next;
        pc_multi_answer(m, rc != ZOK ? rc : m->rc);
    }
}

/*
 * Send the open multi-op. `in_turn`: no caller is in the middle of issuing
 * an operation, so a refusal may be answered right away; otherwise it is
 * answered from the flush timer.
 */
static void pc_batch_send(pc_agent *a, bool in_turn)
{
    pc_batch *b = a->batch;
    pc_multi *m = b ? b->open : NULL;
    if (!m)
        return;
    b->open = NULL;
    int rc;
    if (m->nitems == 1) {
        /* Alone: exactly the caller's own request. */
        pc_batch_item *it = &m->items[0];
        rc = zoo_amulti(pc_zk_handle(a->zk), m->nops, m->ops, it->results, it->done, it->data);
        if (rc == ZOK) {
            pc_multi_free(m);
            return;
        }
        memcpy(m->results, it->results, (size_t)m->spans[0].count * sizeof(zoo_op_result_t));
    } else {
        a->counters.batches++;
        a->counters.batched += (uint64_t)m->nitems;
        rc = zoo_amulti(pc_zk_handle(a->zk), m->nops, m->ops, m->results, pc_multi_done, m);
        if (rc == ZOK)
            return;
    }
    pc_debug("a multi-op of %d operations was not sent: %s", m->nops, zerror(rc));
    if (in_turn) {
        pc_multi_answer(m, rc);
        return;
    }
    m->rc = rc;
    m->next = b->failed;
    b->failed = m;
    struct timeval tv = {0, 0};
    evtimer_add(b->flush, &tv);
}

static void pc_batch_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pc_agent *a = arg;
    pc_batch_run_failed(a->batch, ZOK);
    pc_batch_flush(a);
}

void pc_batch_flush(pc_agent *a)
{
    if (!a->batch || !a->batch->open)
        return;
    pc_batch_send(a, true);
    pc_zk_kick(a->zk);
}

static char *pc_batch_copy(pc_multi *m, const char *s, int len)
{
    if (!s)
        return NULL;
    size_t n = len >= 0 ? (size_t)len : strlen(s) + 1;
    char *c = malloc(n ? n : 1);
    if (!c)
        return NULL;
    memcpy(c, s, n);
    m->copies[m->ncopies++] = c;
    return c;
}

/*
 * Give one operation of m its own copy of its path and, when data is given,
 * of its data (datalen < 0: no data field). Returns 0, or -1 when out of
 * memory.
 */
static int pc_batch_own(pc_multi *m, const char **path, const char **data, int datalen)
{
    if (!(*path = pc_batch_copy(m, *path, -1)))
        return -1;
    if (data && *data && datalen <= 0)
        *data = ""; /* nothing is read from it */
    else if (data && *data && !(*data = pc_batch_copy(m, *data, datalen)))
        return -1;
    return 0;
}

/*
 * Append op to m with its own path and data. Returns 0, or -1 for an unknown
 * type or when out of memory; the caller then takes back the ops and copies
 * of m it added.
 */
static int pc_batch_add_op(pc_multi *m, const zoo_op_t *op)
{
    zoo_op_t *o = &m->ops[m->nops++];
    *o = *op;
    switch (op->type) {
    case ZOO_CREATE_OP:
        return pc_batch_own(m, &o->create_op.path, &o->create_op.data, op->create_op.datalen);
    case ZOO_DELETE_OP:
        return pc_batch_own(m, &o->delete_op.path, NULL, -1);
    case ZOO_SETDATA_OP:
        return pc_batch_own(m, &o->set_op.path, &o->set_op.data, op->set_op.datalen);
    case ZOO_CHECK_OP:
        return pc_batch_own(m, &o->check_op.path, NULL, -1);
    default:
        return -1;
    }
}

int pc_batch_multi(pc_agent *a, int count, const zoo_op_t *ops, zoo_op_result_t *results,
                   void_completion_t done, const void *data)
{
    if (count <= 0 || count > PC_BATCH_MAX_OPS)
        return ZBADARGUMENTS;
    if (!a->batch) {
        a->batch = calloc(1, sizeof(*a->batch));
        if (!a->batch)
            return ZSYSTEMERROR;
        a->batch->flush = evtimer_new(a->base, pc_batch_flush_cb, a);
        if (!a->batch->flush) {
            free(a->batch);
            a->batch = NULL;
            return ZSYSTEMERROR;
        }
    }
    pc_batch *b = a->batch;
    if (b->open && b->open->nops + count > PC_BATCH_MAX_OPS)
        pc_batch_send(a, false);
    if (!b->open) {
        b->open = calloc(1, sizeof(*b->open));
        if (!b->open)
            return ZSYSTEMERROR;
        b->open->agent = a;
    }
    pc_multi *m = b->open;
    int nops = m->nops, ncopies = m->ncopies;
    for (int i = 0; i < count; i++) {
        if (pc_batch_add_op(m, &ops[i]) < 0) {
            /* Take back what was added of this call. */
            while (m->ncopies > ncopies)
                free(m->copies[--m->ncopies]);
            m->nops = nops;
            return ZSYSTEMERROR;
        }
    }
    m->spans[m->nitems] = (pc_batch_span){nops, count};
    m->items[m->nitems++] = (pc_batch_item){results, done, data};
    if (!evtimer_pending(b->flush, NULL)) {
        struct timeval tv = {0, 0};
        evtimer_add(b->flush, &tv);
    }
    return ZOK;
}

void pc_batch_free(pc_agent *a)
{
    pc_batch *b = a->batch;
    if (!b)
        return;
    /* Nothing can be sent any more: answer as a closing session does. */
    pc_batch_run_failed(b, ZCLOSING);
    pc_multi *m = b->open;
    b->open = NULL;
    if (m)
        pc_multi_answer(m, ZCLOSING);
    event_free(b->flush);
    free(b);
    a->batch = NULL;
}
