/* zkbench.c - raw ZooKeeper figures: the floor and the ceiling portco is measured against. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "zkloop.h"

/*
 * Modes (one JSON record on stdout per run):
 *   cycle     ephemeral create then delete of the same node, `inflight` such
 *             cycles at once: the floor of a claim followed by its release.
 *   pipeline  ephemeral creates of distinct nodes, `inflight` at once: the
 *             server's write rate for one session keeping its pipe full.
 *   multi     `batch` ephemeral creates per multi-op (one transaction, one
 *             log write), `inflight` multi-ops at once.
 * Sessions: the slots are spread round-robin over `sessions` sessions.
 * Throughput counts operations completed between the end of the warm-up and
 * the end of the run; latencies are per operation, from submission to
 * completion, over the same window.
 */

enum mode { MODE_CYCLE, MODE_PIPELINE, MODE_MULTI };

#define MAX_SESSIONS 64
#define MAX_BATCH    256

typedef struct run run;

typedef struct slot {
    run *r;
    int idx;
    zhandle_t *zh;
    char path[256];
    double t_op;    /* submission time of the operation in flight */
    double t_cycle; /* submission time of the cycle's create */
    bool busy;
    /* multi-op state */
    zoo_op_t ops[MAX_BATCH];
    zoo_op_result_t res[MAX_BATCH];
    char paths[MAX_BATCH][64];
} slot;

struct run {
    enum mode mode;
    int inflight, sessions, batch, datalen;
    double warmup, duration;
    const char *root;
    char *data;
    zhandle_t *zh[MAX_SESSIONS];
    slot *slots;
    double t_measure, t_end;
    bool stopping;
    long long done;      /* operations (cycles, creates) completed in the window */
    long long errors;    /* completions with an unexpected result */
    int fatal;           /* first fatal ZooKeeper code, 0 when none */
    long long seq;       /* next node number (pipeline, multi) */
    unsigned char *made; /* pipeline/multi: which node numbers exist */
    size_t made_cap;
    pb_samples lat_create, lat_delete, lat_cycle;
};

static void slot_start(slot *s);

static bool in_window(const run *r, double t)
{
    return t >= r->t_measure && t <= r->t_end;
}

static void note_error(run *r, int rc)
{
    r->errors++;
    if ((rc == ZCONNECTIONLOSS || rc == ZSESSIONEXPIRED || rc == ZOPERATIONTIMEOUT) && !r->fatal)
        r->fatal = rc;
}

static void mark_made(run *r, long long n)
{
    if ((size_t)n >= r->made_cap) {
        size_t cap = r->made_cap ? r->made_cap : 65536;
        while (cap <= (size_t)n)
            cap *= 2;
        unsigned char *m = realloc(r->made, cap);
        if (!m) {
            r->fatal = ZSYSTEMERROR;
            return;
        }
        memset(m + r->made_cap, 0, cap - r->made_cap);
        r->made = m;
        r->made_cap = cap;
    }
    r->made[n] = 1;
}

static void cycle_deleted(int rc, const void *data)
{
    slot *s = (slot *)data;
    run *r = s->r;
    double now = pb_now();
    s->busy = false;
    if (rc != ZOK) {
        note_error(r, rc);
    } else if (in_window(r, now)) {
        r->done++;
        pb_samples_add(&r->lat_delete, (now - s->t_op) * 1000.0);
        pb_samples_add(&r->lat_cycle, (now - s->t_cycle) * 1000.0);
    }
    slot_start(s);
}

static void cycle_created(int rc, const char *value, const void *data)
{
    (void)value;
    slot *s = (slot *)data;
    run *r = s->r;
    double now = pb_now();
    if (rc != ZOK) {
        s->busy = false;
        note_error(r, rc);
        slot_start(s);
        return;
    }
    if (in_window(r, now))
        pb_samples_add(&r->lat_create, (now - s->t_op) * 1000.0);
    s->t_op = now;
    int zrc = zoo_adelete(s->zh, s->path, -1, cycle_deleted, s);
    if (zrc != ZOK) {
        s->busy = false;
        note_error(r, zrc);
    }
}

static void pipe_created(int rc, const char *value, const void *data)
{
    slot *s = (slot *)data;
    run *r = s->r;
    double now = pb_now();
    s->busy = false;
    if (rc != ZOK) {
        note_error(r, rc);
    } else {
        long long n = strtoll(strrchr(value, 'p') + 1, NULL, 10);
        mark_made(r, n);
        if (in_window(r, now)) {
            r->done++;
            pb_samples_add(&r->lat_create, (now - s->t_op) * 1000.0);
        }
    }
    slot_start(s);
}

static void multi_done(int rc, const void *data)
{
    slot *s = (slot *)data;
    run *r = s->r;
    double now = pb_now();
    s->busy = false;
    if (rc != ZOK) {
        note_error(r, rc);
    } else {
        for (int i = 0; i < r->batch; i++)
            mark_made(r, strtoll(strrchr(s->paths[i], 'm') + 1, NULL, 10));
        if (in_window(r, now)) {
            r->done += r->batch;
            pb_samples_add(&r->lat_create, (now - s->t_op) * 1000.0);
        }
    }
    slot_start(s);
}

