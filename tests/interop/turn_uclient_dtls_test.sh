#!/usr/bin/env bash
# Interop: coturn's turnutils_uclient over DTLS (RFC 7350: -S without -t) against a turnpike dtls
# listener on 127.0.0.1, with turnutils_peer as the UDP echo peer.
#
#   turn_uclient_dtls_test.sh /path/to/turnpike
#
# 1. uclient -S -n 50 -m 2, ChannelData and Send indications (-s), static user and REST secret:
#    each run must exit 0 with 100 messages sent and received, no loss, and turnpike must log
#    two "allocation ended user=... client=dtls ..." accounting lines with 50 packets each way.
# 2. The cookie exchange happened (turnpike_dtls_hello_verify_requests_total >= 4) and so did
#    the four runs' handshakes (turnpike_dtls_handshakes_total{result="success"} >= 4). uclient first
#    tries a DTLS 1.0 context, which turnpike refuses (DTLS 1.2 only): those count as failed.
# 3. Garbage datagrams to the dtls port are dropped and counted (not_client_hello), and a
#    ClientHello-shaped datagram gets only a HelloVerifyRequest-sized answer (no certificate
#    flight before a valid cookie: amplification).
# 4. SIGTERM: exit 0 within 5 s.
#
# The certificate is a self-signed P-256 one made here; uclient does not verify it.
# Needs coturn, openssl, python3, curl and ss (iproute2).
set -euo pipefail

readonly RUN_TIMEOUT=40
readonly LOG_WAIT=5
readonly MESSAGES=50
readonly STATIC_USER=alice PASSWORD=wonderland REST_USER=bob SECRET=s3cret

script_dir=$(cd "$(dirname "$0")" && pwd)
readonly script_dir
# shellcheck source=tests/interop/lib.sh
source "${script_dir}/lib.sh"

require_tools turnutils_uclient turnutils_peer ss timeout openssl python3 curl
interop_setup "$@"

write_config() {
  dtls_port=$(free_port)
  http_port=$(free_port_besides "${dtls_port}")
  cat >"${workdir}/turnpike.yaml" <<YAML
realm: turnpike.test
listeners:
  - {transport: dtls, address: 127.0.0.1, port: ${dtls_port}}
tls: {certificate: ${workdir}/cert.pem, private_key: ${workdir}/key.pem}
relay: {addresses: [127.0.0.1]}
auth:
  users: {${STATIC_USER}: ${PASSWORD}}
  secrets: [${SECRET}]
peers: {allow: [127.0.0.0/8]}
http: {address: 127.0.0.1, port: ${http_port}}
drain: {timeout: 0}
threads: 2
log: {level: info}
YAML
}

metric() {
  curl -s --max-time 5 "http://127.0.0.1:${http_port}/metrics" |
    awk -v name="$1" '$1 == name { print $2; found = 1 } END { if (!found) print 0 }'
}

note "TLS certificate: self-signed P-256"
make_test_certificate

start_server write_config
wait_for_udp_listener "${dtls_port}"
start_peer
note "turnpike dtls on 127.0.0.1:${dtls_port}; turnutils_peer on udp ${peer_port}"

