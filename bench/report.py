#!/usr/bin/python3
"""report.py - turn the benchmark records (results.jsonl) into CSV files, a markdown table and plots.

Every driver prints JSON records with "bench" and "label"; runs repeated in
one invocation of run.sh share bench and label, and each figure here is the
median over those repetitions. Writes, into the output directory:
  results.csv      every record, one row each (the raw data)
  figures.csv      each figure with its baseline, ratio and target
  throughput.csv   operations per second against requests in flight
  fill.csv         acquire latency against pool occupancy
  table.md         the figures as a markdown table (also printed)
  throughput.png, fill.png   plots drawn by gnuplot
Exit status 0 when the table was written, whether or not targets were met.
"""
import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys


def load(path):
    recs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    print("report: skipping a malformed line", file=sys.stderr)
    return recs


class Results:
    def __init__(self, recs):
        self.recs = recs

    def values(self, bench, label, key, **match):
        out = []
        for r in self.recs:
            if r.get("bench") != bench or r.get("label") != label:
                continue
            if any(r.get(k) != v for k, v in match.items()):
                continue
            v = r.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                out.append(float(v))
        return out

    def median(self, bench, label, key, **match):
        v = self.values(bench, label, key, **match)
        return statistics.median(v) if v else None

    def labels(self, bench):
        return sorted({r.get("label", "") for r in self.recs if r.get("bench") == bench})


def fmt(v, digits=3):
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 100:
        return "%.1f" % v
    return ("%%.%dg" % digits) % v


