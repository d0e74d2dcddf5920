/* pcbench.c - portco figures through libportco: claim cycles, pool fill, bulk holds. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "portco.h"

/*
 * Modes (JSON records on stdout):
 *   cycle  `inflight` threads, each with its own connection (libportco
 *          serialises calls on one connection), acquire any port of the pool
 *          then release it, in a loop. Connections are spread round-robin
 *          over the --socket paths (one per agent).
 *   fill   one client acquires (explicit lifetime) until the pool is full,
 *          recording each acquire's latency against the pool's occupancy,
 *          then releases everything. Records: one per 1% of occupancy
 *          ("portco.fill"), and windows 5% wide around 5% and 95% full;
 *          with --rss-pid, the agent's RSS when the pool is full.
 *   hold   acquire --count claims in total (explicit lifetime) over
 *          `inflight` threads and every socket, and leave them held; with
 *          --deadline, stop taking claims after that many seconds.
 *   ready  acquire and release once, retrying until it works or --timeout
 *          passes: the agents are connected and know the pool.
 */

enum mode { MODE_CYCLE, MODE_FILL, MODE_HOLD, MODE_READY };

#define MAX_SOCKETS 64

typedef struct cfg {
    enum mode mode;
    const char *sockets[MAX_SOCKETS];
    int nsockets;
    const char *pool, *label;
    int inflight;
    long count, pool_size;
    double duration, warmup, timeout;
    double deadline; /* hold: stop taking claims after this many seconds; 0 = none */
    long rss_pid;    /* fill: the agent whose RSS is read when the pool is full; 0 = none */
} cfg;

typedef struct worker {
    const cfg *c;
    int idx;
    pthread_t th;
    double t_measure, t_end;
    long quota; /* hold: claims this worker takes */
    long long done, errors;
    int first_error;
    char first_msg[640];
    pb_samples acq, rel, cycle;
} worker;

static void note_error(worker *w, int rc, const portco_status *st)
{
    w->errors++;
    if (!w->first_error) {
        w->first_error = rc;
        snprintf(w->first_msg, sizeof(w->first_msg), "%s: %s", portco_err_name(rc),
                 st->message[0] ? st->message : portco_strerror(rc));
    }
}

static void acquire_opts(const cfg *c, portco_acquire_opts *o, portco_lifetime lt)
{
    memset(o, 0, sizeof(*o));
    o->pool = c->pool;
    o->service = "bench";
    o->lifetime = lt;
}

static void *cycle_main(void *arg)
{
    worker *w = arg;
    const cfg *c = w->c;
    portco_client *pc = NULL;
    portco_status st = {0};
    int rc = portco_connect(c->sockets[w->idx % c->nsockets], &pc, &st);
    if (rc != 0) {
        note_error(w, rc, &st);
        return NULL;
    }
    portco_acquire_opts o;
    acquire_opts(c, &o, PORTCO_LIFETIME_CONNECTION);
    for (;;) {
        double t0 = pb_now();
        if (t0 > w->t_end)
            break;
        portco_claim cl;
        rc = portco_acquire(pc, &o, &cl, &st);
        double t1 = pb_now();
        if (rc != 0) {
            note_error(w, rc, &st);
            if (rc == PORTCO_ENOAGENT || rc == PORTCO_EPROTO)
                break;
            continue;
        }
        rc = portco_release(pc, c->pool, cl.port, &st);
        double t2 = pb_now();
        if (rc != 0) {
            note_error(w, rc, &st);
            continue;
        }
        if (t2 >= w->t_measure && t2 <= w->t_end) {
            w->done++;
            pb_samples_add(&w->acq, (t1 - t0) * 1000.0);
            pb_samples_add(&w->rel, (t2 - t1) * 1000.0);
            pb_samples_add(&w->cycle, (t2 - t0) * 1000.0);
        }
    }
    portco_close(pc);
    return NULL;
}

