#!/usr/bin/env bash
# Interop: RFC 6062 TCP allocations (tcp_allocations: true) against the real turnpike server on
# 127.0.0.1, with two worker threads.
#
#   tcp_relay_test.sh /path/to/turnpike
#
# 1. coturn's turnutils_uclient -T (TCP relay; implies -t, a TCP control connection, and -y,
#    client to client): `-m 2` clients allocate TCP relays, each Connects to the other's relayed
#    address (so turnpike both connects out and accepts, and sends ConnectionAttempt), binds
#    data connections with ConnectionBind and sends `-n` messages through them. Passes when
#    uclient exits 0 having received every message ("Total lost packets 0") and prints no error
#    line. (uclient -T takes no external peer: -e is ignored in this mode.) With two workers,
#    SO_REUSEPORT gives about every second data connection to the worker that does not hold its
#    peer connection, which hands it over (turnpike_tcp_connection_handoffs_total): the run is
#    repeated (at most UCLIENT_RUNS times, each ~1 in 16 without one) until one was.
# 2. tcp_relay_echo.py (beside this script, on tests/support/turn_client.py): Allocate TCP,
#    Connect to a TCP echo server on 127.0.0.1 (python3), ConnectionBind, then random payloads
#    of 1 byte to 64 KiB as raw bytes on the data connection, each echoed byte-identical.
# 3. Over TLS (RFC 6062 allows TLS control and data connections), against a tls listener with a
#    self-signed certificate made here: uclient -T -S (its control and data connections are TLS;
#    it does not verify the certificate) with the same checks as step 1, and tcp_relay_echo.py
#    with `tls CA` (Python's ssl module, verifying the certificate and its IP SAN).
# 4. The server log holds no warning or error, and turnpike exits 0 on SIGTERM.
#
# Exits 0 on pass, non-zero with a message on failure. Needs coturn, ss (iproute2), openssl,
# python3.
set -euo pipefail

readonly RUN_TIMEOUT=60  # seconds for one uclient run (a few seconds when all is well)
readonly MESSAGES=20
readonly UCLIENT_RUNS=5
readonly USER_NAME=alice PASSWORD=wonderland

script_dir=$(cd "$(dirname "$0")" && pwd)
readonly script_dir
# shellcheck source=tests/interop/lib.sh
source "${script_dir}/lib.sh"

require_tools turnutils_uclient ss timeout openssl python3
interop_setup "$@"

# Picks ports for the udp+tcp listeners and the tls listener; sets port and tls_port.
write_config() {
  port=$(free_port)
  tls_port=$(free_port_besides "${port}")
  http_port=$(free_port_besides "${port}" "${tls_port}")
  cat >"${workdir}/turnpike.yaml" <<EOF
realm: turnpike.test
listeners:
  - {transport: udp, address: 127.0.0.1, port: ${port}}
  - {transport: tcp, address: 127.0.0.1, port: ${port}}
  - {transport: tls, address: 127.0.0.1, port: ${tls_port}}
tls: {certificate: ${workdir}/cert.pem, private_key: ${workdir}/key.pem}
relay: {addresses: [127.0.0.1]}
auth:
  users: {${USER_NAME}: ${PASSWORD}}
peers: {allow: [127.0.0.0/8]}
http: {address: 127.0.0.1, port: ${http_port}}
drain: {timeout: 0}
threads: 2
tcp_allocations: true
EOF
}

make_test_certificate
start_server write_config
wait_for_tcp_listener "${port}"
wait_for_tcp_listener "${tls_port}"
wait_for_tcp_listener "${http_port}"

# handoffs: turnpike_tcp_connection_handoffs_total from /metrics (python3: no curl dependency).
handoffs() {
  python3 - "${http_port}" <<'PYTHON'
import re, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5) as r:
    text = r.read().decode()
match = re.search(r"^turnpike_tcp_connection_handoffs_total (\S+)$", text, re.M)
print(int(float(match.group(1))) if match else "missing")
PYTHON
}

