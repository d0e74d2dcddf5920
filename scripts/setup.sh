#!/usr/bin/env bash
# Install every Debian package portco builds, tests, benchmarks and runs with.
# Idempotent: installs only what is missing, and refreshes the package lists
# only when something has to be installed. Needs root (or sudo).
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config git
    # libraries
    libzookeeper-st-dev libyaml-dev libjansson-dev libevent-dev libssl-dev
    # tests
    libcriterion-dev zookeeper default-jre-headless iproute2 procps python3 openssl
    # benchmarks and the handoff examples
    gnuplot-nox python3-kazoo python3-portpicker
)

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
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
