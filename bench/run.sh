#!/usr/bin/env bash
# run.sh - the benchmark entry command: portco against raw ZooKeeper and against peer tools.
#
# usage: bench/run.sh [--quick|--full] [--out DIR] [--build DIR] [--no-build] [--reps N]
#                     [--sections tp,fill,probe,scale] [--fill-reps N]
#
# Starts what it needs (a standalone ZooKeeper through deploy/zk/zk-harness,
# a coordinator publishing the benchmark pools, agents), runs every driver
# side by side, repeating the set --reps times (medians are reported), and
# writes into DIR: results.jsonl (raw records), results.csv, figures.csv,
# throughput.csv, fill.csv, table.md, throughput.png, fill.png, meta.json and
# the daemons' logs. Prints the markdown table. Everything it started is
# stopped by pid on exit, also on failure or interruption.
# --quick (the default) takes well under a minute and only shows that the
# benchmark works; --full is the measurement recorded in docs/performance.md.
# --sections runs only some parts (default all): tp (throughput, latency,
# ceilings, peers), fill (pool fill curve), probe, scale.
set -euo pipefail

# The whole script is one function, read completely before it runs, so that
# editing this file while a long run goes on cannot change the running one.
main() {

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3 # the Debian interpreter, where python3-kazoo and python3-portpicker live
mode=quick
out=
build=
do_build=1
reps=
fill_reps_opt=
sections=tp,fill,probe,scale

while [ $# -gt 0 ]; do
    case $1 in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    --build) build=${2:?--build needs a directory}; shift ;;
    --no-build) do_build=0 ;;
    --reps) reps=${2:?--reps needs a number}; shift ;;
    --sections) sections=${2:?--sections needs a list}; shift ;;
    --fill-reps) fill_reps_opt=${2:?--fill-reps needs a number}; shift ;;
    -h | --help) usage ;;
    *) echo "run.sh: unknown option $1" >&2; usage ;;
    esac
    shift
done

if [ "$mode" = quick ]; then
    : "${reps:=1}"
    dur=0.4 warm=0.15 inflight=(1 16 64) agents=2 peer_inflight=(1 16)
    pipe_inflight=256 multi_batch=16 multi_inflight=16
    fill_size=200 fill_range=10000-10199 fill_reps=1
    scale_agents=4 scale_claims=100 scale_deadline=120 probe_count=100 probe_listeners=0
else
    : "${reps:=5}"
    dur=3 warm=0.5 inflight=(1 16 64) agents=4 peer_inflight=(1 16)
    pipe_inflight=256 multi_batch=16 multi_inflight=16
    fill_size=10000 fill_range=10000-19999 fill_reps=2
    scale_agents=32 scale_claims=10000 scale_deadline=300 probe_count=300 probe_listeners=5000
fi
fill_reps=${fill_reps_opt:-$fill_reps}
[[ $reps =~ ^[1-9][0-9]*$ && $fill_reps =~ ^[1-9][0-9]*$ ]] || {
    echo "run.sh: --reps and --fill-reps must be positive numbers" >&2
    exit 2
}

build=${build:-$ROOT/build}
if [ "$do_build" = 1 ]; then
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S "$ROOT" -B "$build" >/dev/null
    fi
    cmake --build "$build" -j"$(nproc)" --target bench portco-agent portco-coordinator >/dev/null
fi
ZKBENCH=$build/bench/zkbench
PCBENCH=$build/bench/pcbench
PROBEBENCH=$build/bench/probebench
AGENT=$build/agent/portco-agent
COORD=$build/coordinator/portco-coordinator
HARNESS=$ROOT/deploy/zk/zk-harness
for b in "$ZKBENCH" "$PCBENCH" "$PROBEBENCH" "$AGENT" "$COORD"; do
    [ -x "$b" ] || { echo "run.sh: $b is not built" >&2; exit 1; }
done

out=${out:-$build/bench-out/$mode-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/results.jsonl"
work=$(mktemp -d "${TMPDIR:-/tmp}/portco-bench.XXXXXX")
zkdir=$work/zk
PIDS=()
DRIVER=

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# running PID: the process exists and has not exited (an exited child of this
# shell stays a zombie until it is reaped, and kill -0 still succeeds on it).
running() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "${st%% *}" != Z ]
}

