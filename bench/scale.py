#!/usr/bin/python3
"""scale.py - many agents holding many claims: agent memory, ZooKeeper nodes and watches, re-watch time.

Given agents already started (their pids and sockets), this:
 1. reads each agent's RSS (/proc/PID/status VmRSS) and the server's znode
    and watch counts (the `mntr` four-letter word) before any claim;
 2. runs `pcbench --mode hold` to take --claims claims spread over the agents
    (its own record is passed through to stdout);
 3. reads RSS, znodes and watches again, with the claims held;
 4. stops the ZooKeeper server (zk-harness kill, by its pid file) and starts
    it again (zk-harness restart), then polls `mntr` until the watch count is
    back to what it was: the time the agents took to re-establish their
    watches after reconnecting (sessions survive a restart shorter than the
    session timeout, and the C client re-registers its watches itself);
    --restarts times, the median is reported.
Prints one JSON record {"bench": "scale", ...}.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
from common import emit  # noqa: E402


def mntr(hostport):
    host, port = hostport.split(",")[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2) as s:
            s.settimeout(2)
            s.sendall(b"mntr")
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
    except OSError:
        return {}
    out = {}
    for line in data.decode(errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) == 2:
            out[parts[0]] = parts[1]
    return out


def counts(hostport):
    m = mntr(hostport)
    if "zk_znode_count" not in m:
        return None
    return {"znodes": int(m["zk_znode_count"]), "watches": int(m.get("zk_watch_count", 0)),
            "ephemerals": int(m.get("zk_ephemerals_count", 0))}


def rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def settle(hostport, timeout):
    """Wait until two readings of the counts 300 ms apart agree (claims written, watches set)."""
    deadline = time.monotonic() + timeout
    last = counts(hostport)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        cur = counts(hostport)
        if cur is not None and cur == last:
            return cur
        last = cur
    return last


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zk", required=True, help="connect string")
    ap.add_argument("--harness", required=True)
    ap.add_argument("--harness-dir", required=True)
    ap.add_argument("--pcbench", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--claims", type=int, required=True)
    ap.add_argument("--inflight", type=int, default=32)
    ap.add_argument("--pid", type=int, action="append", default=[])
    ap.add_argument("--socket", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--hold-deadline", type=float, default=0,
                    help="stop taking claims after this many seconds (0: none)")
    args = ap.parse_args()

    rec = {"bench": "scale", "label": "scale", "agents": len(args.pid), "claims": args.claims}
    before = settle(args.zk, 10)
    idle = [rss_mib(p) for p in args.pid]
    cmd = [args.pcbench, "--mode", "hold", "--pool", args.pool, "--count", str(args.claims),
           "--inflight", str(min(args.inflight, args.claims)), "--label", "scale.hold",
           "--deadline", str(args.hold_deadline)]
    for s in args.socket:
        cmd += ["--socket", s]
    hold = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=args.timeout)
    sys.stdout.write(hold.stdout.decode())
    sys.stdout.flush()
    if hold.returncode != 0:
        print("scale: pcbench hold failed (exit %d)" % hold.returncode, file=sys.stderr)
        return 1
    try:
        held_rec = json.loads(hold.stdout.decode().strip().splitlines()[-1])
        rec["claims"] = held_rec["ops"]
        rec["claims_target"] = args.claims
        rec["hold_s"] = held_rec["seconds"]
    except (ValueError, IndexError, KeyError):
        print("scale: no record from pcbench hold", file=sys.stderr)
        return 1
    after = settle(args.zk, 30)
    held = [rss_mib(p) for p in args.pid]
    if before is None or after is None or None in idle or None in held:
        print("scale: could not read the server's or the agents' figures", file=sys.stderr)
        return 1
    rec.update({"rss_idle_max_mib": max(idle), "rss_max_mib": max(held),
                "rss_sum_mib": sum(held), "rss_mean_mib": sum(held) / len(held),
                "znodes_before": before["znodes"], "znodes": after["znodes"],
                "znodes_added": after["znodes"] - before["znodes"],
                "ephemerals": after["ephemerals"], "watches": after["watches"]})

    # Restart the server; sessions outlive it, watches come back with the
    # reconnects. Repeated --restarts times: the clients' reconnect back-off
    # makes single figures noisy; the median is reported.
    restarts, rewatches = [], []
    for _ in range(args.restarts):
        subprocess.run([args.harness, "kill", "--dir", args.harness_dir, "--node", "1"],
                       check=True, stdout=subprocess.DEVNULL, timeout=60)
        t0 = time.monotonic()
        subprocess.run([args.harness, "restart", "--dir", args.harness_dir, "--node", "1"],
                       check=True, stdout=subprocess.DEVNULL, timeout=120)
        t_serving = time.monotonic()
        restarts.append(t_serving - t0)
        deadline = t_serving + 60
        while time.monotonic() < deadline:
            c = counts(args.zk)
            if c is not None and c["watches"] >= after["watches"]:
                rewatches.append(time.monotonic() - t_serving)
                break
            time.sleep(0.01)
        else:
            break
    rec["restart_s"] = statistics.median(restarts) if restarts else None
    rec["rewatch_s"] = statistics.median(rewatches) if len(rewatches) == args.restarts else None
    rec["rewatch_all_s"] = rewatches
    final = counts(args.zk) or {}
    rec["watches_after_restart"] = final.get("watches")
    rec["ephemerals_after_restart"] = final.get("ephemerals")
    rec["rss_after_restart_max_mib"] = max((rss_mib(p) or 0) for p in args.pid)
    emit(rec)
    return 0 if rec["rewatch_s"] is not None else 1


if __name__ == "__main__":
    sys.exit(main())
