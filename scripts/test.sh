#!/usr/bin/env bash
# The test command: install packages, build twice (plain with warnings as
# errors, then ASan+UBSan), and run every test in both builds. The ZooKeeper
# servers the tests need are started and stopped by the tests themselves
# (ctest fixtures and deploy/zk/zk-harness), by pid, in temporary directories.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

jobs=$(nproc)
run_build() {
    local dir=$1
    shift
    echo "== build $dir"
    cmake -S . -B "$dir" -DPORTCO_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    echo "== test $dir"
    (cd "$dir" && ctest --output-on-failure -j2 --timeout 600)
}

run_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo

# Sanitizer reports go to files: Criterion runs each test in a child process
# whose leak report would otherwise be printed and not fail the test. Any
# report from any process (tests, agents, coordinators, the CLI) fails the run.
san_logs=$(mktemp -d /tmp/portco-san.XXXXXX)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$san_logs/asan
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$san_logs/ubsan
run_build build-asan -DCMAKE_BUILD_TYPE=Debug -DPORTCO_SANITIZE=ON
unset ASAN_OPTIONS UBSAN_OPTIONS
if compgen -G "$san_logs/*" >/dev/null; then
    echo "== sanitizer reports"
    for f in "$san_logs"/*; do
        echo "--- $f"
        cat "$f"
    done
    rm -rf "$san_logs"
    exit 1
fi
rm -rf "$san_logs"
echo "== sanitizers: no reports"
