#!/usr/bin/env bash
# run_fuzzer.sh FUZZER SECONDS WORK_CORPUS SEED_DIR... : runs a libFuzzer target for a bounded
# time and prints how many inputs it executed. Any crash fails the test and leaves the input in
# WORK_CORPUS-crashes/, to be committed under tests/fuzz/regressions/<target>/.
set -euo pipefail
fuzzer=$1 seconds=$2 work=$3
shift 3
crashes="$work-crashes"
mkdir -p "$work" "$crashes"
# Seed and regression directories that exist (git keeps no empty regressions/<target>/).
dirs=()
for d in "$@"; do [ -d "$d" ] && dirs+=("$d"); done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# -timeout: one input taking over 5 s is a hang; -rss_limit_mb bounds memory.
"$fuzzer" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$crashes/" "$work" "${dirs[@]}" >"$log" 2>&1 || status=$?
grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log"
  echo "fuzzer failed with status $status; crash input saved under $crashes/" >&2
fi
exit "$status"
