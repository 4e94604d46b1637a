#!/usr/bin/env bash
# Interop: tls_passthrough on an auto listener (issue 8): one port serves a web backend and TURN.
#
#   tls_passthrough_test.sh /path/to/turnpike
#
# The backend is `openssl s_server -WWW` (files from a directory) on 127.0.0.1 with its own certificate (CN backend.test);
# turnpike's is CN turnpike.test. turnpike's auto listener has
#   tls_passthrough: {default: BACKEND, sni: {refused.test: A_CLOSED_PORT}}
# 1. curl with SNI example.test (ALPN h2,http/1.1) gets the backend's page and a 16 MiB random
#    file byte for byte (sha256; curl reads at 8 MB/s, so the splice queues and pauses the
#    backend), and s_client -alpn http/1.1 sees the backend's certificate:
#    the bytes went through unread.
#    A tls listener with only sni: {example.test: BACKEND} does the same for example.test, and
#    keeps other.test for itself (no ALPN: its certificate; ALPN http/1.1 and no default: its
#    no_application_protocol alert).
# 2. s_client -alpn stun.turn (and no ALPN with an unlisted SNI) gets turnpike's certificate.
# 3. turnutils_uclient over TLS (no ALPN) on the same port allocates and relays.
# 4. SNI refused.test: the backend refuses, the client is closed without a handshake, and
#    turnpike_tcp_connections_closed_total{reason="passthrough_connect_error"} counts it;
#    turnpike_tls_passthrough_connections_total counts every spliced connection.
# 5. With limits.connection_idle_timeout 1 s, a splice with no bytes either way is closed
#    (idle_timeout), while the slow 16 MiB download in step 1 (longer than that) is not.
# 6. A tls listener with tls_passthrough {default: CAPTURE, proxy_protocol: v1}: the backend (socat,
#    keeping what it reads) gets "PROXY TCP4 127.0.0.1 127.0.0.1 CLIENT_PORT PORT\r\n", then the
#    ClientHello.
# 7. A tls listener that takes a PROXY header itself (proxy_protocol: true) and sends v2 to its
#    backend: a client whose header says 203.0.113.7:40000 -> 198.51.100.1:443, followed by step
#    6's ClientHello, reaches the backend as a v2 header naming those two addresses (not the
#    socket's), then the same ClientHello byte for byte.
# Exits 0 on pass, non-zero with a message on failure.
set -euo pipefail

# shellcheck source=tests/interop/lib.sh
source "$(dirname "$0")/lib.sh"

require_tools openssl curl turnutils_uclient turnutils_peer python3 ss timeout
interop_setup "$@"

for name in turnpike backend; do
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=${name}.test" \
    -keyout "${workdir}/${name}-key.pem" -out "${workdir}/${name}-cert.pem" 2>/dev/null ||
    fail "openssl req could not make a test certificate"
done

mkdir "${workdir}/www"
echo "passthrough backend page" >"${workdir}/www/index.html"
head -c $((16 << 20)) /dev/urandom >"${workdir}/www/big.bin"
backend_port=$(free_port)
(cd "${workdir}/www" && exec timeout 120 openssl s_server -WWW -accept "127.0.0.1:${backend_port}" \
  -cert "${workdir}/backend-cert.pem" -key "${workdir}/backend-key.pem" \
  >"${workdir}/s_server.log" 2>&1 </dev/null) &
helper_pids+=($!)
wait_for_tcp_listener "${backend_port}"
# Step 6's backend: socat keeps the bytes of the one connection it accepts.
capture_port=$(free_port)
timeout 120 socat -u "TCP-LISTEN:${capture_port},bind=127.0.0.1,reuseaddr" \
  "CREATE:${workdir}/captured.bin" 2>"${workdir}/socat.log" &
helper_pids+=($!)
wait_for_tcp_listener "${capture_port}"
capture2_port=$(free_port)  # step 7's
timeout 120 socat -u "TCP-LISTEN:${capture2_port},bind=127.0.0.1,reuseaddr" \
  "CREATE:${workdir}/captured2.bin" 2>"${workdir}/socat2.log" &
helper_pids+=($!)
wait_for_tcp_listener "${capture2_port}"

