#!/usr/bin/env bash
# Interop: coturn's TURN client turnutils_uclient, with turnutils_peer as the UDP echo peer,
# against the real turnpike server on 127.0.0.1.
#
#   turn_uclient_test.sh /path/to/turnpike
#
# turnpike listens on udp+tcp and tls, relays on 127.0.0.1, knows the static user alice and the
# TURN REST secret s3cret (usernames "expiry:bob"), and allows peers in 127.0.0.0/8.
#
# 1. Matrix, 12 runs: client transport {udp, tcp, tls} x auth {static user, REST secret} x mode
#    {ChannelData (uclient's default), Send/Data indications (-s)}, each `-n 50 -m 2` (two
#    allocations, 50 messages each, echoed by turnutils_peer). A run passes when uclient exits 0
#    after sending 100 and receiving 100 messages ("Total lost packets 0"), prints no error line,
#    and turnpike logs, for each of the two allocations, an "allocation ended" accounting line
#    with 50 packets (5000 bytes) each way and reason=deleted. The static-user and REST runs of
#    one transport and mode run side by side, to keep the matrix near 40 s.
# 2. Byte identity. turnutils_uclient does not check payload content: it sends a fixed filler
#    (memset to 7) behind a small header (sequence number, send time), and on receipt
#    (client_read in coturn's uclient.c) checks only the channel number and the payload length
#    (exact for Data indications, up to 3 bytes of padding for ChannelData); its loss figure is
#    messages sent minus messages received. So this script adds its own check: turn_echo.py
#    (below, Python standard library only) allocates over each transport, sends 17 random
#    payloads of 1..1200 bytes (lengths that need padding included) through turnpike to the same
#    turnutils_peer, as ChannelData and as Send indications, and requires every echo to come back
#    byte-identical and in order. It also verifies MESSAGE-INTEGRITY on turnpike's success
#    responses and, over TLS, the server certificate (against the test's own cert and its IP SAN).
# 3. Negative: uclient with a wrong password gets no allocation. uclient treats 401 as a
#    challenge, retries, then exits non-zero with "Cannot complete Allocation" without printing
#    the code, so its UDP traffic goes through socat (-x hex dump) and every Allocate response
#    it got must be an error response with ERROR-CODE 401 (none a success). turn_echo.py also
#    requires 401 for a wrong password and a wrong REST secret over udp, tcp and tls.
# 4. SIGTERM: turnpike must exit with status 0 within 5 s, and its log must hold an "allocation
#    ended" line for at least every allocation the checks above completed.
#
# TLS: the certificate is a self-signed P-256 one made here with the openssl CLI. uclient (-S -t)
# does not verify the server certificate: without -E it sets SSL_VERIFY_NONE, and coturn 4.6.1
# even connects with -E naming an unrelated CA, so -E is not passed (turn_echo.py verifies it).
# uclient first tries TLS 1.0/1.1 contexts, which turnpike refuses (TLS 1.2+); those "alert
# protocol version" lines are expected and not counted as errors.
#
# Exits 0 on pass, non-zero with a message on failure. Needs coturn, socat, ss (iproute2),
# openssl and python3.
set -euo pipefail

readonly RUN_TIMEOUT=40     # seconds for one uclient run (about 6 s when all is well)
readonly CHECK_TIMEOUT=30   # seconds for one turn_echo.py run (well under 1 s when all is well)
readonly LOG_WAIT=5         # seconds to wait for accounting lines after a run
readonly MESSAGES=50        # -n: messages per allocation
readonly STATIC_USER=alice PASSWORD=wonderland REST_USER=bob SECRET=s3cret

# shellcheck source=tests/interop/lib.sh
source "$(dirname "$0")/lib.sh"