failures=()
note "1. turnutils_uclient -S (DTLS) -n ${MESSAGES} -m 2"
for mode in channel send; do
  mode_flags=()
  [[ ${mode} == channel ]] || mode_flags=(-s)
  for auth in static rest; do
    if [[ ${auth} == static ]]; then
      creds=(-u "${STATIC_USER}" -w "${PASSWORD}") user=${STATIC_USER}
    else
      creds=(-u "${REST_USER}" -W "${SECRET}") user="([0-9]+:)?${REST_USER}"
    fi
    name="dtls-${auth}-${mode}"
    from=$(wc -l <"${log}")
    set +e
    timeout "${RUN_TIMEOUT}" turnutils_uclient -S "${mode_flags[@]}" "${creds[@]}" \
      -n "${MESSAGES}" -m 2 -e 127.0.0.1 -r "${peer_port}" -p "${dtls_port}" 127.0.0.1 \
      >"${workdir}/${name}.log" 2>&1
    rc=$?
    set -e
    problems=()
    ((rc == 0)) || problems+=("exit status ${rc}")
    grep -q "tot_send_msgs=$((2 * MESSAGES)), tot_recv_msgs=$((2 * MESSAGES))\$" \
      "${workdir}/${name}.log" || problems+=("not $((2 * MESSAGES)) messages sent and received")
    grep -q "Total lost packets 0 (" "${workdir}/${name}.log" || problems+=("packets lost")
    count=0
    for _ in $(seq 1 $((LOG_WAIT * 10))); do
      count=$(accounting_lines "${from}" "${user}" dtls "${MESSAGES}")
      ((count >= 2)) && break
      sleep 0.1
    done
    ((count == 2)) || problems+=("${count} of 2 dtls \"allocation ended\" lines")
    if ((${#problems[@]} == 0)); then
      echo "${name}: PASS"
    else
      echo "${name}: FAIL: $(IFS=';'; echo "${problems[*]}")"
      head -20 "${workdir}/${name}.log" | sed 's/^/    /'
      failures+=("${name}")
    fi
  done
done
server_alive || fail "turnpike died during the uclient runs"

note "2. cookie exchange and handshake counters"
hvr=$(metric turnpike_dtls_hello_verify_requests_total)
ok=$(metric 'turnpike_dtls_handshakes_total{result="success"}')
failed=$(metric 'turnpike_dtls_handshakes_total{result="failed"}')
echo "hello_verify_requests=${hvr} handshakes success=${ok} failed=${failed}"
((${hvr%.*} >= 4)) || failures+=("only ${hvr} HelloVerifyRequests")
((${ok%.*} >= 4)) || failures+=("only ${ok} successful handshakes")

note "3. garbage is dropped and counted; a bare ClientHello gets a small answer"
before=$(metric 'turnpike_dtls_dropped_total{reason="not_client_hello"}')
python3 - "${dtls_port}" <<'PY' || failures+=("amplification check")
import os, socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
s.bind(("127.0.0.1", 0))
for payload in (b"", b"\x00" * 20, b"GET / HTTP/1.1\r\n\r\n", os.urandom(200)):
    s.sendto(payload, ("127.0.0.1", port))
# A DTLS 1.2 ClientHello without a cookie (ECDHE-ECDSA-AES128-GCM-SHA256, P-256).
body = (b"\xfe\xfd" + os.urandom(32) + b"\x00" + b"\x00" + b"\x00\x02\xc0\x2b" + b"\x01\x00"
        + b"\x00\x0e" + b"\x00\x0a\x00\x04\x00\x02\x00\x17" + b"\x00\x0b\x00\x02\x01\x00")
hs = b"\x01" + len(body).to_bytes(3, "big") + b"\x00\x00" + b"\x00\x00\x00" + len(body).to_bytes(3, "big") + body
record = b"\x16\xfe\xff" + b"\x00\x00" + b"\x00" * 6 + len(hs).to_bytes(2, "big") + hs
s.sendto(record, ("127.0.0.1", port))
answer, _ = s.recvfrom(65535)
print(f"ClientHello {len(record)} bytes -> answer {len(answer)} bytes, handshake type {answer[13]}")
# HelloVerifyRequest is handshake type 3, and not larger than the ClientHello.
sys.exit(0 if answer[0] == 22 and answer[13] == 3 and len(answer) <= len(record) else 1)
PY
after=$(metric 'turnpike_dtls_dropped_total{reason="not_client_hello"}')
echo "not_client_hello drops: ${before} -> ${after}"
((${after%.*} - ${before%.*} >= 4)) || failures+=("garbage not counted (${before} -> ${after})")
server_alive || fail "turnpike died on garbage datagrams"

note "4. SIGTERM"
stop_server

if ((${#failures[@]} > 0)); then
  fail "${#failures[@]} check(s) failed: $(IFS=';'; echo "${failures[*]}")"
fi
echo "PASS: turnutils_uclient TURN over DTLS (static and REST, ChannelData and Send), cookie" \
  "exchange, garbage dropped and counted, no amplification before the cookie"