def figures(res, meta):
    """The table rows: (figure, unit, value, baseline name, baseline, ratio, target, met)."""
    rows = []

    def add(name, unit, value, base_name, base, target=None, check=None, ratio=None):
        if ratio is None and value is not None and base not in (None, 0):
            ratio = value / base
        met = None
        if check is not None and value is not None:
            met = check(value, base, ratio)
        rows.append({"figure": name, "unit": unit, "value": value, "baseline": base_name,
                     "baseline_value": base, "ratio": ratio, "target": target or "",
                     "met": "" if met is None else ("yes" if met else "NO"),
                     "reps": meta.get("reps")})

    inflights = meta.get("inflight", [1, 16, 64])
    agents = meta.get("agents", 4)
    for n in inflights:
        floor = res.median("zk.cycle", "floor.n%d" % n, "rate")
        pc = res.median("portco.cycle", "portco.a1.n%d" % n, "rate")
        tgt, chk = None, None
        if n == 64:
            tgt, chk = ">= 0.8 x floor", (lambda v, b, r: r is not None and r >= 0.8)
        add("acquire+release, 1 agent, %d in flight" % n, "ops/s", pc,
            "raw create+delete, 1 session, %d in flight" % n, floor, tgt, chk)
    for n in inflights:
        if n < agents:
            continue
        floor = res.median("zk.cycle", "floor.s%d.n%d" % (agents, n), "rate")
        pc = res.median("portco.cycle", "portco.a%d.n%d" % (agents, n), "rate")
        add("acquire+release, %d agents, %d in flight" % (agents, n), "ops/s", pc,
            "raw create+delete, %d sessions, %d in flight" % (agents, n), floor)
    floor64 = res.median("zk.cycle", "floor.n%d" % max(inflights), "rate")
    add("raw pipelined creates, 1 session, %s in flight" % meta.get("pipeline_inflight", "?"),
        "creates/s", res.median("zk.pipeline", "ceiling.pipeline", "rate"),
        "raw create+delete cycles, %d in flight" % max(inflights), floor64)
    add("raw multi-op creates, %s per multi, %s in flight" % (meta.get("multi_batch", "?"),
                                                              meta.get("multi_inflight", "?")),
        "creates/s", res.median("zk.multi", "ceiling.multi", "rate"),
        "raw create+delete cycles, %d in flight" % max(inflights), floor64)

    raw50 = res.median("zk.cycle", "floor.n1", "create_p50_ms")
    raw99 = res.median("zk.cycle", "floor.n1", "create_p99_ms")
    pc50 = res.median("portco.cycle", "portco.a1.n1", "acquire_p50_ms")
    pc99 = res.median("portco.cycle", "portco.a1.n1", "acquire_p99_ms")
    add("acquire latency p50, 1 client", "ms", pc50, "raw create p50, 1 in flight", raw50,
        "<= raw + 0.3 ms", lambda v, b, r: b is not None and v <= b + 0.3)
    add("acquire latency p99, 1 client", "ms", pc99, "raw create p99, 1 in flight", raw99)
    add("release latency p50, 1 client", "ms",
        res.median("portco.cycle", "portco.a1.n1", "release_p50_ms"),
        "raw delete p50, 1 in flight", res.median("zk.cycle", "floor.n1", "delete_p50_ms"))

    for n in meta.get("peer_inflight", [1, 16]):
        pc = res.median("portco.cycle", "portco.a1.n%d" % n, "rate")
        kz = res.median("peer.kazoo_lock", "kazoo.n%d" % n, "rate")
        tgt, chk = None, None
        if n == 16:
            tgt, chk = ">= 5 x kazoo", (lambda v, b, r: r is not None and r >= 5)
        add("cluster claims (acquire+release), %d in flight" % n, "claims/s", pc,
            "kazoo Lock acquire+release, %d in flight" % n, kz, tgt, chk)
    for n in meta.get("peer_inflight", [1, 16]):
        add("host hand-outs: portco acquire+release, %d in flight" % n, "ops/s",
            res.median("portco.cycle", "portco.a1.n%d" % n, "rate"),
            "portserver hand-outs, %d in flight" % n,
            res.median("peer.portserver", "portserver.n%d" % n, "rate"))
    add("host hand-out latency p50: portco acquire", "ms", pc50, "portserver hand-out p50",
        res.median("peer.portserver", "portserver.n1", "handout_p50_ms"))

    size = meta.get("fill_size")
    lo = res.median("portco.fill_window", "fill", "acquire_p99_ms", pct=5.0)
    hi = res.median("portco.fill_window", "fill", "acquire_p99_ms", pct=95.0)
    add("pool fill (%s ports): acquire p99 at 95%% full" % size, "ms", hi,
        "acquire p99 at 5% full", lo, "<= 2 x", lambda v, b, r: r is not None and r <= 2)
    add("pool fill: acquire p50 at 95% full", "ms",
        res.median("portco.fill_window", "fill", "acquire_p50_ms", pct=95.0),
        "acquire p50 at 5% full",
        res.median("portco.fill_window", "fill", "acquire_p50_ms", pct=5.0))

    nag = meta.get("scale_agents")
    ncl = meta.get("scale_claims")
    add("agent RSS with the fill pool full (%s claims, one agent)" % size, "MiB",
        res.median("portco.fill_summary", "fill", "agent_rss_full_mib"),
        "agent RSS before the claims (max)", res.median("scale", "scale", "rss_idle_max_mib"),
        "<= 32 MiB", lambda v, b, r: v <= 32)
    held = res.median("scale", "scale", "claims")
    claims_txt = "%s claims in all" % ncl
    if held is not None and ncl and held < ncl:
        claims_txt = "%d claims in all (of %s asked before the deadline)" % (held, ncl)
    add("agent RSS, max of %s agents, %s" % (nag, claims_txt), "MiB",
        res.median("scale", "scale", "rss_max_mib"), "agent RSS before the claims (max)",
        res.median("scale", "scale", "rss_idle_max_mib"), "<= 32 MiB (with %s claims)" % ncl,
        lambda v, b, r: v <= 32 if held is not None and ncl and held >= ncl else None)
    add("ZooKeeper znodes added by the claims", "znodes",
        res.median("scale", "scale", "znodes_added"), "claims held",
        res.median("scale", "scale", "claims"))
    add("ZooKeeper watches with the claims held", "watches",
        res.median("scale", "scale", "watches"), "agents",
        res.median("scale", "scale", "agents"))
    add("watches re-established after a reconnect (ZooKeeper restart)", "s",
        res.median("scale", "scale", "rewatch_s"), "server restart until serving",
        res.median("scale", "scale", "restart_s"))
    worst = [max(r["rewatch_all_s"]) for r in res.recs
             if r.get("bench") == "scale" and r.get("rewatch_all_s")]
    add("watches re-established, slowest of the restarts", "s",
        statistics.median(worst) if worst else None, "session timeout of the agents",
        meta.get("session_timeout_s"))
    add("claims held, bulk acquire rate over %s agents" % nag, "claims/s",
        res.median("portco.hold", "scale.hold", "rate"),
        "acquire+release, %d agents, %d in flight" % (agents, max(inflights)),
        res.median("portco.cycle", "portco.a%d.n%d" % (agents, max(inflights)), "rate"))

    for lab in res.labels("probe"):
        if lab.startswith("probe.bind"):
            continue
        add("local probe per candidate (%s)" % lab.split(".", 1)[1], "us",
            res.median("probe", lab, "probe_p50_us"), "one bind()+close() of a TCP socket",
            res.median("probe", "probe.bind", "probe_p50_us"))
    return rows


def write_csv(path, rows, fields):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def table(rows, meta):
    out = ["| figure | portco / measured | baseline | baseline value | ratio | target | met |",
           "| --- | ---: | --- | ---: | ---: | --- | --- |"]
    for r in rows:
        out.append("| %s | %s %s | %s | %s | %s | %s | %s |" % (
            r["figure"], fmt(r["value"]), r["unit"], r["baseline"], fmt(r["baseline_value"]),
            "n/a" if r["ratio"] is None else "%.2f" % r["ratio"], r["target"], r["met"]))
    out.append("")
    out.append("Medians of %s repetitions per figure, measured side by side in one run (%s mode)."
               % (meta.get("reps", "?"), meta.get("mode", "?")))
    return "\n".join(out) + "\n"