if [[ $# -ne 1 || ! -x "$1" ]]; then
  echo "usage: $0 /path/to/turnpike" >&2
  exit 2
fi
readonly turnpike=$1

require_tools turnutils_uclient turnutils_peer socat ss timeout openssl python3
interop_setup

# Ports below the kernel's ephemeral range (32768+) and turnpike's relay range (49152+), so no
# client socket or relay can take them between picking and binding.
free_port() { random_free_port 20000 32767; }

# Picks ports for the udp+tcp listeners and the tls listener; sets port and tls_port.
write_config() {
  port=$(free_port)
  tls_port=$(free_port)
  [[ "${tls_port}" != "${port}" ]] || tls_port=$((port + 1))
  cat >"${workdir}/turnpike.yaml" <<EOF
realm: turnpike.test
listeners:
  - {transport: udp, address: 127.0.0.1, port: ${port}}
  - {transport: tcp, address: 127.0.0.1, port: ${port}}
  - {transport: tls, address: 127.0.0.1, port: ${tls_port}}
tls: {certificate: ${workdir}/cert.pem, private_key: ${workdir}/key.pem}
relay: {addresses: [127.0.0.1]}
auth:
  users: {${STATIC_USER}: ${PASSWORD}}
  secrets: [${SECRET}]
peers: {allow: [127.0.0.0/8]}
http: {port: 0}
threads: 2
log: {level: info}
EOF
}

# Starts turnutils_peer (UDP echo) on a free port; sets peer_port.
start_peer() {
  local pid _
  for _ in 1 2 3; do
    peer_port=$(free_port)
    turnutils_peer -p "${peer_port}" -L 127.0.0.1 >"${workdir}/peer.log" 2>&1 &
    pid=$!
    helper_pids+=("${pid}")
    sleep 0.1
    if kill -0 "${pid}" 2>/dev/null; then
      wait_for_udp_listener "${peer_port}"
      return 0
    fi
    echo "turnutils_peer could not use port ${peer_port}, retrying" >&2
  done
  fail "turnutils_peer did not start in 3 attempts: $(cat "${workdir}/peer.log")"
}

# Milliseconds since the epoch (bash 5's EPOCHREALTIME, without the dot).
now_ms() {
  local t=${EPOCHREALTIME/[.,]/}
  echo $((t / 1000))
}

# seconds MS: "12.3".
seconds() { echo "$(($1 / 1000)).$((($1 % 1000) / 100))"; }

# Lines of a uclient log that report a problem. uclient's retries of TLS 1.0/1.1 are expected.
error_lines() {
  grep -iE 'error|wrong|cannot|unknown message|unexpected' "$1" |
    grep -vE 'tls_connect: cannot connect|alert protocol version' || true
}

# uclient_run NAME ARGS...: runs uclient in the background against turnpike with -n/-m and the
# peer; writes NAME.log, NAME.rc and NAME.ms in ${workdir}; the pid goes to ${run_pids}.
uclient_run() {
  local name=$1
  shift
  (
    start=$(now_ms)
    set +e
    timeout "${RUN_TIMEOUT}" turnutils_uclient "$@" -n "${MESSAGES}" -m 2 \
      -e 127.0.0.1 -r "${peer_port}" 127.0.0.1 >"${workdir}/${name}.log" 2>&1
    echo $? >"${workdir}/${name}.rc"
    echo $(($(now_ms) - start)) >"${workdir}/${name}.ms"
  ) &
  run_pids+=($!)
}

# accounting_lines FROM_LINE USER_REGEX TRANSPORT: turnpike's "allocation ended" lines after
# line FROM_LINE for a fully echoed allocation of this user over this client transport.
accounting_lines() {
  local bytes=$((MESSAGES * 100))
  tail -n +"$(($1 + 1))" "${log}" | grep -cE "allocation ended user=$2 client=$3 [^ ]+ relay=[^ ]+ \
peers=1 to_peer_bytes=${bytes} to_peer_packets=${MESSAGES} to_client_bytes=${bytes} \
to_client_packets=${MESSAGES} duration_s=[0-9]+ reason=deleted$" || true
}

# check_run NAME TRANSPORT USER_REGEX FROM_LINE: prints the verdict; returns 1 on failure.
check_run() {
  local name=$1 transport=$2 user=$3 from=$4 out="${workdir}/$1.log" problems=() count errors _
  local rc ms
  rc=$(cat "${workdir}/${name}.rc")
  ms=$(cat "${workdir}/${name}.ms")
  if [[ "${rc}" == 124 ]]; then
    problems+=("timed out after ${RUN_TIMEOUT} s")
  elif [[ "${rc}" != 0 ]]; then
    problems+=("exit status ${rc}")
  fi
  grep -q "tot_send_msgs=$((2 * MESSAGES)), tot_recv_msgs=$((2 * MESSAGES))\$" "${out}" ||
    problems+=("not $((2 * MESSAGES)) messages sent and received")
  grep -q "Total lost packets 0 (" "${out}" ||
    problems+=("$(grep -o 'Total lost packets [0-9]* ([^)]*)' "${out}" || echo 'no loss line')")
  errors=$(error_lines "${out}")
  [[ -z "${errors}" ]] || problems+=("$(wc -l <<<"${errors}") error lines, first: $(head -1 <<<"${errors}")")
  for _ in $(seq 1 $((LOG_WAIT * 10))); do
    count=$(accounting_lines "${from}" "${user}" "${transport}")
    ((count >= 2)) && break
    sleep 0.1
  done
  ((count == 2)) || problems+=("${count} of 2 full \"allocation ended\" lines in turnpike's log")
  if ((${#problems[@]} == 0)); then
    printf '%-28s PASS %5s s\n' "${name}" "$(seconds "${ms}")"
    return 0
  fi
  printf '%-28s FAIL %5s s: %s\n' "${name}" "$(seconds "${ms}")" \
    "$(IFS=';'; echo "${problems[*]}")"
  echo "    --- ${name}: uclient output (first 20 lines) ---"
  grep -v "start_mclient: msz=" "${out}" | head -20 | sed 's/^/    /'
  return 1
}

note "TLS certificate: self-signed P-256, CN and subjectAltName 127.0.0.1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "${workdir}/key.pem" -out "${workdir}/cert.pem" -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 >"${workdir}/openssl.log" 2>&1 ||
  fail "openssl could not make the certificate: $(cat "${workdir}/openssl.log")"

cat >"${workdir}/turn_echo.py" <<'PYTHON'
"""A minimal TURN client (stdlib only) that checks byte-identical echoes through turnpike.

  turn_echo.py TRANSPORT HOST PORT PEER_PORT MODE USER PASSWORD|--secret=SECRET [--ca FILE]

TRANSPORT udp|tcp|tls. MODE channel|send: payloads of many sizes (random bytes, including
lengths that need padding) go out as ChannelData or Send indications to the echo peer
127.0.0.1:PEER_PORT; every echo must come back byte-identical, in order. MODE unauthorized
(PEER_PORT unused): an Allocate with these credentials must be answered 401. --secret=SECRET
makes TURN REST credentials for USER; --ca FILE verifies the TLS server's certificate.
Exits 0 on pass, 1 with a message.
"""

import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct
import sys
import time

COOKIE = 0x2112A442
ALLOCATE, REFRESH, CREATE_PERMISSION, CHANNEL_BIND = 0x003, 0x004, 0x008, 0x009
SEND_INDICATION, DATA_INDICATION = 0x0016, 0x0017
A_USERNAME, A_MESSAGE_INTEGRITY, A_ERROR_CODE, A_CHANNEL_NUMBER = 0x0006, 0x0008, 0x0009, 0x000C
A_LIFETIME, A_XOR_PEER_ADDRESS, A_DATA, A_REALM, A_NONCE = 0x000D, 0x0012, 0x0013, 0x0014, 0x0015
A_XOR_RELAYED_ADDRESS, A_REQUESTED_TRANSPORT = 0x0016, 0x0019
CHANNEL = 0x4000
SIZES = [1, 2, 3, 4, 5, 7, 8, 13, 64, 99, 100, 255, 256, 511, 1000, 1199, 1200]
TIMEOUT = 3.0


def die(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def attr(kind, value):
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def xor_address(host, port):
    ip = struct.unpack("!I", socket.inet_aton(host))[0] ^ COOKIE
    return struct.pack("!BBHI", 0, 1, port ^ (COOKIE >> 16), ip)


def message(msg_type, attrs, key=None):
    tid = os.urandom(12)
    body = b"".join(attrs)
    if key is not None:  # MESSAGE-INTEGRITY over the message with its length counting MI
        head = struct.pack("!HHI", msg_type, len(body) + 24, COOKIE) + tid
        body += attr(A_MESSAGE_INTEGRITY, hmac.new(key, head + body, hashlib.sha1).digest())
    return tid, struct.pack("!HHI", msg_type, len(body), COOKIE) + tid + body


def parse_attrs(data):
    attrs, offset = {}, 20
    while offset + 4 <= len(data):
        kind, length = struct.unpack_from("!HH", data, offset)
        attrs.setdefault(kind, (offset, data[offset + 4:offset + 4 + length]))
        offset += 4 + length + (-length % 4)
    return attrs


class Connection:
    def __init__(self, transport, host, port, ca):
        self.transport, self.server, self.buffer = transport, (host, port), b""
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.connect(self.server)
        else:
            self.sock = socket.create_connection(self.server, timeout=TIMEOUT)
            if transport == "tls":
                context = ssl.create_default_context(cafile=ca)  # verifies cert and IP SAN
                self.sock = context.wrap_socket(self.sock, server_hostname=host)
        self.sock.settimeout(TIMEOUT)

    def send(self, data):
        self.sock.sendall(data)

    def receive(self):
        """One STUN message or ChannelData message (stream framing and padding removed)."""
        if self.transport == "udp":
            return self.sock.recv(65536)
        while True:
            if len(self.buffer) >= 4:
                first, length = struct.unpack_from("!HH", self.buffer)
                if first >> 14 == 1:  # ChannelData: padded to 4 bytes over streams
                    size, wire = 4 + length, 4 + length + (-length % 4)
                else:
                    size = wire = 20 + length
                if len(self.buffer) >= wire:
                    frame, self.buffer = self.buffer[:size], self.buffer[wire:]
                    return frame
            chunk = self.sock.recv(65536)
            if not chunk:
                die(f"{self.transport}: server closed the connection")
            self.buffer += chunk


class Client:
    def __init__(self, connection, user, password):
        self.conn, self.user, self.password = connection, user.encode(), password.encode()
        self.key = self.realm = self.nonce = None

    def transact(self, method, attrs, signed=True):
        auth = []
        if signed:
            auth = [attr(A_USERNAME, self.user), attr(A_REALM, self.realm),
                    attr(A_NONCE, self.nonce)]
        tid, data = message(method, attrs + auth, self.key if signed else None)
        for _ in range(3):  # retransmits matter only over UDP
            self.conn.send(data)
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                try:
                    reply = self.conn.receive()
                except socket.timeout:
                    break
                if len(reply) >= 20 and reply[8:20] == tid:
                    return reply
            if self.conn.transport != "udp":
                break
        die(f"no response to method 0x{method:03x}")

    def expect_success(self, method, attrs):
        reply = self.transact(method, attrs)
        kind = struct.unpack_from("!H", reply)[0]
        attributes = parse_attrs(reply)
        if kind != method | 0x0100:
            error = attributes.get(A_ERROR_CODE, (0, b"\0\0\0\0"))[1]
            die(f"method 0x{method:03x}: type 0x{kind:04x}, error {error[2] * 100 + error[3]}")
        offset, mac = attributes.get(A_MESSAGE_INTEGRITY, (0, b""))
        head = reply[:2] + struct.pack("!H", offset + 24 - 20) + reply[4:offset]
        if not mac or not hmac.compare_digest(mac, hmac.new(self.key, head, hashlib.sha1).digest()):
            die(f"method 0x{method:03x}: success response without valid MESSAGE-INTEGRITY")
        return attributes

    def allocate(self):
        """Challenge, then authenticated Allocate; returns the 2nd response's type, attrs."""
        transport = [attr(A_REQUESTED_TRANSPORT, b"\x11\0\0\0")]
        reply = self.transact(ALLOCATE, transport, signed=False)
        attributes = parse_attrs(reply)
        if A_REALM not in attributes or A_NONCE not in attributes:
            die("the first Allocate was not challenged with REALM and NONCE")
        self.realm, self.nonce = attributes[A_REALM][1], attributes[A_NONCE][1]
        self.key = hashlib.md5(self.user + b":" + self.realm + b":" + self.password).digest()
        reply = self.transact(ALLOCATE, transport)
        return struct.unpack_from("!H", reply)[0], parse_attrs(reply)


def echo_check(client, mode, peer_port):
    peer = xor_address("127.0.0.1", peer_port)
    kind, attributes = client.allocate()
    if kind != 0x0103 or A_XOR_RELAYED_ADDRESS not in attributes:
        die(f"Allocate failed: type 0x{kind:04x}")
    client.expect_success(CREATE_PERMISSION, [attr(A_XOR_PEER_ADDRESS, peer)])
    if mode == "channel":
        client.expect_success(CHANNEL_BIND, [attr(A_CHANNEL_NUMBER, struct.pack("!HH", CHANNEL, 0)),
                                             attr(A_XOR_PEER_ADDRESS, peer)])
    total = 0
    for size in SIZES:
        payload = os.urandom(size)
        if mode == "channel":
            data = struct.pack("!HH", CHANNEL, size) + payload
            if client.conn.transport != "udp":
                data += b"\0" * (-size % 4)
        else:
            data = message(SEND_INDICATION, [attr(A_XOR_PEER_ADDRESS, peer), attr(A_DATA, payload)])[1]
        client.conn.send(data)
        try:
            reply = client.conn.receive()
        except socket.timeout:
            die(f"{mode}: no echo of a {size}-byte payload within {TIMEOUT} s")
        if mode == "channel":
            channel, length = struct.unpack_from("!HH", reply)
            got = reply[4:4 + length]
            if channel != CHANNEL:
                die(f"expected ChannelData on 0x{CHANNEL:04x}, got 0x{channel:04x}")
        else:
            if struct.unpack_from("!H", reply)[0] != DATA_INDICATION:
                die(f"expected a Data indication, got type 0x{reply[0]:02x}{reply[1]:02x}")
            attributes = parse_attrs(reply)
            if attributes.get(A_XOR_PEER_ADDRESS, (0, b""))[1] != peer:
                die("Data indication without the peer's XOR-PEER-ADDRESS")
            got = attributes.get(A_DATA, (0, None))[1]
        if got != payload:
            die(f"{mode}: the echo of a {size}-byte payload differs: sent {payload.hex()}, "
                f"got {got.hex() if got is not None else 'no DATA'}")
        total += size
    client.expect_success(REFRESH, [attr(A_LIFETIME, b"\0\0\0\0")])
    print(f"ok: {client.conn.transport} {mode}: {len(SIZES)} payloads ({total} bytes, sizes "
          f"{SIZES[0]}..{SIZES[-1]}) echoed byte-identical")


def main(argv):
    ca = None
    if "--ca" in argv:
        i = argv.index("--ca")
        ca, argv = argv[i + 1], argv[:i] + argv[i + 2:]
    if len(argv) != 8:
        die(__doc__)
    transport, host, port, peer_port, mode, user, password = argv[1:8]
    if password.startswith("--secret="):  # TURN REST API credentials
        user = f"{int(time.time()) + 3600}:{user}"
        mac = hmac.new(password[len("--secret="):].encode(), user.encode(), hashlib.sha1)
        password = base64.b64encode(mac.digest()).decode()
    client = Client(Connection(transport, host, int(port), ca), user, password)
    if mode == "unauthorized":
        kind, attributes = client.allocate()
        error = attributes.get(A_ERROR_CODE, (0, b"\0\0\0\0"))[1]
        if kind != 0x0113 or error[2] * 100 + error[3] != 401:
            die(f"expected a 401 error response, got type 0x{kind:04x}")
        print(f"ok: {transport} Allocate with bad credentials for {user}: 401")
    else:
        echo_check(client, mode, int(peer_port))


if __name__ == "__main__":
    main(sys.argv)
PYTHON

start_server write_config
wait_for_tcp_listener "${tls_port}"
start_peer
note "turnpike on 127.0.0.1:${port} (udp+tcp) and :${tls_port} (tls); turnutils_peer on udp ${peer_port}"

failures=()
transport_flags() {
  case $1 in
    udp) echo "-p ${port}" ;;
    tcp) echo "-t -p ${port}" ;;
    tls) echo "-S -t -p ${tls_port}" ;;
  esac
}
server_port() { if [[ $1 == tls ]]; then echo "${tls_port}"; else echo "${port}"; fi; }

# 1. The matrix.
note "1. turnutils_uclient -n ${MESSAGES} -m 2: {udp,tcp,tls} x {static user, REST secret} x {channel, send (-s)}"
matrix_start=$(now_ms)
for transport in udp tcp tls; do
  read -r -a flags <<<"$(transport_flags "${transport}")"
  for mode in channel send; do
    mode_flags=()
    [[ ${mode} == channel ]] || mode_flags=(-s)
    from=$(wc -l <"${log}")
    run_pids=()
    uclient_run "${transport}-static-${mode}" "${flags[@]}" "${mode_flags[@]}" \
      -u "${STATIC_USER}" -w "${PASSWORD}"
    uclient_run "${transport}-rest-${mode}" "${flags[@]}" "${mode_flags[@]}" \
      -u "${REST_USER}" -W "${SECRET}"
    wait "${run_pids[@]}"  # each run is bounded by timeout
    server_alive || fail "turnpike died during the ${transport} ${mode} runs"
    check_run "${transport}-static-${mode}" "${transport}" "${STATIC_USER}" "${from}" ||
      failures+=("uclient ${transport} static ${mode}")
    check_run "${transport}-rest-${mode}" "${transport}" "([0-9]+:)?${REST_USER}" "${from}" ||
      failures+=("uclient ${transport} rest ${mode}")
  done
done
echo "matrix: $(seconds $(($(now_ms) - matrix_start))) s"

# 2. Byte identity (uclient does not compare payloads: see the header).
note "2. byte identity: turn_echo.py, random payloads through turnpike to turnutils_peer"
echo_check() {
  if ! timeout "${CHECK_TIMEOUT}" python3 "${workdir}/turn_echo.py" "$@" \
    --ca "${workdir}/cert.pem"; then
    failures+=("turn_echo.py $*")
  fi
}
for transport in udp tcp tls; do
  server=(127.0.0.1 "$(server_port "${transport}")")
  echo_check "${transport}" "${server[@]}" "${peer_port}" channel "${STATIC_USER}" "${PASSWORD}"
  echo_check "${transport}" "${server[@]}" "${peer_port}" send "${REST_USER}" "--secret=${SECRET}"
  echo_check "${transport}" "${server[@]}" - unauthorized "${STATIC_USER}" "not-${PASSWORD}"
  echo_check "${transport}" "${server[@]}" - unauthorized "${REST_USER}" "--secret=not-${SECRET}"
done
server_alive || fail "turnpike died during the byte identity checks"

# 3. uclient with a wrong password, its UDP traffic through socat's hex dump.
note "3. turnutils_uclient with a wrong password gets 401"
relay_port=$(free_port)
socat -x -T 10 "UDP-LISTEN:${relay_port},bind=127.0.0.1,reuseaddr" "UDP:127.0.0.1:${port}" \
  2>"${workdir}/socat.log" &
helper_pids+=($!)
wait_for_udp_listener "${relay_port}"
set +e
timeout "${RUN_TIMEOUT}" turnutils_uclient -c -n 1 -m 1 -u "${STATIC_USER}" -w "not-${PASSWORD}" \
  -e 127.0.0.1 -r "${peer_port}" -p "${relay_port}" 127.0.0.1 >"${workdir}/negative.log" 2>&1
rc=$?
set -e
cat "${workdir}/negative.log"
# socat -x: a "< ..." header, then the datagram from turnpike in hex on one line.
responses=$(awk '/^< /{ getline; print }' "${workdir}/socat.log")
total=$(grep -c . <<<"${responses}" || true)
unauthorized=$(grep -cE '^ ?01 13 .* 00 09 00 [0-9a-f]{2} 00 00 04 01 ' <<<"${responses}" || true)
successes=$(grep -cE '^ ?01 03 ' <<<"${responses}" || true)
echo "uclient exit status ${rc}; turnpike answered ${total} Allocates: ${unauthorized} with 401," \
  "${successes} successes"
if ((rc == 0 || rc == 124)) || ! grep -q "Cannot complete Allocation" "${workdir}/negative.log" ||
  ((total == 0 || unauthorized != total)); then
  failures+=("uclient with a wrong password (exit ${rc}; ${unauthorized} of ${total} answers 401)")
fi
server_alive || fail "turnpike died during the wrong-password run"

# 4. Shutdown and accounting.
note "4. SIGTERM"
stop_server
ended=$(grep -c "allocation ended" "${log}" || true)
echo "turnpike exited with status 0; ${ended} \"allocation ended\" lines:"
grep -o "allocation ended .* reason=[a-z_]*" "${log}" | sed 's/.* reason=/  reason=/' | sort |
  uniq -c || true
# At least: 12 runs x 2 echoed allocations, and 6 from turn_echo.py (uclient adds probes).
((ended >= 12 * 2 + 6)) || failures+=("only ${ended} \"allocation ended\" lines, expected >= 30")

if ((${#failures[@]} > 0)); then
  fail "${#failures[@]} check(s) failed: $(IFS=';'; echo "${failures[*]}")"
fi
echo "PASS: turnutils_uclient TURN interop over udp, tcp and tls (static and REST auth," \
  "ChannelData and Send indications), byte-identical echoes, 401 on a wrong password"
