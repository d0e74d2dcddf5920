#!/usr/bin/python3
"""kazoo_lock.py - cluster claims through kazoo's Lock recipe, one lock per port (the peer of portco's claim).

N worker threads share one KazooClient session (as one agent per host would).
Each worker owns its own ports and, in a loop, acquires the Lock of its next
port and releases it: one claim = ensure the port node (first time only),
create an ephemeral sequential contender, list the children, delete the
contender. Prints one JSON record: claims per second between the end of the
warm-up and the end of the run, and acquire/release latencies.
"""
import argparse
import logging
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import emit, latency, now  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402
from kazoo.recipe.lock import Lock  # noqa: E402


def worker(idx, args, client, root, t_measure, t_end, out):
    acq, rel, done, errors = [], [], 0, 0
    locks = {}
    k = 0
    while True:
        t0 = now()
        if t0 > t_end:
            break
        port = 20000 + idx + args.inflight * (k % args.ports_per_worker)
        k += 1
        lock = locks.get(port)
        if lock is None:
            lock = locks[port] = Lock(client, "%s/ports/%d" % (root, port), "bench-%d" % idx,
                                      extra_lock_patterns=["-lock-"])
        try:
            ok = lock.acquire(blocking=False)
            t1 = now()
            if not ok:
                errors += 1
                continue
            lock.release()
        except Exception as e:  # a failed claim is counted, never fatal to the run
            errors += 1
            print("kazoo_lock: %s" % e, file=sys.stderr)
            continue
        t2 = now()
        if t_measure <= t2 <= t_end:
            done += 1
            acq.append((t1 - t0) * 1000.0)
            rel.append((t2 - t1) * 1000.0)
    out[idx] = (acq, rel, done, errors)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--zk", required=True)
    ap.add_argument("--inflight", type=int, default=16)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--ports-per-worker", type=int, default=8)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)

    client = KazooClient(hosts=args.zk, timeout=10.0)
    client.start(timeout=15)
    root = "/portco-bench/kazoo-%d" % os.getpid()
    client.ensure_path(root + "/ports")
    t_measure = now() + args.warmup
    t_end = t_measure + args.duration
    out = [None] * args.inflight
    threads = [threading.Thread(target=worker, args=(i, args, client, root, t_measure, t_end, out))
               for i in range(args.inflight)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    acq, rel, done, errors = [], [], 0, 0
    for a, r, d, e in out:
        acq += a
        rel += r
        done += d
        errors += e
    client.delete(root, recursive=True)
    client.stop()
    client.close()
    rec = {"bench": "peer.kazoo_lock", "label": args.label, "inflight": args.inflight,
           "seconds": args.duration, "ops": done, "errors": errors, "rate": done / args.duration}
    latency(rec, "acquire", acq)
    latency(rec, "release", rel)
    emit(rec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
