/* bench_util.c - clocks, latency samples, option parsing and result records for the drivers. */
#include "bench_util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

double pb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int pb_samples_add(pb_samples *s, double ms)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        double *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = ms;
    s->sorted = 0;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double pb_samples_pct(pb_samples *s, double p)
{
    if (s->n == 0)
        return NAN;
    if (!s->sorted) {
        qsort(s->v, s->n, sizeof(*s->v), cmp_double);
        s->sorted = 1;
    }
    /* Nearest rank: the smallest sample with at least p% of samples <= it. */
    double rank = ceil(p / 100.0 * (double)s->n);
    size_t idx = rank < 1.0 ? 0 : (size_t)rank - 1;
    if (idx >= s->n)
        idx = s->n - 1;
    return s->v[idx];
}

double pb_samples_mean(const pb_samples *s)
{
    if (s->n == 0)
        return NAN;
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    return sum / (double)s->n;
}

void pb_samples_free(pb_samples *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

json_t *pb_result_new(const char *bench)
{
    json_t *r = json_object();
    if (r)
        json_object_set_new(r, "bench", json_string(bench));
    return r;
}

void pb_result_real(json_t *r, const char *key, double v)
{
    /* JSON has no NaN: a missing figure is null. */
    json_object_set_new(r, key, isfinite(v) ? json_real(v) : json_null());
}

void pb_result_int(json_t *r, const char *key, long long v)
{
    json_object_set_new(r, key, json_integer(v));
}

void pb_result_str(json_t *r, const char *key, const char *v)
{
    json_object_set_new(r, key, json_string(v));
}

void pb_result_latency(json_t *r, const char *prefix, pb_samples *s)
{
    char key[96];
    snprintf(key, sizeof(key), "%s_p50_ms", prefix);
    pb_result_real(r, key, pb_samples_pct(s, 50));
    snprintf(key, sizeof(key), "%s_p99_ms", prefix);
    pb_result_real(r, key, pb_samples_pct(s, 99));
    snprintf(key, sizeof(key), "%s_mean_ms", prefix);
    pb_result_real(r, key, pb_samples_mean(s));
    snprintf(key, sizeof(key), "%s_n", prefix);
    pb_result_int(r, key, (long long)s->n);
}

int pb_result_emit(json_t *r)
{
    if (!r)
        return -EIO;
    char *text = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
    json_decref(r);
    if (!text)
        return -EIO;
    int rc = (puts(text) < 0 || fflush(stdout) != 0) ? -EIO : 0;
    free(text);
    return rc;
}

int pb_parse_long(const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

int pb_parse_seconds(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < 0)
        return -EINVAL;
    *out = v;
    return 0;
}
