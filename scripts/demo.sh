#!/usr/bin/env bash
# The quick start: build, then run portco's main job on a local default — a
# throwaway ZooKeeper on loopback, a coordinator publishing
# config/examples/quickstart/cluster.yaml, one agent, a claim made with the
# CLI, a real HTTP server started by `portco run` on the socket of the port it
# claimed, and the claims shown through the CLI and through ZooKeeper's own
# zkCli.sh. Every claim is released before the end.
#
# Installs the packages it needs (scripts/setup.sh demo) in the caller's
# environment, then runs everything else in the scrubbed environment of
# scripts/scrub-env.sh (PATH=/usr/sbin:/usr/bin:/sbin:/bin, LANG=C.UTF-8,
# TERM=dumb, TMPDIR=/tmp, HOME a fresh empty directory, nothing else from
# the caller). Builds the daemons and the CLI in build-demo/ (one line per
# step; the full output and the daemons' logs stay in build-demo/logs/).
# Everything it starts runs in a temp dir and is stopped by pid on exit; the
# pids are printed. Headings are bold only when stdout is a terminal.
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
cd "$(dirname "$self")/.."
. scripts/scrub-env.sh

if [ "${PORTCO_SCRUBBED:-}" != 1 ]; then
    ./scripts/setup.sh demo
    scrub_env_exec "$self" "$@"
fi
top=$(pwd)
build=$top/build-demo
logs=$build/logs
work=
scrub_home=
pids=()   # started by this script, stopped in reverse order
names=()  # what each pid is, for the closing lines
stopped=0

