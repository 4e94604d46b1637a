#!/usr/bin/env bash
# Quick start, command 1: installs what is missing (Debian 12), builds Release and runs turnpike
# in the foreground on its embedded default config (STUN/TURN on UDP and TCP 0.0.0.0:3478).
# Extra arguments go to turnpike, e.g. ./deploy/quickstart.sh --config my.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/lib/packages.sh
source deploy/lib/packages.sh

ensure_packages "${TURNPIKE_BUILD_PACKAGES[@]}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTURNPIKE_BUILD_TESTS=OFF -DTURNPIKE_BUILD_BENCHMARKS=OFF
cmake --build build -j"$(nproc)" --target turnpike
echo "starting build/turnpike $* (Ctrl-C stops it)"
exec build/turnpike "$@"
