#!/usr/bin/env bash
# Interop: Prometheus (Debian package prometheus) against turnpike's /metrics on 127.0.0.1.
#
#   prometheus_test.sh /path/to/turnpike
#
# 1. `promtool check metrics` accepts a scrape of /metrics, with no lint warning, taken after
#    real relay traffic (so every family has samples: counters, gauges, the histogram).
# 2. turnpike's own numbers: the scrape's turnpike_allocate_duration_seconds_count,
#    turnpike_allocations_created_total and udp to_peer bytes match what the clients did.
# 3. A real Prometheus server on loopback scrapes turnpike every second; its query API must
#    return up == 1 and, per direction, turnpike_relayed_bytes_total summing to the relayed
#    bytes (turn_echo.py sends 17 payloads, 4,727 bytes, each way, over udp and over tcp). The
#    check waits (bounded) for a scrape taken after the traffic.
# Exits 0 on pass, non-zero with a message on failure.
set -euo pipefail

readonly QUERY_TIMEOUT=30  # seconds for Prometheus to start and scrape the traffic
readonly SECRET=s3cret

# shellcheck source=tests/interop/lib.sh
source "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
readonly here

require_tools prometheus promtool turnutils_peer python3 ss timeout
interop_setup "$@"

write_config() {
  port=$(free_port)
  http_port=$(free_port_besides "${port}")
  cat >"${workdir}/turnpike.yaml" <<EOF
listeners:
  - {transport: udp, address: 127.0.0.1, port: ${port}}
  - {transport: tcp, address: 127.0.0.1, port: ${port}}
relay: {addresses: [127.0.0.1]}
auth: {secrets: [${SECRET}]}
peers: {allow: [127.0.0.0/8]}
http: {address: 127.0.0.1, port: ${http_port}}
drain: {timeout: 0}
threads: 2
EOF
}

# http_get PORT PATH: the body of a GET on 127.0.0.1 (python3: no curl dependency).
http_get() {
  python3 - "$1" "$2" <<'PYTHON'
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=5) as r:
    sys.stdout.write(r.read().decode())
PYTHON
}

start_server write_config
wait_for_tcp_listener "${http_port}"
start_peer
note "turnpike on 127.0.0.1:${port}, /metrics on :${http_port}; turnutils_peer on udp ${peer_port}"

note "relay traffic: turn_echo.py over udp (ChannelData) and tcp (Send indications)"
timeout 30 python3 "${here}/turn_echo.py" udp 127.0.0.1 "${port}" "${peer_port}" channel bob \
  "--secret=${SECRET}" || fail "turn_echo.py over udp failed"
timeout 30 python3 "${here}/turn_echo.py" tcp 127.0.0.1 "${port}" "${peer_port}" send bob \
  "--secret=${SECRET}" || fail "turn_echo.py over tcp failed"

note "1. promtool check metrics"
http_get "${http_port}" /metrics >"${workdir}/metrics.txt" || fail "GET /metrics failed"
if ! promtool check metrics <"${workdir}/metrics.txt" >"${workdir}/promtool.log" 2>&1; then
  cat "${workdir}/promtool.log"
  fail "promtool check metrics rejected the scrape"
fi
[[ ! -s "${workdir}/promtool.log" ]] || fail "promtool lint warnings: $(cat "${workdir}/promtool.log")"
echo "PASS  promtool check metrics: $(grep -c '^# TYPE' "${workdir}/metrics.txt") families, no warning"

note "2. the scrape counts what the clients did"
value() { awk -v name="$1" '$1 == name { print $2 }' "${workdir}/metrics.txt"; }
allocations=$(value turnpike_allocate_duration_seconds_count)
[[ "${allocations}" == 2 ]] || fail "turnpike_allocate_duration_seconds_count is '${allocations}', expected 2"
created=$(value turnpike_allocations_created_total)
[[ "${created}" == 2 ]] || fail "turnpike_allocations_created_total is '${created}', expected 2"
to_peer=$(value 'turnpike_relayed_bytes_total{direction="to_peer",transport="udp"}')
[[ "${to_peer}" == 4727 ]] || fail "udp to_peer bytes '${to_peer}', expected 4727"
echo "PASS  2 allocations timed and created; 4727 bytes to the peer over udp"

note "3. a real Prometheus server scrapes turnpike"
prom_port=$(free_port)
mkdir -p "${workdir}/tsdb"
cat >"${workdir}/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: turnpike
    static_configs: [{targets: ["127.0.0.1:${http_port}"]}]
EOF
promtool check config "${workdir}/prometheus.yml" >/dev/null || fail "promtool check config"
prometheus --config.file="${workdir}/prometheus.yml" --storage.tsdb.path="${workdir}/tsdb" \
  --web.listen-address="127.0.0.1:${prom_port}" --log.level=warn >"${workdir}/prometheus.log" 2>&1 &
helper_pids+=($!)

# query EXPRESSION: Prometheus's instant query result as "labels value" lines (python3 parses
# the JSON).
query() {
  python3 - "${prom_port}" "$1" <<'PYTHON'
import json, sys, urllib.parse, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/api/v1/query?query=" + urllib.parse.quote(sys.argv[2])
with urllib.request.urlopen(url, timeout=5) as r:
    answer = json.load(r)
for series in answer["data"]["result"]:
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(series["metric"].items()) if k != "__name__")
    print(labels, series["value"][1])
PYTHON
}

found=""
for _ in $(seq 1 $((QUERY_TIMEOUT * 2))); do
  up=$(query 'up{job="turnpike"}' 2>/dev/null || true)
  bytes=$(query 'sum by (direction) (turnpike_relayed_bytes_total{job="turnpike"})' 2>/dev/null ||
    true)
  if [[ "${up}" == *" 1" ]] && grep -q 'direction="to_peer" 9454$' <<<"${bytes}" &&
    grep -q 'direction="to_client" 9454$' <<<"${bytes}"; then
    found=yes
    break
  fi
  sleep 0.5
done
if [[ -z "${found}" ]]; then
  echo "--- prometheus log ---"
  cat "${workdir}/prometheus.log"
  fail "Prometheus did not return up=1 and 9454 relayed bytes each way within ${QUERY_TIMEOUT} s" \
    "(up: '${up:-}', bytes: '${bytes:-}')"
fi
echo "PASS  Prometheus 127.0.0.1:${prom_port}: up{job=\"turnpike\"} = 1;" \
  "sum by (direction) (turnpike_relayed_bytes_total):"
sed 's/^/        /' <<<"${bytes}"

stop_server
echo "PASS: promtool accepts /metrics and a real Prometheus server scrapes turnpike's relay counters"
