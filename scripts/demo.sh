#!/usr/bin/env bash
# The quick start: build, then run portco's main job on a local default —
# a throwaway ZooKeeper on loopback, a coordinator publishing
# config/examples/quickstart/cluster.yaml, one agent, and a real claim shown
# through the CLI and through ZooKeeper's own zkCli.sh. Everything it starts
# runs in a temp dir and is stopped by pid on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

./scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

work=$(mktemp -d /tmp/portco-demo.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    "$top/deploy/zk/zk-harness" stop --dir "$work/zk" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() {
    printf '$ %s\n' "$*"
    "$@"
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

step "ZooKeeper (standalone, loopback, data in $work/zk)"
zk=$("$top/deploy/zk/zk-harness" start --dir "$work/zk")
echo "connect string: $zk"

portco=$top/build/cli/portco
export PORTCO_SOCKET=$work/agent.sock
root=/portco

step "portco-coordinator: validates and publishes the pools"
show "$portco" lint config/examples/quickstart/cluster.yaml
"$top/build/coordinator/portco-coordinator" --config config/examples/quickstart/cluster.yaml \
    --zk "$zk" --root "$root" 2>"$work/coordinator.log" &
pids+=($!)

step "portco-agent: one per host"
"$top/build/agent/portco-agent" --zk "$zk" --host-id "$(hostname)" --socket "$PORTCO_SOCKET" \
    --root "$root" 2>"$work/agent.log" &
pids+=($!)
agent_ready() { "$portco" status --json | grep -q '"ready": *true'; }
wait_for 30 "the agent to load the published pools" agent_ready
show "$portco" status

step "A real claim: a port free on this host and claimed cluster-wide"
show "$portco" acquire --pool web --service demo --json
port=$("$portco" acquire --pool web --service demo-2)
echo "second claim: port $port"

step "Every claim in the cluster"
show "$portco" ls

step "The same claims in ZooKeeper, with zkCli.sh"
zkcli() { /usr/share/zookeeper/bin/zkCli.sh -server "$zk" "$@" 2>/dev/null | grep -v -e '^WATCHER' -e '^WatchedEvent' -e '^$' -e 'JLine' -e '^Connecting'; }
show zkcli ls "$root/pools/web/ports"
claim=$(zkcli ls "$root/pools/web/ports/$port" | tail -1 | tr -d '[] ')
show zkcli get "$root/pools/web/ports/$port/$claim"

step "The local probe: who is on the port, and is it usable"
show "$portco" who "$port" || true
show "$portco" check "$port" || true

step "Release"
show "$portco" release --pool web "$port"
show "$portco" ls
echo
echo "demo: done (logs were in $work; everything started is being stopped)"