# uclient_tcp_relay NAME FLAGS...: one uclient -T run (NAME: tcp or tls) that must lose nothing
# and print no error.
uclient_tcp_relay() {
  local name=$1
  shift
  local uclient_log="${workdir}/uclient-${name}.log"
  if ! timeout "${RUN_TIMEOUT}" turnutils_uclient -T "$@" -n "${MESSAGES}" -m 2 -l 200 \
    -u "${USER_NAME}" -w "${PASSWORD}" 127.0.0.1 >"${uclient_log}" 2>&1; then
    cat "${uclient_log}" >&2
    fail "turnutils_uclient -T (${name}) exited non-zero"
  fi
  grep -q "Total lost packets 0" "${uclient_log}" ||
    { cat "${uclient_log}" >&2; fail "uclient -T (${name}) lost packets"; }
  local received
  received=$(sed -n 's/.*tot_recv_msgs=\([0-9]*\).*/\1/p' "${uclient_log}" | tail -1)
  if [[ -z "${received}" || "${received}" -eq 0 ]]; then
    cat "${uclient_log}" >&2
    fail "uclient -T (${name}) received no messages"
  fi
  # Over TLS uclient first tries TLS 1.0/1.1 contexts, which turnpike refuses (TLS 1.2+): those
  # "cannot connect ... alert protocol version" lines are expected (as in turn_uclient_test.sh).
  if grep -vE 'tls_connect: cannot connect|alert protocol version' "${uclient_log}" |
    grep -Eiq "error|cannot|failure"; then
    cat "${uclient_log}" >&2
    fail "uclient -T (${name}) printed an error line"
  fi
  if [[ ${name} == tls ]]; then
    # The data connections are TLS too: each handshake is one "client session connected" line,
    # and there is one per control connection (at least two) and one per data connection (two).
    local sessions
    sessions=$(grep -c "client session connected" "${uclient_log}" || true)
    if [[ ${sessions} -lt 4 ]]; then
      cat "${uclient_log}" >&2
      fail "uclient -T (tls) made ${sessions} TLS connections, not at least 4"
    fi
  fi
  echo "uclient -T (${name}): ${received} messages received, none lost"
}

note "1. turnutils_uclient -T -n ${MESSAGES} -m 2 (client to client through two TCP relays)"
for run in $(seq 1 "${UCLIENT_RUNS}"); do
  uclient_tcp_relay tcp -p "${port}"
  handed=$(handoffs)
  [[ "${handed}" =~ ^[0-9]+$ ]] || fail "no turnpike_tcp_connection_handoffs_total in /metrics"
  echo "run ${run}: ${handed} connections handed to the other worker so far"
  if ((handed > 0)); then
    break
  fi
done
((handed > 0)) || fail "no ConnectionBind reached the other worker in ${UCLIENT_RUNS} uclient runs"

note "2. tcp_relay_echo.py: Connect to a TCP echo peer, ConnectionBind, byte-identical echoes"
timeout 60 python3 "${script_dir}/tcp_relay_echo.py" 127.0.0.1 "${port}" "${USER_NAME}" \
  "${PASSWORD}" || fail "tcp_relay_echo.py failed"

note "3. over TLS: turnutils_uclient -T -S, and tcp_relay_echo.py with TLS connections"
uclient_tcp_relay tls -S -p "${tls_port}"
timeout 60 python3 "${script_dir}/tcp_relay_echo.py" 127.0.0.1 "${tls_port}" "${USER_NAME}" \
  "${PASSWORD}" tls "${workdir}/cert.pem" || fail "tcp_relay_echo.py over TLS failed"

note "4. no warnings or errors in the log; SIGTERM"
# Text log lines are "TIMESTAMP LEVEL message" (server/log.cpp).
if grep -Eq "^[^ ]+ (warn|error) " "${log}"; then
  grep -E "^[^ ]+ (warn|error) " "${log}" >&2
  fail "turnpike logged a warning or an error"
fi
stop_server
echo "PASS"
