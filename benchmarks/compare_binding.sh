#!/usr/bin/env bash
# compare_binding.sh BUILD_DIR [RATE] [SECONDS] [RUNS]
# STUN Binding service: turnpike against coturn (Debian package), one after the other in the same
# run, at the same fixed request rate from benchmarks/stun_load. Reports server CPU time per
# answered request (from /proc/PID/stat), peak RSS, loss, and the turnpike/coturn ratio; each
# figure is the median of RUNS runs. Loopback only.
set -euo pipefail
build=${1:?usage: compare_binding.sh BUILD_DIR [RATE] [SECONDS] [RUNS]}
rate=${2:-20000} seconds=${3:-10} runs=${4:-3}
turnpike=$build/turnpike load=$build/benchmarks/stun_load
command -v turnserver >/dev/null || { echo "coturn is not installed (apt-get install coturn)" >&2; exit 1; }
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

free_port() {  # a random UDP port nobody listens on
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 30000))
    ss -Hlun "sport = :$port" | grep -q . || { echo "$port"; return 0; }
  done
  return 1
}
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
peak_rss_kb() { awk '/VmHWM/{print $2}' "/proc/$1/status"; }

start_server() {  # start_server NAME PORT
  case $1 in
    turnpike)
      printf 'listeners: [{transport: udp, address: 127.0.0.1, port: %s}]\nhttp: {port: 0}\nthreads: 1\n' "$2" >"$work/turnpike.yaml"
      "$turnpike" --config "$work/turnpike.yaml" 2>"$work/turnpike.log" & ;;
    coturn)
      turnserver -n --listening-ip=127.0.0.1 --listening-port="$2" --no-tcp --no-tls --no-dtls \
        --no-cli --relay-threads=1 --log-file=stdout --simple-log >"$work/coturn.log" 2>&1 & ;;
  esac
  pid=$!
  for _ in $(seq 50); do  # bounded: 5 s
    "$load" --server "127.0.0.1:$2" --rate 100 --seconds 0.1 --sockets 1 >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$1 did not answer on port $2" >&2; exit 1
}

run_one() {  # run_one NAME -> "cpu_us_per_request rss_kb loss_pct"
  local port out before after received loss
  port=$(free_port)
  start_server "$1" "$port"
  before=$(cpu_ticks "$pid")
  out=$("$load" --server "127.0.0.1:$port" --rate "$rate" --seconds "$seconds")
  after=$(cpu_ticks "$pid")
  received=$(sed -E 's/.*received=([0-9]+).*/\1/' <<<"$out")
  loss=$(sed -E 's/.*loss_pct=([0-9.]+).*/\1/' <<<"$out")
  echo "$(awk -v d=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$received" \
    'BEGIN{printf "%.3f", d / hz / n * 1e6}') $(peak_rss_kb "$pid") $loss"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

declare -A cpu rss loss
for server in turnpike coturn; do
  results=()
  for _ in $(seq "$runs"); do results+=("$(run_one "$server")"); done
  cpu[$server]=$(printf '%s\n' "${results[@]}" | cut -d' ' -f1 | median)
  rss[$server]=$(printf '%s\n' "${results[@]}" | cut -d' ' -f2 | median)
  loss[$server]=$(printf '%s\n' "${results[@]}" | cut -d' ' -f3 | median)
done

echo "STUN Binding over UDP, $rate requests/s for ${seconds}s, median of $runs runs"
printf '%-28s %12s %12s %10s\n' "" turnpike coturn ratio
printf '%-28s %12s %12s %10s\n' "server CPU per request (us)" "${cpu[turnpike]}" "${cpu[coturn]}" \
  "$(awk -v a="${cpu[turnpike]}" -v b="${cpu[coturn]}" 'BEGIN{printf "%.2f", a/b}')"
printf '%-28s %12s %12s %10s\n' "peak RSS (KiB)" "${rss[turnpike]}" "${rss[coturn]}" \
  "$(awk -v a="${rss[turnpike]}" -v b="${rss[coturn]}" 'BEGIN{printf "%.2f", a/b}')"
printf '%-28s %12s %12s\n' "lost requests (%)" "${loss[turnpike]}" "${loss[coturn]}"
