#!/usr/bin/env bash
# client_only.sh SOURCE_DIR BUILD_DIR CMAKE CC ZK_INCLUDE_DIR
#
# The client-only build and the installed files:
# - SOURCE_DIR configures with PORTCO_DAEMONS=OFF while pkg-config sees only
#   jansson and find_path() cannot see the headers' directory (ZooKeeper,
#   libyaml, libevent and OpenSSL are all invisible); it builds, and installs
#   libportco, portco.h, portco.pc, the CMake package files and the docs, and
#   neither the programs nor the systemd units;
# - an application built from examples/acquire.c links the installed library
#   through `pkg-config --cflags --libs portco` and through find_package(portco),
#   runs, loads the soname of the 0.x policy (libportco.so.0.MINOR) and no
#   ZooKeeper, libyaml, libevent or OpenSSL library; find_package refuses
#   another minor version;
# - BUILD_DIR (a full build) installs with DESTDIR and prefix /usr: the
#   programs, the systemd units running /usr/sbin/portco-*, and the docs;
# - each missing dependency stops the configure with the Debian package's name.
# CMAKE and CC are the CMake and C compiler of the build under test. Every
# command runs in a scrubbed environment; everything is written under one
# temporary directory, removed at exit.
set -euo pipefail

src=$1 full=$2 cmake=$3 cc=$4 zk_include=$5
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pt-client-only.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# clean CMD...: CMD in an environment with nothing from the caller's.
clean() {
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$tmp" TMPDIR="$tmp" LC_ALL=C.UTF-8 "$@"
}

