#!/usr/bin/env bash
# Install the Debian packages portco builds, tests, benchmarks and runs with.
#
# usage: scripts/setup.sh [GROUP...]    GROUP: demo, test, bench or all (the default)
#
#   demo   building the daemons and the CLI, and running scripts/demo.sh
#   test   everything scripts/test.sh runs: the tests and the benchmark smoke test
#   bench  bench/run.sh (which builds the tests too, so Criterion is included)
#   all    every group
#
# Idempotent: installs only what is missing, and refreshes the package lists
# only when something has to be installed. Prints one line per step; apt's
# own output goes to a log file in /tmp, whose tail and path are printed when
# a step fails. Needs root (or sudo).
set -euo pipefail

build=(
    build-essential cmake pkg-config git
    libzookeeper-st-dev libyaml-dev libjansson-dev libevent-dev libssl-dev
)
# The throwaway ZooKeeper (deploy/zk/zk-harness runs it with java and talks to
# it with python3) and the demo's HTTP server, which is python3 too.
runtime=(zookeeper default-jre-headless python3)
# Test-only: Criterion; ip and ss (iproute2); openssl for the TLS tests;
# systemd-socket-activate for the handoff test of the systemd recipe;
# abidw and abidiff (abigail-tools) for libportco's ABI check.
# clang-format for the layout check of every C file (scripts/check-format.sh).
tests=(libcriterion-dev iproute2 procps openssl systemd abigail-tools clang-format)
# The benchmark's plots and peers (also run by the test suite's smoke test).
bench=(gnuplot-nox python3-kazoo python3-portpicker)

[ $# -gt 0 ] || set -- all
packages=("${build[@]}")
for group in "$@"; do
    case $group in
    demo) packages+=("${runtime[@]}") ;;
    test | all) packages+=("${runtime[@]}" "${tests[@]}" "${bench[@]}") ;;
    bench) packages+=("${runtime[@]}" libcriterion-dev "${bench[@]}") ;;
    *)
        echo "usage: $0 [demo|test|bench|all]..." >&2
        exit 2
        ;;
    esac
done
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#packages[@]} packages present"
    exit 0
fi

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
log=$(mktemp /tmp/portco-setup.XXXXXX.log)

# run DESCRIPTION COMMAND...: one line saying what runs; on failure the log's
# tail and its path, and exit 1.
run() {
    local what=$1
    shift
    echo "setup: $what (log: $log)"
    echo "+ $*" >>"$log"
    if ! "$@" >>"$log" 2>&1 </dev/null; then
        echo "setup: failed: $what; the end of $log:" >&2
        tail -n 25 "$log" >&2
        exit 1
    fi
}

# Through env: sudo would drop DEBIAN_FRONTEND from the environment.
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
echo "missing: ${missing[*]}" >>"$log"
run "refreshing the package lists" "${apt[@]}" update
noun=packages
[ ${#missing[@]} -gt 1 ] || noun=package
run "installing ${#missing[@]} $noun" "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
echo "setup: done"