static void *hold_main(void *arg)
{
    worker *w = arg;
    const cfg *c = w->c;
    portco_client *pc = NULL;
    portco_status st = {0};
    int rc = portco_connect(c->sockets[w->idx % c->nsockets], &pc, &st);
    if (rc != 0) {
        note_error(w, rc, &st);
        return NULL;
    }
    portco_acquire_opts o;
    acquire_opts(c, &o, PORTCO_LIFETIME_EXPLICIT);
    double stop_at = c->deadline > 0 ? w->t_measure - c->warmup + c->deadline : 0;
    for (long i = 0; i < w->quota; i++) {
        portco_claim cl;
        double t0 = pb_now();
        if (stop_at && t0 > stop_at)
            break;
        rc = portco_acquire(pc, &o, &cl, &st);
        if (rc != 0) {
            note_error(w, rc, &st);
            if (rc == PORTCO_ENOAGENT || rc == PORTCO_EPROTO || rc == PORTCO_EEXHAUSTED)
                break;
            continue;
        }
        w->done++;
        pb_samples_add(&w->acq, (pb_now() - t0) * 1000.0);
    }
    portco_close(pc);
    return NULL;
}

static void merge(pb_samples *dst, const pb_samples *src)
{
    for (size_t i = 0; i < src->n; i++)
        pb_samples_add(dst, src->v[i]);
}

static int run_threads(const cfg *c, void *(*fn)(void *), const char *bench)
{
    worker *w = calloc((size_t)c->inflight, sizeof(*w));
    if (!w)
        return 1;
    double t0 = pb_now();
    for (int i = 0; i < c->inflight; i++) {
        w[i].c = c;
        w[i].idx = i;
        w[i].t_measure = t0 + c->warmup;
        w[i].t_end = w[i].t_measure + c->duration;
        w[i].quota = c->count / c->inflight + (i < c->count % c->inflight ? 1 : 0);
    }
    int started = 0;
    for (; started < c->inflight; started++)
        if (pthread_create(&w[started].th, NULL, fn, &w[started]) != 0)
            break;
    for (int i = 0; i < started; i++)
        pthread_join(w[i].th, NULL);
    double elapsed = pb_now() - t0;
    pb_samples acq = PB_SAMPLES_INIT, rel = PB_SAMPLES_INIT, cyc = PB_SAMPLES_INIT;
    long long done = 0, errors = 0;
    const char *first = NULL;
    for (int i = 0; i < c->inflight; i++) {
        done += w[i].done;
        errors += w[i].errors;
        if (!first && w[i].first_error)
            first = w[i].first_msg;
        merge(&acq, &w[i].acq);
        merge(&rel, &w[i].rel);
        merge(&cyc, &w[i].cycle);
    }
    if (first)
        fprintf(stderr, "pcbench: %lld errors, first: %s\n", errors, first);
    double secs = fn == cycle_main ? c->duration : elapsed;
    json_t *r = pb_result_new(bench);
    pb_result_str(r, "label", c->label);
    pb_result_int(r, "inflight", c->inflight);
    pb_result_int(r, "agents", c->nsockets);
    pb_result_real(r, "seconds", secs);
    pb_result_int(r, "ops", done);
    pb_result_int(r, "errors", errors);
    pb_result_real(r, "rate", (double)done / secs);
    pb_result_latency(r, "acquire", &acq);
    if (fn == hold_main) {
        pb_result_int(r, "target", c->count);
        pb_result_real(r, "deadline_s", c->deadline);
    }
    if (fn == cycle_main) {
        pb_result_latency(r, "release", &rel);
        pb_result_latency(r, "cycle", &cyc);
    }
    /* A slow run that completes nothing in the window is a figure (0/s), not a failure;
       errors with nothing completed are. */
    int status =
        (started == c->inflight && pb_result_emit(r) == 0 && (done > 0 || !errors)) ? 0 : 1;
    if (fn == hold_main) {
        /* Past the deadline, the claims taken so far are the figure. */
        bool late = c->deadline > 0 && elapsed >= c->deadline;
        if (done < c->count && !late)
            status = 1;
    }
    for (int i = 0; i < c->inflight; i++) {
        pb_samples_free(&w[i].acq);
        pb_samples_free(&w[i].rel);
        pb_samples_free(&w[i].cycle);
    }
    pb_samples_free(&acq);
    pb_samples_free(&rel);
    pb_samples_free(&cyc);
    free(w);
    return status;
}

