"""common.py - percentiles and JSON result lines shared by the peer benchmarks."""
import json
import math
import sys
import time


def pct(samples, p):
    """Nearest-rank percentile of a sorted list (the rule bench_util.c uses); None when empty."""
    if not samples:
        return None
    rank = math.ceil(p / 100.0 * len(samples))
    return samples[max(rank, 1) - 1]


def latency(rec, prefix, samples):
    """Add <prefix>_p50_ms, _p99_ms, _mean_ms and _n to rec from samples in ms."""
    samples.sort()
    rec[prefix + "_p50_ms"] = pct(samples, 50)
    rec[prefix + "_p99_ms"] = pct(samples, 99)
    rec[prefix + "_mean_ms"] = sum(samples) / len(samples) if samples else None
    rec[prefix + "_n"] = len(samples)


def emit(rec):
    """Print one result record as a JSON line on stdout."""
    sys.stdout.write(json.dumps(rec, sort_keys=True) + "\n")
    sys.stdout.flush()


def now():
    return time.monotonic()
