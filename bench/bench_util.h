/* bench_util.h - clocks, latency samples, option parsing and result records for the drivers. */
#ifndef PB_BENCH_UTIL_H
#define PB_BENCH_UTIL_H

#include <stddef.h>

#include <jansson.h>

/*
 * The benchmark drivers (zkbench, pcbench, probebench) print one JSON object
 * per measurement on stdout, one per line; bench/report.py turns them into
 * the CSV, the markdown table and the plots. Diagnostics go to stderr.
 * Internal names of the benchmarks use the pb_ prefix.
 */

/* Monotonic clock in seconds. */
double pb_now(void);

/* Latency samples in milliseconds; grows as needed. */
typedef struct pb_samples {
    double *v;
    size_t n, cap;
    int sorted;
} pb_samples;

#define PB_SAMPLES_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Append one sample. Returns 0 or -ENOMEM. */
int pb_samples_add(pb_samples *s, double ms);

/* Percentile p (0..100) by nearest rank; sorts in place; NaN when empty. */
double pb_samples_pct(pb_samples *s, double p);

/* Arithmetic mean; NaN when empty. */
double pb_samples_mean(const pb_samples *s);

void pb_samples_free(pb_samples *s);

/*
 * A result record: {"bench": name, ...}. pb_result_latency() adds
 * "<prefix>_p50_ms", "<prefix>_p99_ms", "<prefix>_mean_ms", "<prefix>_n".
 * pb_result_emit() prints the record as one line on stdout, flushes, and
 * releases it (the record is consumed even when printing fails).
 * Returns 0 or -EIO.
 */
json_t *pb_result_new(const char *bench);
void pb_result_latency(json_t *r, const char *prefix, pb_samples *s);
void pb_result_real(json_t *r, const char *key, double v);
void pb_result_int(json_t *r, const char *key, long long v);
void pb_result_str(json_t *r, const char *key, const char *v);
int pb_result_emit(json_t *r);

/* Parse a decimal integer in [lo, hi]. Returns 0 or -EINVAL. */
int pb_parse_long(const char *text, long lo, long hi, long *out);

/* Parse a non-negative decimal number (seconds, fractions allowed). Returns 0 or -EINVAL. */
int pb_parse_seconds(const char *text, double *out);

#endif
