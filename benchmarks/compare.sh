#!/usr/bin/env bash
# compare.sh [BUILD_DIR] [options]
# TURN relay servers side by side in one run (issue 7, "The benchmark"): turnpike (user space),
# benchmarks/bare_forwarder (the same relay work with no TURN logic: the floor for a user-space
# server) and coturn (Debian package `coturn`, skipped with a note when `turnserver` is missing),
# one after the other, each figure the median of --runs runs, each run on a freshly started
# server. Load comes from benchmarks/turn_load over 127.0.0.1 only: 120-byte ChannelData from
# --allocations clients through the relay to peer sockets the generator owns, echoed back.
#
# "Relayed packets" counts every datagram a server forwards: one round trip client -> peer ->
# client is 2. Rates below are relayed packets/s; the generator sends half that. Server CPU is
# utime + stime from /proc/PID/stat (every thread; kernel work done in the server's syscalls
# included) over the measured window only, read by turn_load itself at the window's edges.
# Machine CPU is every busy tick of /proc/stat's "cpu" line over the same window (generator,
# server, softirq: on loopback a packet's delivery is billed to whoever runs it, so this is the
# fair measure for a kernel fast path). RSS is VmRSS from /proc/PID/status. Where there are 2 or
# more CPUs the servers run on CPU 1 and
# the generator on CPU 0 (taskset); the table says which.
#
# Options:
#   --runs N            runs per figure, median shown (default 3)
#   --seconds S         measured window of each relay run (default 5)
#   --threads N         turnpike worker threads = coturn --relay-threads (default 1: the servers
#                       are pinned to one CPU)
#   --allocations K     relaying allocations (default 100)
#   --fixed-rate R      fixed load, relayed packets/s (default 80000)
#   --low-rate R        load of the RTT rows, relayed packets/s (default 1000)
#   --stream-rate R     TCP and TLS client legs, relayed packets/s (default 20000)
#   --holds "N..."      idle allocations held for the RSS rows (default "1000 8000 18000")
#   --churn-seconds S   churn window (default 5)
#   --servers "..."     columns, from: turnpike ebpf bare coturn (default all four; ebpf is
#                       turnpike with fast_path: ebpf, root only, judged by machine CPU)
#   --only "..."        measure only these scenarios: max fixed low churn hold tcp tls (rows of
#                       the others show "-")
#   --quick             CI smoke: 1 run, 1 s windows, 10 allocations, small holds (a few seconds
#                       per server); fails if any run fails
#   --plot              also measure CPU per packet at --plot-rates and write
#                       compare-cpu-per-packet.png (gnuplot; installs Debian's gnuplot-nox
#                       through deploy/lib/packages.sh when it is missing)
#   --plot-rates "R..." relayed packets/s (default "20000 40000 80000 120000 160000")
#   --out DIR           where the PNG and its data go (default: the current directory)
# Exit status: 0 when every run worked (all allocations up, echoes seen, no protocol errors).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

build=build runs=3 seconds=5 threads=1 allocations=100
fixed_rate=80000 low_rate=1000 stream_rate=20000 holds="1000 8000 18000" churn_seconds=5
servers="turnpike ebpf bare coturn" quick=0 plot=0 plot_rates="20000 40000 80000 120000 160000"
out_dir=$PWD hold_seconds=3 only="max fixed low churn hold tcp tls"
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --threads) threads=$2; shift ;;
    --allocations) allocations=$2; shift ;;
    --fixed-rate) fixed_rate=$2; shift ;;
    --low-rate) low_rate=$2; shift ;;
    --stream-rate) stream_rate=$2; shift ;;
    --holds) holds=$2; shift ;;
    --churn-seconds) churn_seconds=$2; shift ;;
    --servers) servers=$2; shift ;;
    --only) only=$2; shift ;;
    --quick) quick=1 ;;
    --plot) plot=1 ;;
    --plot-rates) plot_rates=$2; shift ;;
    --out) out_dir=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    *) build=$1 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  runs=1 seconds=1 allocations=10 fixed_rate=20000 low_rate=1000 stream_rate=5000 holds=200
  churn_seconds=1 hold_seconds=1 plot_rates="10000 20000"
