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
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_build build-asan -DCMAKE_BUILD_TYPE=Debug -DPORTCO_SANITIZE=ON