static void emit_window(const cfg *c, const char *name, double lo, double hi, const double *lat,
                        long n, long size)
{
    pb_samples s = PB_SAMPLES_INIT;
    for (long i = 0; i < n; i++) {
        double occ = 100.0 * (double)i / (double)size;
        if (occ >= lo && occ < hi)
            pb_samples_add(&s, lat[i]);
    }
    json_t *r = pb_result_new(name);
    pb_result_str(r, "label", c->label);
    pb_result_real(r, "pct", (lo + hi) / 2);
    pb_result_int(r, "pool_size", size);
    pb_result_latency(r, "acquire", &s);
    pb_result_emit(r);
    pb_samples_free(&s);
}

/* Resident set size of a process in MiB, from /proc/PID/status; -1 when unknown. */
static double rss_mib(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "re");
    double mib = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            mib = strtod(line + 6, NULL) / 1024.0;
    fclose(f);
    return mib;
}

static int run_fill(const cfg *c)
{
    portco_client *pc = NULL;
    portco_status st = {0};
    int rc = portco_connect(c->sockets[0], &pc, &st);
    if (rc != 0) {
        fprintf(stderr, "pcbench: %s\n", st.message);
        return 1;
    }
    long cap = c->pool_size + 1;
    double *lat = calloc((size_t)cap, sizeof(*lat));
    uint16_t *ports = calloc((size_t)cap, sizeof(*ports));
    pb_samples rel = PB_SAMPLES_INIT;
    long n = 0, errors = 0;
    bool exhausted = false;
    int status = 1;
    if (!lat || !ports)
        goto out;
    portco_acquire_opts o;
    acquire_opts(c, &o, PORTCO_LIFETIME_EXPLICIT);
    while (n < cap) {
        portco_claim cl;
        double t0 = pb_now();
        rc = portco_acquire(pc, &o, &cl, &st);
        double ms = (pb_now() - t0) * 1000.0;
        if (rc == PORTCO_EEXHAUSTED) {
            exhausted = true;
            break;
        }
        if (rc != 0) {
            fprintf(stderr, "pcbench: fill: acquire %ld: %s\n", n, st.message);
            if (++errors > 100 || rc == PORTCO_ENOAGENT)
                break;
            continue;
        }
        lat[n] = ms;
        ports[n++] = cl.port;
    }
    /* A few ports of the pool may be in use on the host: the pool is full when
       the agent says it is exhausted, with fewer claims than ports. */
    if (n != c->pool_size)
        fprintf(stderr, "pcbench: fill: %ld claims granted, pool size %ld%s\n", n, c->pool_size,
                exhausted ? ", then exhausted" : "");
    double rss_full = c->rss_pid ? rss_mib(c->rss_pid) : -1;
    for (int b = 0; b < 100; b++)
        emit_window(c, "portco.fill", b, b + 1, lat, n, c->pool_size);
    emit_window(c, "portco.fill_window", 2.5, 7.5, lat, n, c->pool_size);
    emit_window(c, "portco.fill_window", 92.5, 97.5, lat, n, c->pool_size);
    for (long i = 0; i < n; i++) {
        double t0 = pb_now();
        rc = portco_release(pc, c->pool, ports[i], &st);
        if (rc != 0)
            errors++;
        else
            pb_samples_add(&rel, (pb_now() - t0) * 1000.0);
    }
    json_t *r = pb_result_new("portco.fill_summary");
    pb_result_str(r, "label", c->label);
    pb_result_int(r, "pool_size", c->pool_size);
    pb_result_int(r, "granted", n);
    pb_result_int(r, "exhausted", exhausted);
    if (rss_full >= 0)
        pb_result_real(r, "agent_rss_full_mib", rss_full);
    pb_result_int(r, "errors", errors);
    pb_result_latency(r, "release", &rel);
    status = (pb_result_emit(r) == 0 && (exhausted || n == c->pool_size) && errors == 0) ? 0 : 1;
out:
    portco_close(pc);
    pb_samples_free(&rel);
    free(lat);
    free(ports);
    return status;
}