write_config() {
  port=$(free_port)
  http_port=$(free_port)
  closed_port=$(free_port)  # nothing listens here
  tls_port=$(free_port)
  proxy_tls_port=$(free_port)
  proxied_tls_port=$(free_port)
  cat >"${workdir}/turnpike.yaml" <<EOF
realm: turnpike.test
listeners:
  - transport: auto
    address: 127.0.0.1
    port: ${port}
    tls_passthrough:
      default: 127.0.0.1:${backend_port}
      sni: {refused.test: "127.0.0.1:${closed_port}"}
  - transport: tls
    address: 127.0.0.1
    port: ${tls_port}
    tls_passthrough: {sni: {example.test: "127.0.0.1:${backend_port}"}}
  - transport: tls
    address: 127.0.0.1
    port: ${proxy_tls_port}
    tls_passthrough: {default: "127.0.0.1:${capture_port}", proxy_protocol: v1}
  - transport: tls
    address: 127.0.0.1
    port: ${proxied_tls_port}
    proxy_protocol: true
    tls_passthrough: {default: "127.0.0.1:${capture2_port}", proxy_protocol: v2}
tls: {certificate: ${workdir}/turnpike-cert.pem, private_key: ${workdir}/turnpike-key.pem}
relay: {addresses: [127.0.0.1]}
auth: {users: {alice: secret}}
peers: {allow: [127.0.0.0/8]}
http: {address: 127.0.0.1, port: ${http_port}}
# A splice that moves bytes outlives this; an idle one does not (step 5).
limits: {connection_idle_timeout: 1}
drain: {timeout: 0}
threads: 2
log: {level: debug}
EOF
}

metric() {
  curl -s --max-time 5 "http://127.0.0.1:${http_port}/metrics" | awk -v name="$1" \
    '$1 == name { printf "%d\n", $2; found = 1 } END { if (!found) print 0 }'
}

# sclient ARGS...: s_client against the auto listener; its whole output.
sclient() {
  (sleep 0.5) | timeout 10 openssl s_client -connect "127.0.0.1:${port}" "$@" 2>&1 || true
}

start_server write_config
wait_for_tcp_listener "${http_port}"
note "turnpike auto on 127.0.0.1:${port}, backend s_server on :${backend_port}"

note "1. a web client goes to the backend"
page=$(timeout 15 curl -sk --max-time 10 --resolve "example.test:${port}:127.0.0.1" \
  "https://example.test:${port}/index.html") || fail "curl failed"
[[ "${page}" == "passthrough backend page" ]] || fail "curl did not get the backend's page: ${page}"
timeout 30 curl -sk --max-time 25 --resolve "example.test:${port}:127.0.0.1" \
  --limit-rate 8M -o "${workdir}/big.out" "https://example.test:${port}/big.bin" ||
  fail "curl big.bin failed"
want=$(sha256sum <"${workdir}/www/big.bin")
got=$(sha256sum <"${workdir}/big.out")
[[ "${got}" == "${want}" ]] || fail "big.bin differs after the splice ($(stat -c %s "${workdir}/big.out") bytes)"
out=$(sclient -servername example.test -alpn http/1.1)
grep -q "subject=CN *= *backend.test" <<<"${out}" || fail "not the backend's certificate: ${out}"
page=$(timeout 15 curl -sk --max-time 10 --resolve "example.test:${tls_port}:127.0.0.1" \
  "https://example.test:${tls_port}/index.html") || fail "curl on the tls listener failed"
[[ "${page}" == "passthrough backend page" ]] || fail "tls listener: not the backend's page: ${page}"
out=$(timeout 10 openssl s_client -connect "127.0.0.1:${tls_port}" -servername other.test \
  </dev/null 2>&1 || true)
grep -q "subject=CN *= *turnpike.test" <<<"${out}" || fail "tls listener, other.test: ${out}"
# With web ALPN and no default, turnpike's own TLS answers, and refuses the ALPN (RFC 7301).
out=$(timeout 10 openssl s_client -connect "127.0.0.1:${tls_port}" -servername other.test \
  -alpn http/1.1 </dev/null 2>&1 || true)
grep -q "alert no application protocol" <<<"${out}" || fail "tls listener, other.test h1: ${out}"
echo "curl got the backend's page and 16 MiB byte for byte (read slowly); s_client saw CN backend.test"

note "2. TURN clients get turnpike's TLS"
out=$(sclient -servername example.test -alpn stun.turn)
grep -q "subject=CN *= *turnpike.test" <<<"${out}" || fail "-alpn stun.turn: ${out}"
grep -q "^ALPN protocol: stun.turn" <<<"${out}" || fail "-alpn stun.turn not selected: ${out}"
out=$(sclient -servername example.test)
grep -q "subject=CN *= *turnpike.test" <<<"${out}" || fail "no ALPN: ${out}"
echo "stun.turn and no-ALPN clients: CN turnpike.test"

note "3. turnutils_uclient over TLS on the same port allocates and relays"
start_peer
set +e
timeout 40 turnutils_uclient -t -S -u alice -w secret -n 10 -m 1 -e 127.0.0.1 -r "${peer_port}" \
  -p "${port}" 127.0.0.1 >"${workdir}/uclient.log" 2>&1
rc=$?
set -e
[[ ${rc} -eq 0 ]] || fail "uclient exit status ${rc}: $(tail -20 "${workdir}/uclient.log")"
# -m 1 runs a pair of clients (msz=2): 20 messages in all.
grep -q "start_mclient: tot_send_msgs=20, tot_recv_msgs=20$" "${workdir}/uclient.log" ||
  fail "uclient did not get its 20 messages back: $(tail -20 "${workdir}/uclient.log")"