fi
case $build in /*) ;; *) build=$repo/$build ;; esac
turnpike=$build/turnpike load=$build/benchmarks/turn_load bare=$build/benchmarks/bare_forwarder
for binary in "$turnpike" "$load" "$bare"; do
  [ -x "$binary" ] || { echo "compare.sh: no $binary (cmake --build $build --target turnpike turn_load bare_forwarder)" >&2; exit 1; }
done
notes=()
if [[ " $servers " == *" ebpf "* ]] && [ "$(id -u)" -ne 0 ]; then
  notes+=("ebpf (turnpike with fast_path: ebpf): needs root, column skipped")
  servers=${servers/ebpf/}
fi
if [[ " $servers " == *" coturn "* ]] && ! command -v turnserver >/dev/null; then
  notes+=("coturn: not installed (apt-get install coturn), column skipped")
  servers=${servers/coturn/}
fi
if [ "$plot" = 1 ] && ! command -v gnuplot >/dev/null; then
  # shellcheck source=deploy/lib/packages.sh
  source deploy/lib/packages.sh
  ensure_packages gnuplot-nox || { echo "compare.sh: --plot needs gnuplot (apt-get install gnuplot-nox)" >&2; exit 1; }
fi
read -ra servers <<<"$servers"

# Pinning: servers on CPU 1, the generator on CPU 0.
server_pin=() load_pin=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  server_pin=(taskset -c 1) load_pin=(taskset -c 0)
  pinning="servers on CPU 1, generator on CPU 0"
else
  pinning="not pinned ($(nproc) CPU)"
fi
# Both servers get the hard fd limit (20,000 here): 18,000 allocations need a socket each.
ulimit -n "$(ulimit -Hn)"

secret=bench-secret realm=bench.test
relay_min=10000 relay_max=31999  # below Linux's ephemeral range, where the clients' ports are
work=$(mktemp -d)
pid='' failed=0
cleanup() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

free_port() {  # a port in 5000-9999 free for UDP and TCP (outside the relay and client ranges)
  local port
  for _ in $(seq 200); do
    port=$((5000 + RANDOM % 5000))
    if ! ss -Hlnua "sport = :$port" | grep -q . && ! ss -Hlnta "sport = :$port" | grep -q .; then
      echo "$port"; return 0
    fi
  done
  return 1
}

# The benchmark configurations. Limits that would distort a benchmark are off: turnpike's
# unauthenticated_per_ip_per_second (its Allocate 401 rounds come from one address) and
# connections_per_ip (TCP/TLS clients from one address); allocation, bandwidth and connection
# totals are unlimited by default in both servers. Both log at their default level (coturn to
# a file in the work directory), as deployed. Peers on 127.0.0.0/8 are allowed explicitly
# (turnpike peers.allow, coturn --allow-loopback-peers); relays bind 127.0.0.1 only.
start_server() {  # start_server NAME: sets pid, port, tls_port
  local name=$1 log=$work/$1.log
  port=$(free_port) tls_port=$(free_port)
  case $name in
    turnpike|ebpf)
      cat >"$work/turnpike.yaml" <<EOF
realm: $realm
listeners:
  - {transport: udp, address: 127.0.0.1, port: $port}
  - {transport: tcp, address: 127.0.0.1, port: $port}
  - {transport: tls, address: 127.0.0.1, port: $tls_port}
tls: {certificate: $work/cert.pem, private_key: $work/key.pem}
relay: {addresses: [127.0.0.1], port_range: [$relay_min, $relay_max]}
auth: {secrets: [$secret]}
peers: {allow: [127.0.0.0/8]}
limits: {unauthenticated_per_ip_per_second: 0, connections_per_ip: 0}
http: {port: 0}
drain: {timeout: 0}
threads: $threads
fast_path: $([ "$name" = ebpf ] && echo ebpf || echo off)
EOF
      "${server_pin[@]}" "$turnpike" --config "$work/turnpike.yaml" 2>"$log" &
      ;;
    bare)
      "${server_pin[@]}" "$bare" --port "$port" 2>"$log" &
      ;;
    coturn)
      "${server_pin[@]}" turnserver -n --listening-ip=127.0.0.1 --listening-port="$port" \
        --tls-listening-port="$tls_port" \
        --cert="$work/cert.pem" --pkey="$work/key.pem" --no-dtls \
        --relay-ip=127.0.0.1 --min-port=$relay_min --max-port=$relay_max \
        --use-auth-secret --static-auth-secret=$secret --realm=$realm \
        --allow-loopback-peers --relay-threads="$threads" --no-cli \
        --userdb="$work/turndb" --pidfile="$work/coturn.pid" \
        --log-file="$log" --simple-log >/dev/null 2>&1 &
      ;;
  esac
  pid=$!
  for _ in $(seq 100); do  # bounded: 10 s
    kill -0 "$pid" 2>/dev/null || { echo "compare.sh: $name exited at start:" >&2; tail -5 "$log" >&2; return 1; }
    if ss -Hlnua "sport = :$port" | grep -q . &&
      { [ "$name" = bare ] || ss -Hlnt "sport = :$tls_port" | grep -q .; }; then
      sleep 0.2
      if [ "$name" = ebpf ] && ! grep -q "fast_path: ebpf on" "$log"; then
        echo "compare.sh: turnpike's fast path did not load:" >&2
        grep "fast_path" "$log" >&2 || tail -5 "$log" >&2
        return 1
      fi
      return 0
    fi
    sleep 0.1
  done
  echo "compare.sh: $name did not listen on $port" >&2
  return 1
}

stop_server() {
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done  # bounded: 5 s
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}

# turn_load arguments of each scenario.
scenario_args() {  # scenario_args SERVER SCENARIO
  local bare_flag=() target=127.0.0.1:$port
  [ "$1" = bare ] && bare_flag=(--bare)
  # Relay rates are relayed packets/s; the generator sends half of them.
  local relay="relay --allocations $allocations --seconds $seconds --rate"
  case $2 in
    max) echo "$relay" 0 "${bare_flag[@]}" --server "$target" ;;
    fixed) echo "$relay" $((fixed_rate / 2)) "${bare_flag[@]}" --server "$target" ;;
    low) echo "$relay" $((low_rate / 2)) "${bare_flag[@]}" --server "$target" ;;
    plot:*) echo "$relay" $((${2#plot:} / 2)) "${bare_flag[@]}" --server "$target" ;;
    tcp) echo "$relay" $((stream_rate / 2)) --transport tcp --server "$target" ;;
    tls) echo "$relay" $((stream_rate / 2)) --transport tls --server "127.0.0.1:$tls_port" ;;
    churn) echo churn --seconds "$churn_seconds" --concurrency 64 --server "$target" ;;
    hold:*) echo hold --allocations "${2#hold:}" --seconds "$hold_seconds" --concurrency 256 --server "$target" ;;
  esac
}

supports() {  # supports SERVER SCENARIO: the bare forwarder only relays UDP
  [ "$1" != bare ] && return 0
  case $2 in max|fixed|low|plot:*) return 0 ;; *) return 1 ;; esac
}

declare -A results  # "server|scenario|key" -> one value per run
kv() { sed -nE "s/.*(^| )$1=([^ ]*).*/\2/p" <<<"$2"; }