# pcdir DIR [MODULE...]: DIR holds the system's .pc files except MODULE...
pcdir() {
    local dir=$1
    shift
    mkdir -p "$dir"
    local dirs d f name
    IFS=: read -ra dirs <<<"$(clean pkg-config --variable pc_path pkg-config)"
    for d in "${dirs[@]}"; do
        for f in "$d"/*.pc; do
            [ -e "$f" ] || continue
            name=$(basename "$f" .pc)
            [[ " $* " == *" $name "* ]] && continue
            [ -e "$dir/$name.pc" ] || ln -s "$f" "$dir/$name.pc"
        done
    done
}

# The version of the build under test, and the soname it implies: 0.MINOR
# while the major version is 0, else MAJOR.
version_macro() {
    sed -n "s/^#define PORTCO_VERSION_$1 *\([0-9]*\)\$/\1/p" "$full/include/portco_version.h"
}
major=$(version_macro MAJOR) minor=$(version_macro MINOR)
{ [ -n "$major" ] && [ -n "$minor" ]; } || fail "no version in $full/include/portco_version.h"
soname=libportco.so.$major
[ "$major" != 0 ] || soname=libportco.so.0.$minor

# no_daemon_deps WHAT TEXT: TEXT names none of the daemons' libraries.
no_daemon_deps() {
    local hits
    hits=$(grep -iE 'zookeeper|yaml|event|ssl|crypto|criterion' <<<"$2" || true)
    [ -z "$hits" ] || fail "$1 names a daemon dependency: $hits"
}

# needed FILE: the NEEDED entries of an ELF file.
needed() {
    clean readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

# check_app EXE: EXE loads libportco, none of the daemons' libraries, and
# reports the missing agent.
check_app() {
    local exe=$1 libs err st=0
    libs=$(needed "$exe")
    grep -qx "$soname" <<<"$libs" || fail "$exe does not load $soname: $libs"
    no_daemon_deps "$exe's NEEDED" "$libs"
    err=$(clean PORTCO_SOCKET=/nonexistent/agent.sock timeout 20 "$exe" web 2>&1) || st=$?
    [ "$st" -eq 1 ] || fail "$exe exited $st: $err"
    grep -q AGENT_UNAVAILABLE <<<"$err" || fail "$exe without an agent: $err"
}

# --- the client-only build, with the daemons' dependencies invisible
mkdir "$tmp/pc-client"
ln -s "$(clean pkg-config --variable pcfiledir jansson)/jansson.pc" "$tmp/pc-client/"
b=$tmp/client-build prefix=$tmp/prefix
clean PKG_CONFIG_LIBDIR="$tmp/pc-client" "$cmake" -S "$src" -B "$b" -DPORTCO_DAEMONS=OFF \
    -DPORTCO_WERROR=ON -DCMAKE_C_COMPILER="$cc" -DCMAKE_IGNORE_PATH="$zk_include" \
    >"$tmp/log" 2>&1 || fail "client-only configure: $(cat "$tmp/log")"
no_daemon_deps "the client-only CMakeCache.txt" "$(cut -d: -f1 "$b/CMakeCache.txt" | grep -v '^#')"
clean "$cmake" --build "$b" -j2 >"$tmp/log" 2>&1 || fail "client-only build: $(cat "$tmp/log")"
no_daemon_deps "the client-only link lines" "$(find "$b" -name link.txt -exec cat {} +)"
[ -x "$b/examples/example-acquire" ] || fail "the client-only build has no example-acquire"
clean "$cmake" --install "$b" --prefix "$prefix" >"$tmp/log" 2>&1 ||
    fail "client-only install: $(cat "$tmp/log")"

docs=(README.md config/README.md config/examples/agent.yaml config/examples/cluster.yaml)
for f in "$src"/docs/*.md; do
    docs+=("docs/$(basename "$f")")
done
[ ! -e "$src/LICENSE" ] || docs+=(LICENSE)
for f in include/portco.h include/portco_version.h lib/libportco.so "lib/$soname" \
    lib/pkgconfig/portco.pc \
    lib/cmake/portco/portcoConfig.cmake "${docs[@]/#/share/doc/portco/}"; do
    [ -e "$prefix/$f" ] || fail "the client-only install has no $f"
done
for f in bin sbin lib/systemd; do
    [ ! -e "$prefix/$f" ] || fail "the client-only install has $f: $(ls "$prefix/$f")"
done
no_daemon_deps "libportco's NEEDED" "$(needed "$prefix/lib/libportco.so")"

# --- an application through pkg-config
flags=$(clean PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" pkg-config --cflags --libs portco) ||
    fail "pkg-config portco"
# shellcheck disable=SC2086 # the flags are words
clean "$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/acquire-pc" "$src/examples/acquire.c" \
    $flags -Wl,-rpath,"$prefix/lib" >"$tmp/log" 2>&1 || fail "cc with pkg-config: $(cat "$tmp/log")"
check_app "$tmp/acquire-pc"

# --- an application through find_package(portco)
mkdir "$tmp/app"
cat >"$tmp/app/CMakeLists.txt" <<APP
cmake_minimum_required(VERSION 3.25)
project(app LANGUAGES C)
find_package(portco $major.$minor REQUIRED)
add_executable(acquire "$src/examples/acquire.c")
target_link_libraries(acquire PRIVATE portco::portco)
APP
# refused VERSION: find_package(portco VERSION) finds no compatible package.
refused() {
    local d=$tmp/app-$1
    mkdir "$d"
    printf '%s\n' 'cmake_minimum_required(VERSION 3.25)' 'project(app LANGUAGES C)' \
        "find_package(portco $1 REQUIRED)" >"$d/CMakeLists.txt"
    ! clean "$cmake" -S "$d" -B "$d/build" -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/log" 2>&1 ||
        fail "find_package(portco $1) accepted $major.$minor"
    tr -s ' \n' '  ' <"$tmp/log" | grep -q 'compatible with requested version' ||
        fail "find_package(portco $1) failed for another reason: $(cat "$tmp/log")"
}
# A newer minor version is refused; while on 0.x an older one too
# (SameMinorVersion: every 0.x minor release may change the ABI).
refused "$major.$((minor + 1))"
[ "$major" != 0 ] || [ "$minor" = 0 ] || refused "$major.$((minor - 1))"
clean PKG_CONFIG_LIBDIR="$tmp/empty" "$cmake" -S "$tmp/app" -B "$tmp/app/build" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/log" 2>&1 ||
    fail "find_package(portco) configure: $(cat "$tmp/log")"
clean "$cmake" --build "$tmp/app/build" >"$tmp/log" 2>&1 ||
    fail "find_package(portco) build: $(cat "$tmp/log")"
check_app "$tmp/app/build/acquire"

# --- the full build's install: programs, systemd units, docs
dest=$tmp/dest
clean DESTDIR="$dest" "$cmake" --install "$full" --prefix /usr >"$tmp/log" 2>&1 ||
    fail "full install: $(cat "$tmp/log")"
for f in bin/portco sbin/portco-agent sbin/portco-coordinator include/portco.h \
    "${docs[@]/#/share/doc/portco/}"; do
    [ -e "$dest/usr/$f" ] || fail "the full install has no /usr/$f"
done
for unit in "$src"/deploy/systemd/*.service; do
    name=$(basename "$unit")
    f=$dest/usr/lib/systemd/system/$name
    [ -f "$f" ] || fail "the full install has no /usr/lib/systemd/system/$name"
    exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$f")
    [[ "$exe" == /usr/sbin/portco-* ]] || fail "$name runs '$exe', not /usr/sbin/portco-*"
    [ -x "$dest$exe" ] || fail "$name runs $exe, which is not installed"
    # Comments may name the default prefix; no setting may.
    ! grep -v '^#' "$f" | grep -n /usr/local || fail "$name still names /usr/local"
done
grep -qx 'prefix=/usr' "$dest/usr/lib/pkgconfig/portco.pc" ||
    fail "portco.pc under DESTDIR: $(cat "$dest/usr/lib/pkgconfig/portco.pc")"

# --- a missing dependency names its Debian package
n=0
# expect PACKAGE HIDDEN CMAKE-ARG...: a fresh configure with CMAKE-ARG..., while
# pkg-config sees every module but the HIDDEN ones (a space-separated list),
# fails and its message says to install PACKAGE.
expect() {
    local package=$1 hidden=$2 out
    shift 2
    n=$((n + 1))
    # shellcheck disable=SC2086 # the hidden modules are words
    pcdir "$tmp/pc-$n" $hidden
    if out=$(clean PKG_CONFIG_LIBDIR="$tmp/pc-$n" "$cmake" -S "$src" -B "$tmp/fail-$n" \
        -DCMAKE_C_COMPILER="$cc" "$@" 2>&1); then
        fail "configure without '$hidden' with $* succeeded"
    fi
    out=$(tr -s ' \n' '  ' <<<"$out")
    grep -qF "apt-get install $package" <<<"$out" ||
        fail "configure without '$hidden' with $* does not name $package: $out"
}
off=(-DPORTCO_TESTS=OFF -DPORTCO_BENCH=OFF)
expect libjansson-dev jansson -DPORTCO_DAEMONS=OFF
expect libyaml-dev yaml-0.1 "${off[@]}"
expect libevent-dev libevent_openssl "${off[@]}"
expect libssl-dev openssl "${off[@]}"
expect libzookeeper-st-dev "" -DCMAKE_IGNORE_PATH="$zk_include" "${off[@]}"
expect libcriterion-dev criterion -DPORTCO_BENCH=OFF
expect pkg-config "" -DPKG_CONFIG_EXECUTABLE=/nonexistent/pkg-config "${off[@]}"
echo "client-only build, installs and $n missing-dependency messages: ok"
