#!/usr/bin/env bash
# abi.sh - libportco's ABI against the committed baseline (abigail-tools).
#
# usage: tests/abi/abi.sh dump LIBRARY SOURCE_DIR BUILD_DIR
#        tests/abi/abi.sh check BASELINE LIBRARY SOURCE_DIR BUILD_DIR
#
# dump   writes the ABI of LIBRARY to stdout: abidw's XML of the functions
#        and types that portco.h and portco_version.h (SOURCE_DIR/include,
#        BUILD_DIR/include) declare, without paths or line numbers, so that
#        it changes only when the ABI does.
# check  compares LIBRARY with BASELINE (tests/abi/libportco.abi) with
#        abidiff. Exit 0 when nothing changed or only functions were added
#        (the additions are listed); exit 1 for any other change (a removed
#        function, a changed signature, a changed struct, even one using a
#        reserved word as portco.h allows, a new soname), with abidiff's
#        report and what to do. Exit 77 (skipped) when LIBRARY has no debug
#        information to read types from (a build type without -g).
set -euo pipefail

usage() {
    sed -n 's/^# \{0,1\}//; 4,5p' "$0" >&2
    exit 2
}

need() {
    command -v "$1" >/dev/null || {
        echo "abi.sh: $1 is not installed: apt-get install abigail-tools (scripts/setup.sh test)" >&2
        exit 1
    }
}

# dump LIBRARY SOURCE_DIR BUILD_DIR
dump() {
    need abidw
    abidw --drop-private-types --no-corpus-path --no-comp-dir-path --no-show-locs \
        --headers-dir "$2/include" --headers-dir "$3/include" "$1"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
dump)
    [ $# -eq 3 ] || usage
    dump "$@"
    ;;
check)
    [ $# -eq 4 ] || usage
    baseline=$1 lib=$2 src=$3 build=$4
    need abidiff
    need readelf
    [ -f "$baseline" ] || {
        echo "abi.sh: no baseline $baseline: create it with scripts/abi-baseline.sh" >&2
        exit 1
    }
    if ! readelf -S "$lib" | grep -q '\.debug_info'; then
        echo "abi.sh: $lib has no debug information (build type without -g): check skipped"
        exit 77
    fi
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/pt-abi.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    dump "$lib" "$src" "$build" >"$tmp/built.abi"
    # Additions are compatible: compare without them first, then list them.
    st=0
    abidiff --no-added-syms "$baseline" "$tmp/built.abi" >"$tmp/report" 2>&1 || st=$?
    if [ "$st" -ne 0 ]; then
        cat "$tmp/report"
        cat <<MSG

abi.sh: libportco's ABI differs from the baseline $baseline (abidiff exit $st).
If the change is a mistake, undo it. If it is deliberate (a new 0.x minor
release, or a reserved word given a meaning as portco.h allows), regenerate
the baseline from a plain build and commit it with the change:
    scripts/abi-baseline.sh $build
MSG
        exit 1
    fi
    st=0
    abidiff "$baseline" "$tmp/built.abi" >"$tmp/report" 2>&1 || st=$?
    if [ "$st" -ne 0 ]; then
        cat "$tmp/report"
        echo "abi.sh: additions only: compatible. Regenerate the baseline" \
            "(scripts/abi-baseline.sh) to cover them."
    else
        echo "abi.sh: the ABI matches $baseline"
    fi
    ;;
*) usage ;;
esac