measure() {  # measure SERVER SCENARIO: one run on a fresh server
  local server=$1 scenario=$2 out rc=0 key
  start_server "$server" || { failed=1; stop_server; return; }
  # shellcheck disable=SC2046  # word splitting of the argument list is intended
  out=$("${load_pin[@]}" "$load" $(scenario_args "$server" "$scenario") --server-pid "$pid" \
    2>>"$work/turn_load.err") || rc=$?
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "compare.sh: $server died during $scenario" >&2; rc=1
  fi
  # turnpike and ebpf (turnpike with the fast path) log to $work/<column>.log.
  if [[ $server == turnpike || $server == ebpf ]] &&
    awk '$2 == "error" {found=1} END{exit !found}' "$work/$server.log"; then
    echo "compare.sh: $server logged errors during $scenario:" >&2
    awk '$2 == "error"' "$work/$server.log" | head -5 >&2; rc=1
  fi
  stop_server
  if [ "$rc" -ne 0 ]; then
    echo "compare.sh: $server $scenario failed: ${out:-no output}" >&2
    failed=1
    return
  fi
  for key in relayed_per_s loss_pct server_cpu_us_per_relayed machine_cpu_us_per_relayed \
    generator_cpu_s rtt_p50_us \
    rtt_p99_us allocations_per_s errors_508 server_cpu_us_per_allocation \
    server_rss_kib_per_allocation; do
    results["$server|$scenario|$key"]+="$(kv "$key" "$out") "
  done
}