# stop_all: SIGTERM every process started, SIGKILL after 10 s, then the
# ZooKeeper server through its harness (which also stops it by pid).
stop_all() {
    local i pid
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid=${pids[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$work" ] && [ -d "$work/zk" ]; then
        "$top/deploy/zk/zk-harness" stop --dir "$work/zk" >/dev/null 2>&1 || true
    fi
    stopped=1
}

cleanup() {
    local rc=$?
    [ "$stopped" = 1 ] || stop_all
    if [ "$rc" -ne 0 ] && [ -d "$logs" ]; then
        printf '\ndemo: failed (exit %s); the logs are in %s:\n' "$rc" "$logs" >&2
        for f in "$logs"/*.log; do
            # build.log's end was shown when the build failed.
            if [ ! -s "$f" ] || [ "$f" = "$logs/build.log" ]; then
                continue
            fi
            echo "--- the end of $f" >&2
            tail -n 15 "$f" >&2
        done
    fi
    [ -z "$work" ] || rm -rf "$work"
    [ -z "$scrub_home" ] || rm -rf "$scrub_home"
    exit "$rc"
}
trap cleanup EXIT
# A signal ends the demo through cleanup with the shell's usual status.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
scrub_env_enter demo.sh python3 java cmake cc hostname

if [ -t 1 ]; then
    step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    step() { printf '\n== %s\n' "$*"; }
fi
# show COMMAND...: print the command as typed, then run it.
show() {
    printf '$ %s\n' "$*"
    "$@"
}
# logged DESCRIPTION LOG COMMAND...: one line saying what runs, the output in
# LOG; on failure the end of LOG and exit 1.
logged() {
    local what=$1 log=$2 start=$SECONDS
    shift 2
    printf 'build: %s (log: %s) ... ' "$what" "${log#"$top"/}"
    if "$@" >>"$log" 2>&1 </dev/null; then
        echo "done in $((SECONDS - start)) s"
    else
        echo "failed"
        echo "--- the end of $log" >&2
        tail -n 25 "$log" >&2
        exit 1
    fi
}
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: poll with a deadline
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "demo: timed out waiting for $what" >&2
            return 1
        fi
        sleep 0.1
    done
}
started() { # started PID NAME: remember a process to stop, and say so
    pids+=("$1")
    names+=("$2 (pid $1)")
    echo "started $2: pid $1"
}

mkdir -p "$logs"
rm -f "$logs"/*.log
step "Build: the daemons and the CLI"
logged "configuring $(basename "$build")" "$logs/build.log" \
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTCO_DAEMONS=ON -DPORTCO_TESTS=OFF \
        -DPORTCO_BENCH=OFF
logged "compiling portco, portco-agent and portco-coordinator" "$logs/build.log" \
    cmake --build "$build" -j"$(nproc)" --target portco-cli portco-agent portco-coordinator

work=$(mktemp -d /tmp/portco-demo.XXXXXX)
bin=$build
portco() { "$bin/cli/portco" "$@"; }
export PORTCO_SOCKET=$work/agent.sock
root=/portco

step "ZooKeeper: standalone, on loopback, data in $work/zk"
zk=$("$top/deploy/zk/zk-harness" start --dir "$work/zk")
echo "started ZooKeeper: pid $(cat "$work/zk/node1/pid"), connect string $zk"

step "portco-coordinator: validates the cluster file and publishes its pools"
show portco lint config/examples/quickstart/cluster.yaml
"$bin/coordinator/portco-coordinator" --config config/examples/quickstart/cluster.yaml \
    --zk "$zk" --root "$root" 2>"$logs/coordinator.log" &
started $! portco-coordinator

step "portco-agent: one per host, the only writer of claims"
"$bin/agent/portco-agent" --zk "$zk" --host-id "$(hostname)" --socket "$PORTCO_SOCKET" \
    --root "$root" 2>"$logs/agent.log" &
started $! portco-agent
agent_ready() { portco status --json | grep -q '"ready": *true'; }
wait_for 30 "the agent to load the published pools" agent_ready
show portco status

step "A claim from the CLI: a port free on this host and claimed cluster-wide"
printf '$ %s\n' "portco acquire --pool web --service demo"
port=$(portco acquire --pool web --service demo)
echo "$port"
echo "An explicit claim: it stays until 'portco release' (or until the agent stops)."
echo "Until a program takes the port, the agent holds it bound, so nothing else can."

step "portco run: a real server started on the socket of the port it claimed"
echo "portco run claims a port and starts the server with the bound, listening"
echo "socket as fd 3 (systemd's LISTEN_FDS convention): the server never binds"
echo "a port itself. The claim lasts as long as the server runs."
server=examples/handoff/serve_fd3.py
printf '$ %s &\n' "portco run --pool web --service demo-web -- python3 $server"
"$bin/cli/portco" run --pool web --service demo-web -- python3 "$server" \
    >"$logs/server.out" 2>"$logs/server.log" &
run_pid=$!
started "$run_pid" "portco run"
# Ready when the server has printed its ready line, or when portco run has exited.
server_ready() { grep -q '"ready"' "$logs/server.out" || ! kill -0 "$run_pid"; }
wait_for 30 "the server's ready line" server_ready
if ! grep -q '"ready"' "$logs/server.out"; then
    echo "demo: portco run exited before the server was ready" >&2
    exit 1
fi
read -r web_port server_pid < <(python3 -c 'import json, sys
d = json.loads(sys.stdin.readline())
print(d["port"], d["pid"])' <"$logs/server.out")
echo "the server (python3, pid $server_pid) says: $(head -1 "$logs/server.out")"
# fetch URL: GET with python3's urllib, print the body.
fetch() {
    python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"
}
echo "fetch: a GET with python3's urllib"
show fetch "http://127.0.0.1:$web_port/hello"

step "Every claim in the cluster"
show portco ls

step "The same claims in ZooKeeper, with zkCli.sh"
zkcli() {
    /usr/share/zookeeper/bin/zkCli.sh -server "$zk" "$@" 2>/dev/null |
        grep -v -e '^WATCHER' -e '^WatchedEvent' -e '^$' -e 'JLine' -e '^Connecting'
}
show zkcli ls "$root/pools/web/ports"
claim=$(zkcli ls "$root/pools/web/ports/$port" | tail -1 | tr -d '[] ')
show zkcli get "$root/pools/web/ports/$port/$claim"

step "The local probe: who is on the server's port, and can anyone else use it"
show portco who "$web_port" || true
show portco check "$web_port" || true

step "Stop the server: its claim ends with it"
show kill -TERM "$run_pid"
echo "portco run passes SIGTERM on to the server and exits with its status:"
status=0
wait "$run_pid" || status=$?
echo "portco run exited $status"
web_released() { ! portco ls --pool web | grep -q " demo-web "; }
wait_for 30 "the agent to release the server's claim" web_released
show portco ls

step "Release the CLI's claim"
show portco release --pool web "$port"
show portco ls

step "Stop the agent, the coordinator and ZooKeeper"
zk_pid=$(cat "$work/zk/node1/pid")
stop_all
# running PID: true while PID runs (a zombie waiting for init to reap it has ended).
running() {
    local state
    state=$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ]
}
left=()
for p in "${pids[@]}" "$zk_pid"; do
    running "$p" && left+=("$p")
done
if [ ${#left[@]} -gt 0 ]; then
    echo "demo: still running: ${left[*]}" >&2
    exit 1
fi
names+=("ZooKeeper (pid $zk_pid)")
printf 'stopped: %s' "${names[0]}"
printf ', %s' "${names[@]:1}"
printf '\nnone of them is running any more\n'
echo
echo "demo: done (logs in ${logs#"$top"/}/)"
