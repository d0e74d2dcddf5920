#!/usr/bin/env bash
# The test command: install packages, build twice (plain with warnings as
# errors, then ASan+UBSan), and run every test in both builds. The ZooKeeper
# servers the tests need are started and stopped by the tests themselves
# (ctest fixtures and deploy/zk/zk-harness), by pid, in temporary directories.
#
# usage: scripts/test.sh [--plain] [CTEST_ARGS...]
#   --plain      the plain build only, no sanitizer build
#   CTEST_ARGS   passed on to ctest in each build, e.g. -R 'integration.test_http$'
#
# The packages are installed in the caller's environment (apt may need its
# proxy settings). Everything after that (configuring, building, testing)
# runs in the scrubbed environment of scripts/scrub-env.sh: PATH is
# /usr/sbin:/usr/bin:/sbin:/bin, LANG=C.UTF-8, TERM=dumb, TMPDIR=/tmp, HOME a
# fresh empty directory, PYTHONDONTWRITEBYTECODE=1, and nothing else from the
# caller; the sanitizer build adds its ASAN_OPTIONS and UBSAN_OPTIONS. The
# tests therefore see the same environment on every machine.
# Exit status 0 when every test passed and no sanitizer reported anything.
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
cd "$(dirname "$self")/.."
. scripts/scrub-env.sh

if [ "${PORTCO_SCRUBBED:-}" != 1 ]; then
    ./scripts/setup.sh test
    scrub_env_exec "$self" "$@"
fi
scrub_home=
san_logs=
trap 'rm -rf "$scrub_home" "$san_logs"' EXIT
scrub_env_enter test.sh python3 java ss ip openssl setsid cmake ctest cc pkg-config nm gnuplot \
    abidw abidiff clang-format

plain_only=0
if [ "${1:-}" = --plain ]; then
    plain_only=1
    shift
fi
ctest_args=("$@")

jobs=$(nproc)
run_build() {
    local dir=$1
    shift
    echo "== build $dir"
    cmake -S . -B "$dir" -DPORTCO_WERROR=ON -DPORTCO_DAEMONS=ON -DPORTCO_TESTS=ON -DPORTCO_BENCH=ON \
        "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    echo "== test $dir"
    (cd "$dir" && ctest --output-on-failure -j2 --timeout 600 "${ctest_args[@]}")
}

run_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTCO_SANITIZE=OFF
[ "$plain_only" = 0 ] || exit 0

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
    exit 1
fi
echo "== sanitizers: no reports"