sorted_runs() {  # sorted_runs SERVER SCENARIO KEY: the runs' values, one a line, ascending
  tr ' ' '\n' <<<"${results["$1|$2|$3"]:-}" | { grep -v '^$' || true; } | sort -g
}
value() {  # the median over the runs, "-" when there are none
  sorted_runs "$@" | awk '{a[NR]=$1} END{if (NR == 0) print "-"; else print a[int((NR+1)/2)]}'
}
range() {  # "min-max" over the runs
  sorted_runs "$@" | awk 'NR == 1 {lo=$1} {hi=$1} END{if (NR == 0) print "-"; else print lo "-" hi}'
}

scenarios=(max fixed low churn)
for n in $holds; do scenarios+=("hold:$n"); done
scenarios+=(tcp tls)
if [ "$plot" = 1 ]; then for r in $plot_rates; do scenarios+=("plot:$r"); done; fi

# Runs interleave the servers (run 1 of every server, then run 2, ...), so that a slow spell of
# the machine does not land on one column only.
for run in $(seq "$runs"); do
  for scenario in "${scenarios[@]}"; do
    [[ " $only plot " == *" ${scenario%%:*} "* ]] || continue
    for server in "${servers[@]}"; do
      supports "$server" "$scenario" || continue
      echo "compare.sh: run $run of $runs: $server $scenario" >&2
      measure "$server" "$scenario"
    done
  done
done

# --- the table ---
ratio() {  # ratio A B
  awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}
share() {  # share SERVER SCENARIO: generator CPU as % of one core over the window
  local cpu
  cpu=$(value "$1" "$2" generator_cpu_s)
  awk -v c="$cpu" -v s="$seconds" 'BEGIN{ if (c == "-") print "-"; else printf "%.0f%%", 100 * c / s }'
}
ratio_columns=()
[[ " ${servers[*]} " == *" turnpike "* && " ${servers[*]} " == *" coturn "* ]] && ratio_columns+=(turnpike/coturn)
[[ " ${servers[*]} " == *" turnpike "* && " ${servers[*]} " == *" bare "* ]] && ratio_columns+=(turnpike/bare)
[[ " ${servers[*]} " == *" ebpf "* && " ${servers[*]} " == *" coturn "* ]] && ratio_columns+=(ebpf/coturn)

row() {  # row LABEL SCENARIO KEY [fn]: one value per server, then the ratios
  local label=$1 scenario=$2 key=$3 fn=${4:-value} server cells=() r a b
  for server in "${servers[@]}"; do
    if supports "$server" "$scenario"; then cells+=("$($fn "$server" "$scenario" "$key")"); else cells+=("n/a"); fi
  done
  printf '%-44s' "$label"
  printf ' %14s' "${cells[@]}"
  for r in "${ratio_columns[@]}"; do
    a=$(value "${r%/*}" "$scenario" "$key") b=$(value "${r#*/}" "$scenario" "$key")
    if [ "$fn" = value ] && supports "${r#*/}" "$scenario"; then printf ' %16s' "$(ratio "$a" "$b")"; else printf ' %16s' ""; fi
  done
  printf '\n'
}

