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
#    (beside this script, Python standard library only, on the shared TURN client
#    tests/support/turn_client.py) allocates over each transport, sends 17 random
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

script_dir=$(cd "$(dirname "$0")" && pwd)
readonly script_dir
# shellcheck source=tests/interop/lib.sh
source "${script_dir}/lib.sh"

require_tools turnutils_uclient turnutils_peer socat ss timeout openssl python3
interop_setup "$@"

# Picks ports for the udp+tcp listeners and the tls listener; sets port and tls_port.
write_config() {
  port=$(free_port)
  tls_port=$(free_port_besides "${port}")
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
# uclient leaves some allocations open; SIGTERM must not wait for them (drain is tested elsewhere).
drain: {timeout: 0}
threads: 2
log: {level: info}
EOF
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
    count=$(accounting_lines "${from}" "${user}" "${transport}" "${MESSAGES}")
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
make_test_certificate

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
  if ! timeout "${CHECK_TIMEOUT}" python3 "${script_dir}/turn_echo.py" "$@" \
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