# stop_pid PID: TERM, wait up to 10 s, then KILL; only processes this script started.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        running "$pid" || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    local pid
    [ -z "$DRIVER" ] || stop_pid "$DRIVER"
    # Daemons in parallel: TERM to all, then wait for each (stop_pid's deadline).
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid"
    done
    if [ -d "$zkdir" ]; then
        "$HARNESS" stop --dir "$zkdir" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "mode $mode, $reps repetition(s), output in $out"
zk=$("$HARNESS" start --dir "$zkdir" | tail -1)
log "ZooKeeper at $zk"
zkroot=/portco-bench

# The pools stay below the kernel's ephemeral range (32768-60999 by default),
# where outgoing connections and the servers' own ports would make some
# candidates unusable, and apart from each other and from the portserver's.
cat >"$work/cluster.yaml" <<YAML
# Pools of the benchmark run.
root: $zkroot
pools:
  - name: tp
    range: 9000-9999
    proto: tcp
    scope: cluster
  - name: fill
    range: $fill_range
    proto: tcp
    scope: cluster
  - name: scale
    range: 20000-32000
    proto: tcp
    scope: cluster
YAML

"$COORD" --config "$work/cluster.yaml" --zk "$zk" --root "$zkroot" \
    >"$out/coordinator.log" 2>&1 &
PIDS+=($!)
# Agents start once the pools are published, as in a deployment where the
# coordinator runs first.
"$PY" - "$zk" "$zkroot/config/pools" <<'PY'
import sys, time
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1])
zk.start(timeout=15)
deadline = time.monotonic() + 60
try:
    while len(zk.get_children(sys.argv[2]) if zk.exists(sys.argv[2]) else []) < 3:
        if time.monotonic() > deadline:
            sys.exit("run.sh: the coordinator did not publish the pools within 60 s")
        time.sleep(0.05)
finally:
    zk.stop()
    zk.close()
PY

# start_agents N PREFIX: start N agents; their sockets go to the array SOCKS_<PREFIX>.
AGENT_PIDS=()
DRIVER=
start_agent() {
    local id=$1
    cat >"$work/$id.yaml" <<YAML
zookeeper: $zk
root: $zkroot
host_id: $id
socket: $work/$id.sock
state_file: ""
YAML
    "$AGENT" --config "$work/$id.yaml" >"$out/agent-$id.log" 2>&1 &
    PIDS+=($!)
    AGENT_PIDS+=($!)
}

failures=0
# emit CMD...: run a driver, append its records, show them on stderr. A failed
# driver is counted and the run goes on; run.sh then exits 1 after the report.
# The driver runs in the background and is waited for, so that a TERM or INT
# reaches the traps at once (bash runs traps only between foreground commands).
emit() {
    local rc=0
    "$@" >"$work/records" &
    DRIVER=$!
    wait "$DRIVER" || rc=$?
    DRIVER=
    cat "$work/records" >>"$out/results.jsonl"
    cat "$work/records" >&2
    if [ "$rc" -ne 0 ]; then
        failures=$((failures + 1))
        log "FAILED (exit $rc): ${*:1:3} ..."
    fi
}

max_agents=$agents
for ((i = 1; i <= max_agents; i++)); do start_agent "bench-a$i"; done
socks=()
for ((i = 1; i <= max_agents; i++)); do socks+=(--socket "$work/bench-a$i.sock"); done
"$PCBENCH" --mode ready --pool tp "${socks[@]}" --timeout 60 --label ready
log "agents ready: $max_agents"

for ((rep = 1; rep <= reps; rep++)); do
    want tp || break
    log "repetition $rep/$reps: throughput and latency"
    for n in "${inflight[@]}"; do
        emit "$ZKBENCH" --zk "$zk" --mode cycle --inflight "$n" --duration "$dur" --warmup "$warm" \
            --root "$zkroot/raw" --label "floor.n$n"
        emit "$PCBENCH" --mode cycle --pool tp --socket "$work/bench-a1.sock" --inflight "$n" \
            --duration "$dur" --warmup "$warm" --label "portco.a1.n$n"
    done
    for n in "${inflight[@]}"; do
        [ "$n" -ge "$agents" ] || continue
        emit "$ZKBENCH" --zk "$zk" --mode cycle --inflight "$n" --sessions "$agents" \
            --duration "$dur" --warmup "$warm" --root "$zkroot/raw" --label "floor.s$agents.n$n"
        emit "$PCBENCH" --mode cycle --pool tp "${socks[@]}" --inflight "$n" \
            --duration "$dur" --warmup "$warm" --label "portco.a$agents.n$n"
    done
    emit "$ZKBENCH" --zk "$zk" --mode pipeline --inflight "$pipe_inflight" --duration "$dur" \
        --warmup "$warm" --root "$zkroot/raw" --label ceiling.pipeline
    emit "$ZKBENCH" --zk "$zk" --mode multi --inflight "$multi_inflight" --batch "$multi_batch" \
        --duration "$dur" --warmup "$warm" --root "$zkroot/raw" --label ceiling.multi
    for n in "${peer_inflight[@]}"; do
        emit "$PY" "$ROOT/bench/peers/kazoo_lock.py" --zk "$zk" --inflight "$n" \
            --duration "$dur" --warmup "$warm" --label "kazoo.n$n"
        emit "$PY" "$ROOT/bench/peers/portserver_bench.py" --inflight "$n" --duration "$dur" \
            --warmup "$warm" --pool 1100-8999 --log "$out/portserver.log" --label "portserver.n$n"
    done