echo
echo "TURN relay comparison: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $pinning, median of $runs run(s)"
echo "$allocations allocations, 120-byte ChannelData echoed by the generator's peer sockets; ${seconds}s windows;"
echo "relayed = every datagram a server forwards (a round trip is 2); rates are relayed packets/s."
echo "turnpike threads: $threads; coturn: $(turnserver --version 2>/dev/null | head -1 || echo -) --relay-threads=$threads"
for note in "${notes[@]}"; do echo "note: $note"; done
echo
printf '%-44s' ""
printf ' %14s' "${servers[@]}"
printf ' %16s' "${ratio_columns[@]}"
printf '\n'
row "relayed packets/s, max (flat out)" max relayed_per_s
row "  loss % at max" max loss_pct
row "  server CPU us per relayed packet at max" max server_cpu_us_per_relayed
row "    range over the runs" max server_cpu_us_per_relayed range
row "  generator CPU, % of a core" max - share
row "relayed packets/s, fixed ${fixed_rate}/s" fixed relayed_per_s
row "  loss % at fixed" fixed loss_pct
row "  server CPU us per relayed packet at fixed" fixed server_cpu_us_per_relayed
row "    range over the runs" fixed server_cpu_us_per_relayed range
row "  machine CPU us per relayed packet at fixed" fixed machine_cpu_us_per_relayed
row "  generator CPU, % of a core" fixed - share
row "allocations/s (churn: Allocate+401, Refresh 0)" churn allocations_per_s
row "  508 answers during churn" churn errors_508
row "  server CPU us per allocation" churn server_cpu_us_per_allocation
row "    range over the runs" churn server_cpu_us_per_allocation range
for n in $holds; do
  row "RSS KiB per idle allocation, $n held" "hold:$n" server_rss_kib_per_allocation
done
row "RTT p50 us at ${low_rate}/s" low rtt_p50_us
row "RTT p99 us at ${low_rate}/s" low rtt_p99_us
row "TCP client leg: server CPU us/pkt, ${stream_rate}/s" tcp server_cpu_us_per_relayed
row "  loss %" tcp loss_pct
row "TLS client leg: server CPU us/pkt, ${stream_rate}/s" tls server_cpu_us_per_relayed
row "  loss %" tls loss_pct

if [ "$plot" = 1 ]; then
  mkdir -p "$out_dir"
  data=$out_dir/compare-cpu-per-packet.dat png=$out_dir/compare-cpu-per-packet.png
  {
    echo "# offered relayed packets/s, then server CPU us per relayed packet: ${servers[*]}"
    for r in $plot_rates; do
      line=$r
      for server in "${servers[@]}"; do
        v=$(value "$server" "plot:$r" server_cpu_us_per_relayed); line+=" ${v/-/NaN}"
      done
      echo "$line"
    done
  } >"$data"
  plots=() column=2
  for server in "${servers[@]}"; do
    plots+=("'$data' using 1:$column with linespoints title '$server'"); column=$((column + 1))
  done
  gnuplot <<EOF
set terminal png size 900,560
set output '$png'
set title "Server CPU per relayed packet\\nUDP, $allocations allocations, 120-byte ChannelData, median of $runs; $pinning"
set xlabel 'offered load, relayed packets/s'
set ylabel 'server CPU, us per relayed packet'
set yrange [0:*]
set key top right
set grid
plot $(IFS=,; echo "${plots[*]}")
EOF
  echo
  echo "plot: $png (data: $data)"
fi
if [ "$failed" -ne 0 ]; then
  echo "compare.sh: some runs failed (see above)" >&2
  exit 1
fi
