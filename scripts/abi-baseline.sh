#!/usr/bin/env bash
# Regenerate tests/abi/libportco.abi, the ABI baseline that ctest abi.libportco
# compares the built libportco with (tests/abi/abi.sh).
#
# usage: scripts/abi-baseline.sh [BUILD_DIR]    BUILD_DIR: a plain build, default build/
#
# Run it when an ABI change is deliberate, after building, and commit the new
# baseline with the change that made it: the diff of the baseline is the
# record of the decision. The build must have debug information
# (RelWithDebInfo, the default, or Debug) and no sanitizers.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
build=$(readlink -f "${1:-build}")
lib=$build/lib/client/libportco.so
[ -e "$lib" ] || {
    echo "abi-baseline: no $lib: build first (cmake --build $build)" >&2
    exit 1
}
if nm -D "$lib" | grep -q __asan_init; then
    echo "abi-baseline: $lib is built with sanitizers; use a plain build" >&2
    exit 1
fi
readelf -S "$lib" | grep -q '\.debug_info' || {
    echo "abi-baseline: $lib has no debug information; build with RelWithDebInfo or Debug" >&2
    exit 1
}
tests/abi/abi.sh dump "$lib" . "$build" >tests/abi/libportco.abi.new
mv tests/abi/libportco.abi.new tests/abi/libportco.abi
echo "abi-baseline: wrote tests/abi/libportco.abi from $(readlink -f "$lib")"