done

for ((rep = 1; rep <= fill_reps; rep++)); do
    want fill || break
    log "pool fill $rep/$fill_reps: $fill_size ports"
    emit "$PCBENCH" --mode fill --pool fill --socket "$work/bench-a1.sock" \
        --pool-size "$fill_size" --rss-pid "${AGENT_PIDS[0]}" --label fill
done

if want probe; then
    log "local probe cost"
    emit "$PROBEBENCH" --first 50000 --count "$probe_count"
    if [ "$probe_listeners" -gt 0 ]; then
        emit "$PROBEBENCH" --first 50000 --count "$probe_count" --listeners "$probe_listeners"
    fi
fi

if want scale; then
    log "scale: $scale_agents agents, $scale_claims claims"
    for ((i = max_agents + 1; i <= scale_agents; i++)); do start_agent "bench-a$i"; done
    ssocks=()
    for ((i = 1; i <= scale_agents; i++)); do ssocks+=(--socket "$work/bench-a$i.sock"); done
    "$PCBENCH" --mode ready --pool scale "${ssocks[@]}" --timeout 120 --label ready
    spids=()
    for pid in "${AGENT_PIDS[@]}"; do spids+=(--pid "$pid"); done
    emit "$PY" "$ROOT/bench/scale.py" --zk "$zk" --harness "$HARNESS" --harness-dir "$zkdir" \
        --pcbench "$PCBENCH" --pool scale --claims "$scale_claims" --inflight 32 --hold-deadline "$scale_deadline" \
        --timeout $((scale_deadline + 120)) \
        "${spids[@]}" "${ssocks[@]}"
fi

join() { local IFS=,; echo "$*"; }
"$PY" - "$out/meta.json" <<PY
import json, os, platform, subprocess, sys
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
meta = {"mode": "$mode", "reps": $reps, "inflight": [$(join "${inflight[@]}")],
        "agents": $agents, "peer_inflight": [$(join "${peer_inflight[@]}")],
        "pipeline_inflight": $pipe_inflight, "multi_batch": $multi_batch,
        "multi_inflight": $multi_inflight, "fill_size": $fill_size, "fill_reps": $fill_reps,
        "scale_agents": $scale_agents, "scale_claims": $scale_claims,
        "duration_s": $dur, "warmup_s": $warm, "session_timeout_s": 10,
        "scale_deadline_s": $scale_deadline, "sections": "$sections",
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
                    "memory_mib": int(sh("awk '/MemTotal/ {print int(\$2/1024)}' /proc/meminfo") or 0),
                    "os": sh(". /etc/os-release && echo \$PRETTY_NAME"),
                    "zookeeper": sh("dpkg-query -W -f='\${Version}' zookeeper"),
                    "java": sh("java -version 2>&1 | head -1")},
        "commit": sh("git -C '$ROOT' rev-parse --short HEAD"),
        "date": sh("date -u +%Y-%m-%dT%H:%M:%SZ")}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
PY
"$PY" "$ROOT/bench/report.py" "$out"
log "done: $out"
if [ "$failures" -gt 0 ]; then
    log "$failures driver run(s) failed; their figures are missing from the table"
    exit 1
fi
}

usage() {
    sed -n '4,5p' "$0" | sed 's/^# //' >&2
    exit 2
}

# want SECTION: true when SECTION is in the --sections list.
want() {
    [[ ,$sections, == *,$1,* ]]
}

# On one line: bash has read the exit before main runs.
main "$@"; exit