/* Submit the slot's next operation unless the run is over. */
static void slot_start(slot *s)
{
    run *r = s->r;
    if (r->stopping || r->fatal || pb_now() > r->t_end)
        return;
    int rc;
    s->t_op = s->t_cycle = pb_now();
    switch (r->mode) {
    case MODE_CYCLE:
        rc = zoo_acreate(s->zh, s->path, r->data, r->datalen, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL,
                         cycle_created, s);
        break;
    case MODE_PIPELINE:
        snprintf(s->path, sizeof(s->path), "%s/p%lld", r->root, r->seq++);
        rc = zoo_acreate(s->zh, s->path, r->data, r->datalen, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL,
                         pipe_created, s);
        break;
    default:
        for (int i = 0; i < r->batch; i++) {
            snprintf(s->paths[i], sizeof(s->paths[i]), "%s/m%lld", r->root, r->seq++);
            zoo_create_op_init(&s->ops[i], s->paths[i], r->data, r->datalen, &ZOO_OPEN_ACL_UNSAFE,
                               ZOO_EPHEMERAL, NULL, 0);
        }
        rc = zoo_amulti(s->zh, r->batch, s->ops, s->res, multi_done, s);
        break;
    }
    if (rc != ZOK)
        note_error(r, rc);
    else
        s->busy = true;
}

static bool any_busy(const run *r)
{
    for (int i = 0; i < r->inflight; i++)
        if (r->slots[i].busy)
            return true;
    return false;
}

static int pump_until_idle(run *r, double timeout_s)
{
    double deadline = pb_now() + timeout_s;
    while (any_busy(r)) {
        if (pb_now() > deadline)
            return -ETIMEDOUT;
        int rc = pb_zk_pump(r->zh, r->sessions, 20);
        if (rc < 0)
            return rc;
    }
    return 0;
}

typedef struct del_ctx {
    int *pending;
    long long *failed;
} del_ctx;

static void cleanup_deleted(int rc, const void *data)
{
    const del_ctx *d = data;
    (*d->pending)--;
    if (rc != ZOK && rc != ZNONODE)
        (*d->failed)++;
}

