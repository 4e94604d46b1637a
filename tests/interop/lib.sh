# shellcheck shell=bash
# Shell helpers shared by the interop scripts; sourced, not run. Provides:
#   fail MESSAGE...          print FAIL (and the turnpike log), exit 1
#   note MESSAGE...          print a step heading
#   require_tools TOOL...    fail naming the Debian package of any missing tool
#   interop_setup "$@"       check the one argument (the turnpike binary; set ${turnpike} to its
#                            absolute path), make ${workdir} (removed on exit), set ${log};
#                            install the EXIT trap
#   random_free_port [MIN MAX]   a port with no TCP or UDP socket on it (default 20000..59999)
#   free_port                random_free_port below the ephemeral and relay ranges (20000..32767)
#   free_port_besides PORT   free_port, but never PORT (for a second listener picked before the
#                            first is bound)
#   make_test_certificate    a self-signed P-256 certificate for 127.0.0.1 (CN and IP SAN) in
#                            ${workdir}/cert.pem, its key in ${workdir}/key.pem
#   accounting_lines FROM USER_REGEX TRANSPORT MESSAGES   how many "allocation ended" lines after
#                            line FROM of ${log} are for a fully echoed uclient allocation
#   wait_for_udp_listener PORT / wait_for_tcp_listener PORT   bounded waits on 127.0.0.1:PORT
#   start_peer               start turnutils_peer (UDP echo) on 127.0.0.1:free_port; set ${peer_port}
#   start_server WRITE_CONFIG    start ${turnpike} with ${workdir}/turnpike.yaml, retrying on a
#                                port race; WRITE_CONFIG is a function that picks the ports and
#                                writes that file
#   stop_server              SIGTERM turnpike; fail unless it exits with status 0 within 5 s
#   wait_started PID LOG     0 once LOG says "started"; 1 if PID exits first, 2 after 5 s
#   stop_turnpike PID        SIGTERM PID; fail unless it exits within 5 s; return its exit status
#                            (for scripts that run several turnpike processes)
# Callers set ${turnpike} before start_server and add background helpers to ${helper_pids}.

readonly START_TIMEOUT=5  # seconds for turnpike to start
readonly STOP_TIMEOUT=5   # seconds for turnpike to exit after SIGTERM

workdir=""
log=""
server_pid=""
helper_pids=()

fail() {
  echo "FAIL: $*" >&2
  if [[ -n "${log}" && -f "${log}" ]]; then
    echo "--- turnpike log ---" >&2
    cat "${log}" >&2
  fi
  exit 1
}

note() { echo "--- $*"; }

# The Debian package that ships each tool the interop scripts use.
package_of() {
  case $1 in
    turnutils_*) echo coturn ;;
    ss) echo iproute2 ;;
    kubectl) echo kubernetes-client ;;
    promtool) echo prometheus ;;
    ldd) echo libc-bin ;;
    timeout) echo coreutils ;;
    *) echo "$1" ;;
  esac
}

require_tools() {
  local tool
  for tool in "$@"; do
    if ! command -v "${tool}" >/dev/null; then
      echo "FAIL: ${tool} is not installed (Debian package $(package_of "${tool}"))." \
        "tests/run.sh installs the test packages." >&2
      exit 1
    fi
  done
}

interop_cleanup() {
  local pid
  for pid in "${helper_pids[@]}"; do
    kill "${pid}" 2>/dev/null || true
  done
  if [[ -n "${server_pid}" ]]; then
    kill -KILL "${server_pid}" 2>/dev/null || true
  fi
  for pid in "${helper_pids[@]}" ${server_pid}; do
    wait "${pid}" 2>/dev/null || true
  done
  if [[ -n "${workdir}" ]]; then
    rm -rf "${workdir}"
  fi
}

