#!/usr/bin/env bash
# Interop: coturn's turnutils_stunclient against the real turnpike server on 127.0.0.1.
#
#   stunclient_test.sh /path/to/turnpike
#
# Checks, each bounded by `timeout`:
#   1. UDP Binding: "UDP reflexive addr: 127.0.0.1:<port>" with a valid port.
#   2. UDP Binding through a socat relay whose source port is fixed: the reflexive port must be
#      exactly that port.
#   3. TCP Binding: turnutils_stunclient has no TCP mode, so socat carries its datagram over TCP;
#      the reflexive port must be socat's TCP source port (read with ss), which proves coturn's
#      client parsed turnpike's TCP response.
#   4. RFC 5780 mode (-f): turnpike must survive it and still answer.
# Exits 0 on pass, non-zero with a message on failure. Needs coturn, socat and ss (iproute2).
set -euo pipefail

readonly STEP_TIMEOUT=10  # seconds for any one client run

# shellcheck source=tests/interop/lib.sh
source "$(dirname "$0")/lib.sh"

require_tools turnutils_stunclient socat ss timeout
interop_setup "$@"

# Picks a fresh port for turnpike's UDP and TCP listeners; sets port.
write_config() {
  port=$(random_free_port)
  cat >"${workdir}/turnpike.yaml" <<EOF
listeners:
  - {transport: udp, address: 127.0.0.1, port: ${port}}
  - {transport: tcp, address: 127.0.0.1, port: ${port}}
software: turnpike
threads: 2
log: {level: debug}
http: {port: 0}
EOF
}

# Runs turnutils_stunclient with a bound; prints its output. Fails on timeout or error.
stunclient() {
  local out
  if ! out=$(timeout "${STEP_TIMEOUT}" turnutils_stunclient "$@" 2>&1); then
    echo "${out}" >&2
    fail "turnutils_stunclient $* failed or timed out"
  fi
  echo "${out}"
}

# The port of the first "UDP reflexive addr: 127.0.0.1:PORT" line, checked to be 1..65535.
reflexive_port() {
  local output=$1 line port
  line=$(grep -m1 -E "UDP reflexive addr: " <<<"${output}" || true)
  [[ -n "${line}" ]] || fail "no \"UDP reflexive addr\" in: ${output}"
  if [[ ! "${line}" =~ UDP\ reflexive\ addr:\ 127\.0\.0\.1:([0-9]+)$ ]]; then
    fail "reflexive address is not 127.0.0.1:<port>: ${line}"
  fi
  port=${BASH_REMATCH[1]}
  ((port >= 1 && port <= 65535)) || fail "reflexive port out of range: ${line}"
  echo "${port}"
}

start_server write_config
note "turnpike listening on 127.0.0.1:${port} (udp+tcp)"

# 1. Plain UDP Binding.
note "UDP Binding"
output=$(stunclient -L 127.0.0.1 -p "${port}" 127.0.0.1)
echo "${output}"
udp_port=$(reflexive_port "${output}")
echo "ok: reflexive address 127.0.0.1:${udp_port}"

# 2. UDP through a relay whose source port toward turnpike is fixed, so the exact port is known.
note "UDP Binding with a known source port"
relay_port=$(random_free_port)
source_port=$(random_free_port)
[[ "${relay_port}" != "${source_port}" ]] || source_port=$((relay_port + 1))
socat -T 10 "UDP-LISTEN:${relay_port},bind=127.0.0.1,reuseaddr" \
  "UDP:127.0.0.1:${port},bind=127.0.0.1:${source_port}" 2>"${workdir}/socat-udp.log" &
helper_pids+=($!)
wait_for_udp_listener "${relay_port}"
output=$(stunclient -p "${relay_port}" 127.0.0.1)
echo "${output}"
got=$(reflexive_port "${output}")
[[ "${got}" == "${source_port}" ]] ||
  fail "reflexive port ${got} is not the relay's source port ${source_port}"
echo "ok: reflexive port ${got} is the relay's source port"

# 3. TCP: socat turns the client's datagram into a TCP stream to turnpike and back.
note "TCP Binding through socat"
tcp_relay_port=$(random_free_port)
socat -T 10 "UDP-LISTEN:${tcp_relay_port},bind=127.0.0.1,reuseaddr" \
  "TCP:127.0.0.1:${port}" 2>"${workdir}/socat-tcp.log" &
socat_tcp_pid=$!
helper_pids+=("${socat_tcp_pid}")
wait_for_udp_listener "${tcp_relay_port}"
output=$(stunclient -p "${tcp_relay_port}" 127.0.0.1)
echo "${output}"
got=$(reflexive_port "${output}")
# socat keeps the TCP connection open (until -T 10 of idleness): read its source port.
connection=$(ss -Htnp state established "( dport = :${port} )" | grep "pid=${socat_tcp_pid}," || true)
[[ -n "${connection}" ]] || fail "no established socat connection to 127.0.0.1:${port} in ss -tnp"
socat_port=$(awk '{ n = split($3, a, ":"); print a[n]; exit }' <<<"${connection}")
[[ "${got}" == "${socat_port}" ]] ||
  fail "TCP reflexive port ${got} is not socat's TCP source port ${socat_port} (${connection})"
grep -q "UDP reflexive addr: 127.0.0.1:${socat_port}" <<<"${output}" || fail "address mismatch"
echo "ok: reflexive port ${got} is socat's TCP source port"

# 4. RFC 5780 mode sends CHANGE-REQUEST, which turnpike answers with 420. turnutils_stunclient
# 4.6.1 then waits forever for another answer, so its exit status is not checked: only that
# turnpike survives and still answers.
note "RFC 5780 mode (-f)"
set +e
timeout 5 turnutils_stunclient -f -p "${port}" 127.0.0.1
rc=$?
set -e
echo "(turnutils_stunclient -f exit status ${rc}; 124 = stopped by timeout)"
server_alive || fail "turnpike died during turnutils_stunclient -f"
output=$(stunclient -p "${port}" 127.0.0.1)
reflexive_port "${output}" >/dev/null
echo "ok: turnpike still answers after -f"

# Stop the server: it must exit cleanly (status 0) after all of the above.
note "shutdown"
stop_server

echo "PASS: turnutils_stunclient interop over UDP and TCP"