/* Delete the nodes a pipeline or multi run made, 256 at a time over session 0. */
static int cleanup_nodes(run *r)
{
    int pending = 0;
    long long failed = 0;
    del_ctx d = {&pending, &failed};
    char path[256];
    for (size_t n = 0; n < r->made_cap; n++) {
        if (!r->made[n])
            continue;
        snprintf(path, sizeof(path), "%s/%c%zu", r->root, r->mode == MODE_PIPELINE ? 'p' : 'm', n);
        if (zoo_adelete(r->zh[0], path, -1, cleanup_deleted, &d) != ZOK)
            failed++;
        else
            pending++;
        while (pending >= 256)
            if (pb_zk_pump(r->zh, 1, 50) < 0)
                return -EIO;
    }
    double deadline = pb_now() + 30;
    while (pending > 0 && pb_now() < deadline)
        if (pb_zk_pump(r->zh, 1, 50) < 0)
            return -EIO;
    return (pending || failed) ? -EIO : 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: zkbench --zk HOSTS --mode cycle|pipeline|multi [--inflight N]\n"
               "               [--sessions S] [--batch K] [--duration SEC] [--warmup SEC]\n"
               "               [--data BYTES] [--root PATH] [--label TEXT]\n"
               "Prints one JSON record of the run on stdout.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"zk", required_argument, NULL, 'z'},       {"mode", required_argument, NULL, 'm'},
        {"inflight", required_argument, NULL, 'n'}, {"sessions", required_argument, NULL, 's'},
        {"batch", required_argument, NULL, 'b'},    {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},   {"data", required_argument, NULL, 'D'},
        {"root", required_argument, NULL, 'r'},     {"label", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    run r = {.mode = MODE_CYCLE,
             .inflight = 1,
             .sessions = 1,
             .batch = 10,
             .datalen = 200,
             .warmup = 0.5,
             .duration = 3.0};
    const char *hosts = NULL, *label = "";
    char rootbuf[256];
    long v;
    int c, li = -1;
    r.root = NULL;
    while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        int bad = 0;
        switch (c) {
        case 'z':
            hosts = optarg;
            break;
        case 'm':
            if (!strcmp(optarg, "cycle"))
                r.mode = MODE_CYCLE;
            else if (!strcmp(optarg, "pipeline"))
                r.mode = MODE_PIPELINE;
            else if (!strcmp(optarg, "multi"))
                r.mode = MODE_MULTI;
            else
                bad = 1;
            break;
        case 'n':
            bad = pb_parse_long(optarg, 1, 4096, &v);
            r.inflight = (int)v;
            break;
        case 's':
            bad = pb_parse_long(optarg, 1, MAX_SESSIONS, &v);
            r.sessions = (int)v;
            break;
        case 'b':
            bad = pb_parse_long(optarg, 1, MAX_BATCH, &v);
            r.batch = (int)v;
            break;
        case 'D':
            bad = pb_parse_long(optarg, 0, 65536, &v);
            r.datalen = (int)v;
            break;
        case 'd':
            bad = pb_parse_seconds(optarg, &r.duration);
            break;
        case 'w':
            bad = pb_parse_seconds(optarg, &r.warmup);
            break;
        case 'r':
            r.root = optarg;
            break;
        case 'l':
            label = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "zkbench: bad value for --%s: %s\n", li >= 0 ? opts[li].name : "?",
                    optarg);
            usage(stderr);
            return 2;
        }
    }
    if (!hosts || optind != argc || r.duration <= 0) {
        usage(stderr);
        return 2;
    }
    if (r.sessions > r.inflight)
        r.sessions = r.inflight;
    if (!r.root) {
        snprintf(rootbuf, sizeof(rootbuf), "/portco-bench/zk-%d", (int)getpid());
        r.root = rootbuf;
    }

    pb_zk_quiet();
    int status = 1;
    r.data = malloc((size_t)r.datalen + 1);
    r.slots = calloc((size_t)r.inflight, sizeof(*r.slots));
    if (!r.data || !r.slots) {
        fprintf(stderr, "zkbench: out of memory\n");
        goto out;
    }
    memset(r.data, 'x', (size_t)r.datalen);
    for (int i = 0; i < r.sessions; i++) {
        int rc = pb_zk_connect(hosts, 10000, 10000, &r.zh[i]);
        if (rc < 0) {
            fprintf(stderr, "zkbench: cannot connect to %s: %s\n", hosts, strerror(-rc));
            goto out;
        }
    }
    int zrc = pb_zk_mkdirs(r.zh[0], r.root, 10000);
    if (zrc != ZOK) {
        fprintf(stderr, "zkbench: cannot create %s: %s\n", r.root, zerror(zrc));
        goto out;
    }
    for (int i = 0; i < r.inflight; i++) {
        slot *s = &r.slots[i];
        s->r = &r;
        s->idx = i;
        s->zh = r.zh[i % r.sessions];
        snprintf(s->path, sizeof(s->path), "%s/s%d", r.root, i);
    }
    double t0 = pb_now();
    r.t_measure = t0 + r.warmup;
    r.t_end = r.t_measure + r.duration;
    for (int i = 0; i < r.inflight; i++)
        slot_start(&r.slots[i]);
    while (pb_now() <= r.t_end && !r.fatal) {
        if (pb_zk_pump(r.zh, r.sessions, 20) < 0 && !r.fatal)
            r.fatal = ZINVALIDSTATE;
    }
    r.stopping = true;
    if (pump_until_idle(&r, 30) < 0 && !r.fatal)
        r.fatal = ZOPERATIONTIMEOUT;
    if (r.fatal) {
        fprintf(stderr, "zkbench: run failed: %s (%lld errors)\n", zerror(r.fatal), r.errors);
        goto out;
    }
    if (r.mode != MODE_CYCLE && cleanup_nodes(&r) < 0)
        fprintf(stderr, "zkbench: could not delete every node under %s\n", r.root);
    if (pb_zk_delete(r.zh[0], r.root, 10000) != ZOK)
        fprintf(stderr, "zkbench: could not delete %s\n", r.root);

    static const char *names[] = {"zk.cycle", "zk.pipeline", "zk.multi"};
    json_t *rec = pb_result_new(names[r.mode]);
    pb_result_str(rec, "label", label);
    pb_result_int(rec, "inflight", r.inflight);
    pb_result_int(rec, "sessions", r.sessions);
    if (r.mode == MODE_MULTI)
        pb_result_int(rec, "batch", r.batch);
    pb_result_int(rec, "data_bytes", r.datalen);
    pb_result_real(rec, "seconds", r.duration);
    pb_result_int(rec, "ops", r.done);
    pb_result_int(rec, "errors", r.errors);
    pb_result_real(rec, "rate", (double)r.done / r.duration);
    pb_result_latency(rec, r.mode == MODE_MULTI ? "multi" : "create", &r.lat_create);
    if (r.mode == MODE_CYCLE) {
        pb_result_latency(rec, "delete", &r.lat_delete);
        pb_result_latency(rec, "cycle", &r.lat_cycle);
    }
    status = pb_result_emit(rec) == 0 ? 0 : 1;
out:
    for (int i = 0; i < r.sessions; i++)
        pb_zk_close(r.zh[i]);
    free(r.slots);
    free(r.data);
    free(r.made);
    pb_samples_free(&r.lat_create);
    pb_samples_free(&r.lat_delete);
    pb_samples_free(&r.lat_cycle);
    return status;
}