interop_setup() {
  if [[ $# -ne 1 || ! -x "$1" ]]; then
    echo "usage: $0 /path/to/turnpike" >&2
    exit 2
  fi
  turnpike=$(realpath "$1")  # absolute: scripts may cd
  readonly turnpike
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/turnpike-interop-XXXXXX")
  log="${workdir}/turnpike.log"
  trap interop_cleanup EXIT
}

# A port with no TCP or UDP socket on it right now (start-up retries if another process races).
port_is_free() {
  [[ -z "$(ss -Htuan "( sport = :$1 )" 2>/dev/null)" ]]
}

# shellcheck disable=SC2120  # MIN and MAX are optional
random_free_port() {
  local min=${1:-20000} max=${2:-59999} port _
  for _ in $(seq 1 50); do
    port=$((min + RANDOM % (max - min + 1)))
    if port_is_free "${port}"; then
      echo "${port}"
      return 0
    fi
  done
  fail "no free port found in ${min}..${max}"
}

# Ports below the kernel's ephemeral range (32768+) and turnpike's relay range (49152+), so no
# client socket or relay can take them between picking and binding.
free_port() { random_free_port 20000 32767; }

free_port_besides() {  # free_port_besides PORT...: a free port that is none of PORT...
  local port taken
  port=$(free_port)
  for _ in 1 2 3 4 5 6 7 8; do
    taken=0
    for other in "$@"; do [[ "${port}" != "${other}" ]] || taken=1; done
    ((taken)) || break
    port=$((port + 1))
  done
  echo "${port}"
}

make_test_certificate() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "${workdir}/key.pem" -out "${workdir}/cert.pem" -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >"${workdir}/openssl.log" 2>&1 ||
    fail "openssl could not make the certificate: $(cat "${workdir}/openssl.log")"
}

# turnutils_uclient -n MESSAGES with its default 100-byte messages, echoed by turnutils_peer:
# MESSAGES packets and MESSAGES * 100 bytes each way, deleted by the client.
accounting_lines() {
  local from=$1 user=$2 transport=$3 messages=$4
  local bytes=$((messages * 100))
  tail -n +"$((from + 1))" "${log}" | grep -cE "allocation ended user=${user} \
client=${transport} [^ ]+ server=[^ ]+ relay=[^ ]+ peers=1 to_peer_bytes=${bytes} \
to_peer_packets=${messages} to_client_bytes=${bytes} to_client_packets=${messages} \
duration_s=[0-9]+ reason=deleted$" || true
}

# wait_for_listener ss-FLAGS NAME PORT: waits (bounded, 5 s) for a listening socket on PORT.
wait_for_listener() {
  local flags=$1 name=$2 port=$3 _
  for _ in $(seq 1 100); do
    if [[ -n "$(ss "${flags}" "( sport = :${port} )" 2>/dev/null)" ]]; then
      return 0
    fi
    sleep 0.05
  done
  fail "nothing listens on ${name} 127.0.0.1:${port} after 5 s"
}

wait_for_udp_listener() { wait_for_listener -Hlun udp "$1"; }
wait_for_tcp_listener() { wait_for_listener -Hltn tcp "$1"; }

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

server_alive() {
  kill -0 "${server_pid}" 2>/dev/null
}

wait_started() {
  local pid=$1 file=$2 _
  for _ in $(seq 1 $((START_TIMEOUT * 20))); do
    if grep -q "started" "${file}"; then
      return 0
    fi
    if ! kill -0 "${pid}" 2>/dev/null; then
      return 1
    fi
    sleep 0.05
  done
  return 2
}

start_server() {
  local write_config=$1 _
  for _ in 1 2 3; do
    "${write_config}"
    # shellcheck disable=SC2154  # the caller sets turnpike
    "${turnpike}" --config "${workdir}/turnpike.yaml" >"${log}" 2>&1 &
    server_pid=$!
    if wait_started "${server_pid}" "${log}"; then
      return 0
    fi
    if server_alive; then
      fail "turnpike did not log \"started\" within ${START_TIMEOUT} s"
    fi
    wait "${server_pid}" || true
    server_pid=""
    if ! grep -q "bind" "${log}"; then
      fail "turnpike exited during start-up"
    fi
    echo "a port was taken, retrying" >&2
  done
  fail "turnpike could not bind its ports in 3 attempts"
}

stop_turnpike() {
  local pid=$1 rc=0
  kill -TERM "${pid}"
  if ! timeout "${STOP_TIMEOUT}" tail --pid="${pid}" -f /dev/null; then
    fail "turnpike did not exit within ${STOP_TIMEOUT} s of SIGTERM"
  fi
  wait "${pid}" || rc=$?
  return "${rc}"
}

stop_server() {
  local rc=0
  stop_turnpike "${server_pid}" || rc=$?
  server_pid=""
  [[ ${rc} -eq 0 ]] || fail "turnpike exited with status ${rc} on SIGTERM"
}