def plots(outdir, res, meta):
    inflights = meta.get("inflight", [1, 16, 64])
    agents = meta.get("agents", 4)
    series = [("raw create+delete, 1 session", "zk.cycle", "floor.n%d"),
              ("portco, 1 agent", "portco.cycle", "portco.a1.n%d"),
              ("raw create+delete, %d sessions" % agents, "zk.cycle", "floor.s%d.n%%d" % agents),
              ("portco, %d agents" % agents, "portco.cycle", "portco.a%d.n%%d" % agents),
              ("kazoo Lock", "peer.kazoo_lock", "kazoo.n%d"),
              ("portserver (one host)", "peer.portserver", "portserver.n%d")]
    ns = sorted(set(inflights) | set(meta.get("peer_inflight", [])))
    tp_rows = []
    for n in ns:
        row = {"inflight": n}
        for name, bench, pat in series:
            row[name] = res.median(bench, pat % n, "rate")
        tp_rows.append(row)
    write_csv(os.path.join(outdir, "throughput.csv"), tp_rows, ["inflight"] + [s[0] for s in series])
    fill_rows = []
    for b in range(100):
        p50 = res.median("portco.fill", "fill", "acquire_p50_ms", pct=b + 0.5)
        p99 = res.median("portco.fill", "fill", "acquire_p99_ms", pct=b + 0.5)
        if p50 is not None:
            fill_rows.append({"occupancy_pct": b + 0.5, "p50_ms": p50, "p99_ms": p99})
    write_csv(os.path.join(outdir, "fill.csv"), fill_rows, ["occupancy_pct", "p50_ms", "p99_ms"])

    tp_dat = os.path.join(outdir, "throughput.dat")
    with open(tp_dat, "w") as f:
        for r in tp_rows:
            f.write(" ".join([str(r["inflight"])] + ["NaN" if not r[s[0]] else "%g" % r[s[0]]
                                                     for s in series]) + "\n")
    fill_dat = os.path.join(outdir, "fill.dat")
    with open(fill_dat, "w") as f:
        for r in fill_rows:
            f.write("%g %g %g\n" % (r["occupancy_pct"], r["p50_ms"],
                                    r["p99_ms"] if r["p99_ms"] is not None else float("nan")))
    have = [i for i, sr in enumerate(series) if any(r[sr[0]] for r in tp_rows)]
    plot_lines = ", ".join("'%s' using 1:%d with linespoints title '%s'" % (tp_dat, i + 2,
                                                                            series[i][0])
                           for i in have)
    scripts = []
    if have:
        scripts.append("""
set terminal pngcairo size 1100,560 noenhanced
set datafile missing 'NaN'
set output '{png}'
set title 'Throughput against requests in flight'
set xlabel 'requests in flight'
set ylabel 'operations per second'
set logscale x 2
set logscale y 10
set key outside right top
set grid
plot {lines}
""".format(png=os.path.join(outdir, "throughput.png"), lines=plot_lines))
    if fill_rows:
        scripts.append("""
set terminal pngcairo size 900,560 noenhanced
set output '{png}'
set title 'Acquire latency while the pool ({size} ports) fills'
set xlabel 'pool occupancy (%)'
set ylabel 'acquire latency (ms)'
set xrange [0:100]
set yrange [0:*]
set key top left
set grid
plot '{dat}' using 1:2 with lines title 'p50', '{dat}' using 1:3 with lines title 'p99'
""".format(png=os.path.join(outdir, "fill.png"), dat=fill_dat,
           size=meta.get("fill_size", "?")))
    ok = True
    for i, script in enumerate(scripts):
        gp = os.path.join(outdir, "plot%d.gp" % (i + 1))
        with open(gp, "w") as f:
            f.write(script)
        try:
            subprocess.run(["gnuplot", gp], check=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as e:
            print("report: gnuplot failed: %s" % e, file=sys.stderr)
            ok = False
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    args = ap.parse_args()
    recs = load(os.path.join(args.outdir, "results.jsonl"))
    meta = {}
    meta_path = os.path.join(args.outdir, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    res = Results(recs)
    keys = sorted({k for r in recs for k in r})
    first = [k for k in ("bench", "label", "inflight", "agents", "sessions", "rate") if k in keys]
    write_csv(os.path.join(args.outdir, "results.csv"), recs,
              first + [k for k in keys if k not in first])
    rows = figures(res, meta)
    write_csv(os.path.join(args.outdir, "figures.csv"), rows,
              ["figure", "unit", "value", "baseline", "baseline_value", "ratio", "target", "met",
               "reps"])
    md = table(rows, meta)
    with open(os.path.join(args.outdir, "table.md"), "w") as f:
        f.write(md)
    sys.stdout.write(md)
    ok = plots(args.outdir, res, meta)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
