#!/usr/bin/env bash
# smoke.sh - the ctest entry: run the quick benchmark and check that it produced its outputs.
# usage: bench/smoke.sh BUILD_DIR OUT_DIR
# Checks that the benchmark works (table, CSV files and plots written, every
# driver succeeded), never how fast anything was.
set -euo pipefail
build=${1:?build dir}
out=${2:?output dir}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rm -rf "$out"
"$here/run.sh" --quick --build "$build" --no-build --out "$out"
fail=0
for f in results.jsonl results.csv figures.csv throughput.csv fill.csv table.md throughput.png \
    fill.png meta.json; do
    if [ ! -s "$out/$f" ]; then
        echo "smoke: $out/$f is missing or empty" >&2
        fail=1
    fi
done
for b in zk.cycle zk.pipeline zk.multi portco.cycle portco.fill portco.hold peer.kazoo_lock \
    peer.portserver probe scale; do
    grep -q "\"bench\": *\"$b\"" "$out/results.jsonl" || {
        echo "smoke: no $b record in results.jsonl" >&2
        fail=1
    }
done
grep -q '^| acquire+release, 1 agent, 64 in flight |' "$out/table.md" || {
    echo "smoke: table.md lacks the throughput rows" >&2
    fail=1
}
for p in throughput.png fill.png; do
    head -c 8 "$out/$p" | od -An -c | grep -q 'P   N   G' || {
        echo "smoke: $p is not a PNG" >&2
        fail=1
    }
done
[ "$fail" = 0 ] && echo "smoke: quick benchmark produced its table, CSV files and plots"
exit "$fail"
