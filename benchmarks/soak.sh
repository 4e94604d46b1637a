#!/usr/bin/env bash
# The long soak: the reliability suite's churn test (tests/reliability/soak_test.cpp) for
# SECONDS instead of CI's 20. Rounds of 3000 UDP allocations created at once, 200 of them
# relaying both ways, all deleted; after every round the server's fds must be exactly back and
# every relay port free, and RSS must level off (runs over 60 s also check that RSS at the end is
# within 2 MiB of RSS at 60 s). Prints a line every 25 rounds and a summary (allocations/s,
# RSS per allocation). Not run in CI.
#
#   benchmarks/soak.sh [BUILD_DIR] [SECONDS]      defaults: build 600
#
# Needs a build with tests: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
# -DTURNPIKE_BUILD_TESTS=ON && cmake --build build --target reliability_test
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${2:-600}
binary="${build}/tests/reliability/reliability_test"
if [[ ! -x "${binary}" ]]; then
  echo "no ${binary}: build the target reliability_test (TURNPIKE_BUILD_TESTS=ON) first" >&2
  exit 1
fi
TURNPIKE_SOAK_SECONDS=${seconds} exec "${binary}" --gtest_filter='SoakTest.*'