grep -q "Total lost packets 0 (" "${workdir}/uclient.log" ||
  fail "uclient lost packets: $(tail -20 "${workdir}/uclient.log")"
echo "uclient: 20 messages relayed, none lost"

note "4. a refusing backend closes the client and is counted"
before=$(metric 'turnpike_tcp_connections_closed_total{reason="passthrough_connect_error"}')
out=$(sclient -servername refused.test -alpn http/1.1)
if grep -q "^New, TLS" <<<"${out}"; then fail "a handshake completed: ${out}"; fi
after=${before}
for _ in $(seq 1 40); do
  after=$(metric 'turnpike_tcp_connections_closed_total{reason="passthrough_connect_error"}')
  [[ ${after} -gt ${before} ]] && break
  sleep 0.05
done
[[ ${after} -eq $((before + 1)) ]] || fail "passthrough_connect_error went ${before} -> ${after}"
spliced=$(metric turnpike_tls_passthrough_connections_total)
[[ ${spliced} -eq 5 ]] || fail "turnpike_tls_passthrough_connections_total is ${spliced}, expected 5"
echo "refused backend: client closed, counted; 5 connections passed through"

note "5. an idle splice is closed after limits.connection_idle_timeout"
before=$(metric 'turnpike_tcp_connections_closed_total{reason="idle_timeout"}')
start=${SECONDS}
# stdin stays open for 8 s (a process substitution: $(...) does not wait for it); s_client
# exits as soon as the server closes.
out=$(timeout 10 openssl s_client -connect "127.0.0.1:${port}" -servername example.test \
  -alpn http/1.1 < <(sleep 8) 2>&1 || true)
grep -q "subject=CN *= *backend.test" <<<"${out}" || fail "idle client: not spliced: ${out}"
elapsed=$((SECONDS - start))
((elapsed < 6)) || fail "the idle splice was not closed (${elapsed} s)"
after=$(metric 'turnpike_tcp_connections_closed_total{reason="idle_timeout"}')
[[ ${after} -eq $((before + 1)) ]] || fail "idle_timeout went ${before} -> ${after}"
echo "idle splice closed after ${elapsed} s (idle_timeout)"

note "6. proxy_protocol: v1 sends the backend a PROXY line naming the client first"
timeout 5 openssl s_client -connect "127.0.0.1:${proxy_tls_port}" -servername web.test \
  -alpn http/1.1 < <(sleep 2) >"${workdir}/s_client6.log" 2>&1 || true
line=""
for _ in $(seq 1 50); do
  line=$(head -c 200 "${workdir}/captured.bin" 2>/dev/null | head -n 1 | tr -d '\r')
  [[ -n "${line}" ]] && break
  sleep 0.1
done
[[ "${line}" =~ ^PROXY\ TCP4\ 127\.0\.0\.1\ 127\.0\.0\.1\ [0-9]+\ ${proxy_tls_port}$ ]] ||
  fail "the backend did not get a PROXY v1 line first: '${line}'"
# Right after the CRLF: the ClientHello's record header (22: handshake), byte for byte.
first=$(head -c $((${#line} + 3)) "${workdir}/captured.bin" | tail -c 1 | od -An -tu1 | tr -d ' ')
[[ "${first}" == 22 ]] || fail "the ClientHello does not follow the PROXY line (byte ${first})"
echo "backend got '${line}' and then the ClientHello"

note "7. behind a balancer: the client from the inbound PROXY header goes to the backend in v2"
python3 - "${proxied_tls_port}" "${workdir}/captured.bin" "${workdir}/captured2.bin" <<'PY' ||
import socket, sys, time
port, first, second = int(sys.argv[1]), sys.argv[2], sys.argv[3]
hello = open(first, "rb").read().split(b"\r\n", 1)[1]
with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
    s.sendall(b"PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\n" + hello)
    deadline = time.time() + 5
    got = b""
    while time.time() < deadline and len(got) < 28 + len(hello):
        time.sleep(0.1)
        got = open(second, "rb").read()
sig = bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A])
want = sig + bytes([0x21, 0x11, 0, 12, 203, 0, 113, 7, 198, 51, 100, 1]) + \
    (40000).to_bytes(2, "big") + (443).to_bytes(2, "big")
if got[:28] != want:
    sys.exit(f"the backend's first 28 bytes are {got[:28].hex()}, not {want.hex()}")
if got[28:] != hello:
    sys.exit(f"after the v2 header: {len(got) - 28} bytes, not the {len(hello)}-byte ClientHello")
print(f"backend got a v2 header for 203.0.113.7:40000 -> 198.51.100.1:443, then the ClientHello")
PY
  fail "step 7"

stop_server
echo "PASS: one port, web backend by SNI/ALPN (unread), TURN over TLS alongside, PROXY v1 to a backend"
