#!/usr/bin/python3
"""portserver_bench.py - port hand-outs on one host through Google's portserver (python3-portpicker).

Starts /usr/bin/portserver on a private abstract Unix socket with a pool of
--pool ports, then N worker threads ask it for ports with portpicker's own
client call (one connection per request, our pid as the owner) until the run
ends or the pool is used up: the portserver gives a port back to its pool only
when the owning process exits, and has no release request. Stops the server
by its pid. Prints one JSON record: hand-outs per second in the measured
window and the per-request latency.
"""
import argparse
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import emit, latency, now  # noqa: E402

import portpicker  # noqa: E402


def wait_ready(address, proc, timeout):
    deadline = now() + timeout
    while now() < deadline:
        if proc.poll() is not None:
            return False
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect("\0" + address[1:])
            return True
        except OSError:
            threading.Event().wait(0.02)
        finally:
            s.close()
    return False


def worker(address, t_measure, t_end, state, out, idx):
    lat, done, errors = [], 0, 0
    pid = os.getpid()
    while not state["exhausted"]:
        t0 = now()
        if t0 > t_end:
            break
        port = portpicker.get_port_from_port_server(address, pid=pid)
        t1 = now()
        if not port:
            state["exhausted"] = True
            errors += 1
            break
        if t_measure <= t1 <= t_end:
            done += 1
            lat.append((t1 - t0) * 1000.0)
    out[idx] = (lat, done, errors)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--inflight", type=int, default=16)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=0.3)
    ap.add_argument("--pool", default="15000-24999")
    ap.add_argument("--log", default=os.devnull, help="file for the portserver's own log")
    ap.add_argument("--label", default="")
    args = ap.parse_args()

    address = "@portco-bench-portserver-%d" % os.getpid()
    with open(args.log, "ab") as log:
        proc = subprocess.Popen(["/usr/bin/portserver", "--portserver_address", address,
                                 "--portserver_static_pool", args.pool],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        if not wait_ready(address, proc, 15.0):
            print("portserver_bench: portserver did not start (see %s)" % args.log,
                  file=sys.stderr)
            return 1
        t_measure = now() + args.warmup
        t_end = t_measure + args.duration
        state = {"exhausted": False}
        out = [None] * args.inflight
        threads = [threading.Thread(target=worker,
                                    args=(address, t_measure, t_end, state, out, i))
                   for i in range(args.inflight)]
        t_start = now()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t_stop = min(now(), t_end)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    lat, done, errors = [], 0, 0
    for l, d, e in out:
        lat += l
        done += d
        errors += e
    window = max(t_stop - max(t_measure, t_start), 1e-9)
    rec = {"bench": "peer.portserver", "label": args.label, "inflight": args.inflight,
           "seconds": window, "ops": done, "errors": errors, "rate": done / window,
           "exhausted": state["exhausted"]}
    latency(rec, "handout", lat)
    emit(rec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
