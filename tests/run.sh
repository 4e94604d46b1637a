#!/usr/bin/env bash
# Quick start, command 2: installs what is missing, builds, and runs every test through ctest:
#   1. Release build: unit, integration, interop, end-to-end (browser, NAT), deployment kit
#      (tests/deploy) and benchmark smoke tests
#   2. ASan+UBSan build: unit and integration tests
#   3. TSan build: the integration tests (the multi-threaded server binary)
#   4. clang-19 libFuzzer build: each fuzz target for TURNPIKE_FUZZ_SECONDS (default 60)
# TURNPIKE_STAGES="release asan tsan fuzz" picks stages. Exits non-zero if any stage fails.
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/lib/packages.sh
source deploy/lib/packages.sh

stages=${TURNPIKE_STAGES:-release asan tsan fuzz}
fuzz_seconds=${TURNPIKE_FUZZ_SECONDS:-60}
jobs=$(nproc)
failed=()

ensure_packages "${TURNPIKE_BUILD_PACKAGES[@]}" || exit 1
ensure_test_packages || exit 1

# stage NAME BUILD_DIR CTEST_ARGS -- CMAKE_ARGS...
stage() {
  local name=$1 dir=$2 ctest_args=$3
  shift 4
  echo "=== $name: configure and build ($dir)"
  if ! cmake -S . -B "$dir" "$@" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log"
    failed+=("$name (configure)")
    return
  fi
  # shellcheck disable=SC2086  # STAGE_TARGETS is a list
  if ! cmake --build "$dir" -j"$jobs" ${STAGE_TARGETS:+--target $STAGE_TARGETS}; then
    failed+=("$name (build)")
    return
  fi
  echo "=== $name: ctest $ctest_args"
  # shellcheck disable=SC2086
  if ! (cd "$dir" && ctest --output-on-failure --no-tests=error -j"$jobs" $ctest_args); then
    failed+=("$name (tests)")
  fi
}

mkdir -p build
for s in $stages; do
  case $s in
    release)
      # Explicit options: quickstart.sh configures build/ without tests, and the cache keeps that.
      stage release build "" -- -DCMAKE_BUILD_TYPE=Release -DTURNPIKE_BUILD_TESTS=ON \
        -DTURNPIKE_BUILD_BENCHMARKS=ON -DTURNPIKE_SANITIZE= ;;
    asan)
      stage asan build-asan "-L unit|integration" -- -DCMAKE_BUILD_TYPE=Debug \
        -DTURNPIKE_SANITIZE=address,undefined -DTURNPIKE_BUILD_TESTS=ON \
        -DTURNPIKE_BUILD_BENCHMARKS=OFF ;;
    tsan)
      # The multi-threaded code is the server: the integration tests drive the real binary
      # (worker threads, the HTTP thread, reloads) built with ThreadSanitizer; server_no_alloc_test
      # runs the server inside the test process. Every integration executable must be built here.
      STAGE_TARGETS="turnpike server_integration_test server_no_alloc_test" \
        stage tsan build-tsan "-L integration" -- \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTURNPIKE_SANITIZE=thread -DTURNPIKE_BUILD_TESTS=ON \
        -DTURNPIKE_BUILD_BENCHMARKS=OFF ;;
    fuzz)
      # One fuzzer at a time: each uses a whole core.
      CXX=clang++-19 stage fuzz build-fuzz "-L fuzz -j1" -- -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTURNPIKE_FUZZ=ON -DTURNPIKE_FUZZ_SECONDS="$fuzz_seconds" ;;
    *) echo "unknown stage $s" >&2; failed+=("$s (unknown)") ;;
  esac
done

# How much fuzzing this run did, per target (from ctest's log of the fuzz stage).
if [ -f build-fuzz/Testing/Temporary/LastTest.log ] && [[ " $stages " == *" fuzz "* ]]; then
  echo "=== fuzz executions"
  awk '/^[0-9]+\/[0-9]+ Testing: /{name=$3} /stat::number_of_executed_units/{print name": "$2" inputs"}' \
    build-fuzz/Testing/Temporary/LastTest.log
fi

echo
if [ ${#failed[@]} -ne 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all stages passed: $stages"