static int run_ready(const cfg *c)
{
    double deadline = pb_now() + c->timeout;
    char last[1024] = "no attempt";
    for (;;) {
        bool all = true;
        for (int i = 0; i < c->nsockets && all; i++) {
            portco_client *pc = NULL;
            portco_status st = {0};
            portco_claim cl;
            portco_acquire_opts o;
            acquire_opts(c, &o, PORTCO_LIFETIME_CONNECTION);
            int rc = portco_connect(c->sockets[i], &pc, &st);
            if (rc == 0)
                rc = portco_acquire(pc, &o, &cl, &st);
            if (rc == 0)
                rc = portco_release(pc, c->pool, cl.port, &st);
            if (rc != 0) {
                snprintf(last, sizeof(last), "%s: %s", c->sockets[i], st.message);
                all = false;
            }
            portco_close(pc);
        }
        if (all)
            return 0;
        if (pb_now() > deadline) {
            fprintf(stderr, "pcbench: agents not ready after %.0f s: %s\n", c->timeout, last);
            return 1;
        }
        usleep(50 * 1000); /* readiness poll inside a deadline */
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: pcbench --mode cycle|fill|hold|ready --socket PATH [--socket PATH...]\n"
               "               --pool NAME [--inflight N] [--duration SEC] [--warmup SEC]\n"
               "               [--count N] [--pool-size N] [--timeout SEC] [--deadline SEC]\n"
               "               [--rss-pid PID]\n"
               "               [--label TEXT]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"mode", required_argument, NULL, 'm'},     {"socket", required_argument, NULL, 'S'},
        {"pool", required_argument, NULL, 'p'},     {"inflight", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'}, {"warmup", required_argument, NULL, 'w'},
        {"count", required_argument, NULL, 'c'},    {"pool-size", required_argument, NULL, 'P'},
        {"timeout", required_argument, NULL, 't'},  {"label", required_argument, NULL, 'l'},
        {"deadline", required_argument, NULL, 'D'}, {"rss-pid", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    cfg c = {.mode = MODE_CYCLE,
             .label = "",
             .inflight = 1,
             .duration = 3.0,
             .warmup = 0.5,
             .timeout = 30.0};
    long v;
    int ch, li = -1;
    while ((ch = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        int bad = 0;
        switch (ch) {
        case 'm':
            if (!strcmp(optarg, "cycle"))
                c.mode = MODE_CYCLE;
            else if (!strcmp(optarg, "fill"))
                c.mode = MODE_FILL;
            else if (!strcmp(optarg, "hold"))
                c.mode = MODE_HOLD;
            else if (!strcmp(optarg, "ready"))
                c.mode = MODE_READY;
            else
                bad = 1;
            break;
        case 'S':
            if (c.nsockets == MAX_SOCKETS)
                bad = 1;
            else
                c.sockets[c.nsockets++] = optarg;
            break;
        case 'p':
            c.pool = optarg;
            break;
        case 'n':
            bad = pb_parse_long(optarg, 1, 1024, &v);
            c.inflight = (int)v;
            break;
        case 'c':
            bad = pb_parse_long(optarg, 1, 1000000, &v);
            c.count = v;
            break;
        case 'P':
            bad = pb_parse_long(optarg, 1, 65536, &v);
            c.pool_size = v;
            break;
        case 'd':
            bad = pb_parse_seconds(optarg, &c.duration);
            break;
        case 'w':
            bad = pb_parse_seconds(optarg, &c.warmup);
            break;
        case 't':
            bad = pb_parse_seconds(optarg, &c.timeout);
            break;
        case 'D':
            bad = pb_parse_seconds(optarg, &c.deadline);
            break;
        case 'R':
            bad = pb_parse_long(optarg, 1, 1L << 30, &c.rss_pid);
            break;
        case 'l':
            c.label = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "pcbench: bad value for --%s: %s\n", li >= 0 ? opts[li].name : "?",
                    optarg);
            return 2;
        }
    }
    if (!c.nsockets || !c.pool || optind != argc || c.duration <= 0 ||
        (c.mode == MODE_FILL && !c.pool_size) || (c.mode == MODE_HOLD && !c.count)) {
        usage(stderr);
        return 2;
    }
    switch (c.mode) {
    case MODE_CYCLE:
        return run_threads(&c, cycle_main, "portco.cycle");
    case MODE_HOLD:
        if (c.inflight > c.count)
            c.inflight = (int)c.count;
        return run_threads(&c, hold_main, "portco.hold");
    case MODE_FILL:
        return run_fill(&c);
    default:
        return run_ready(&c);
    }
}
