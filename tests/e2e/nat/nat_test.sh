#!/usr/bin/env bash
# End to end: two clients, each behind its own NAT, reach each other only through turnpike.
#
#   nat_test.sh /path/to/turnpike        (as root; exits 77 "SKIPPED: ..." when it cannot
#                                         build network namespaces or nftables NAT)
#
# Topology: five network namespaces named tpnat-{pub,nata,clia,natb,clib}-PID, linked by veth
# pairs made inside them. Every address is in 198.18.0.0/15 (reserved for network testing);
# no veth end, route, rule or sysctl is put in the root namespace, so no packet can leave.
#
#   clia 198.19.1.2 -- 198.19.1.1 [nata] 198.18.1.2 -- 198.18.1.1 \
#                                                                   [pub] turnpike 198.18.0.1 (lo)
#   clib 198.19.2.2 -- 198.19.2.1 [natb] 198.18.2.2 -- 198.18.2.1 /
#
# pub forwards between the two NATs (the "internet"); it has no route to 198.19.0.0/16. Each NAT
# namespace masquerades what leaves its wan veth (nftables, table ip tpnat) and, as a home router
# does, drops anything that arrives on wan for the NAT box itself. Without that drop, the first
# punch datagram reaching a NAT before its client's own would leave a conntrack entry that
# makes the NAT pick another port for the client's reply, so port-preserving NAT would fail too.
#
# turnpike (udp+tcp 198.18.0.1:3478, tls :5349, relay 198.18.0.1, peers allow 198.18.0.0/15)
# runs in pub. Python clients (standard library only: holepunch.py and turn_pair.py beside this
# script, on tests/support/turn_client.py) run in clia and clib and meet through files.
#
# Steps, each with PASS/FAIL lines:
# 1. Port-preserving NAT (plain masquerade): both clients learn their public address with a
#    STUN Binding from turnpike, then send UDP straight to each other's: the hole punch must
#    SUCCEED (so the failure in step 2 is not vacuous), and mapped port = local port.
# 2. Symmetric NAT (masquerade fully-random: endpoint-dependent mapping, and conntrack makes
#    filtering endpoint-dependent): the same hole punch must FAIL, nothing arriving in 3 s.
# 3. TURN over UDP through both symmetric NATs: each client allocates, permits and binds a
#    channel to the OTHER's relayed address, and COUNT payloads go each way (resent in rounds
#    until confirmed, all byte-checked). XOR-MAPPED-ADDRESS in each Allocate success must be
#    the NAT's public address (198.18.x.2), never the client's 198.19.x.2, and turnpike's
#    "allocation ended" line must name the same client address, that relay and >= COUNT
#    packets each way.
# 4. Firewall: nata drops all UDP forwarded from its lan. A UDP Allocate from clia must time
#    out (and the drop rule's counter must show it), then TURN over TCP and over TLS (server
#    certificate verified) from clia must exchange COUNT payloads each way with clib on UDP,
#    with the same address checks.
# 5. coturn's turnutils_uclient in clia, -t (TCP) and -S -t (TLS), -n 50 -m 2, against turnpike
#    with turnutils_peer echoing in pub: exit 0, 100 sent and received, "Total lost packets 0",
#    and two full "allocation ended" lines per run naming clia's NAT address.
# 6. SIGTERM: turnpike exits 0 within 5 s; its log never names a 198.19.x.x address.
# A summary prints the measured numbers. Exits 0 only if every check passed; namespaces are
# removed on exit (trap), whatever happened.
set -euo pipefail

readonly COUNT=50            # payloads each way per TURN pair run
readonly PUNCH_SECONDS=3     # how long a hole punch tries
readonly RUN_TIMEOUT=30      # seconds for one Python client or uclient run
readonly PROBE_TIMEOUT=1     # seconds per try (3 tries) of the UDP Allocate that must time out
readonly MESSAGES=50         # uclient -n
readonly LOG_WAIT=5          # seconds to wait for accounting lines after a run
readonly SERVER=198.18.0.1 PORT=3478 TLS_PORT=5349 PEER_PORT=3480
readonly STATIC_USER=alice PASSWORD=wonderland REST_USER=bob SECRET=s3cret
readonly NAT_A_WAN=198.18.1.2 NAT_B_WAN=198.18.2.2 CLI_A=198.19.1.2 CLI_B=198.19.2.2

script_dir=$(cd "$(dirname "$0")" && pwd)
readonly script_dir
# shellcheck source=tests/interop/lib.sh
source "${script_dir}/../../interop/lib.sh"

if [[ $# -ne 1 || ! -x "$1" ]]; then
  echo "usage: $0 /path/to/turnpike" >&2
  exit 2
fi
turnpike=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
readonly turnpike

readonly suffix=$$
readonly ns_pub="tpnat-pub-${suffix}" ns_nat_a="tpnat-nata-${suffix}"
readonly ns_cli_a="tpnat-clia-${suffix}" ns_nat_b="tpnat-natb-${suffix}"
readonly ns_cli_b="tpnat-clib-${suffix}"
created_ns=()
run_pids=()  # background client runs (run_in)
failures=()
summary=()  # lines of measured numbers for the end
test_start=${EPOCHREALTIME/[.,]/}

# add_summary WORDS...: one summary line.
add_summary() { summary+=("$*"); }

skip() {
  echo "SKIPPED: $*"
  exit 77
}

# Removes every namespace this run made, after ending the processes still inside them (all
# started by this run: the names are unique to it) and waiting for the client runs that held
# them. Runs on EXIT, also after fail or a signal.
nat_cleanup() {
  local ns pid
  for ns in "${created_ns[@]}"; do
    for pid in $(ip netns pids "${ns}" 2>/dev/null); do
      kill -KILL "${pid}" 2>/dev/null || true
    done
  done
  for pid in "${run_pids[@]}"; do
    wait "${pid}" 2>/dev/null || true
  done
  interop_cleanup
  for ns in "${created_ns[@]}"; do
    ip netns del "${ns}" 2>/dev/null || echo "warning: could not delete namespace ${ns}" >&2
  done
}

# in_ns NS COMMAND...: runs COMMAND in namespace NS.
in_ns() {
  local ns=$1
  shift
  ip netns exec "${ns}" "$@"
}

pass() { printf 'PASS: %s\n' "$*"; }

# check_failed WHAT: prints FAIL and records it for the verdict (the script goes on).
check_failed() {
  printf 'FAIL: %s\n' "$*"
  failures+=("$*")
}

# check CONDITION-COMMAND... -- DESCRIPTION: PASS or FAIL on the command's status.
check() {
  local args=()
  while [[ $1 != -- ]]; do
    args+=("$1")
    shift
  done
  shift
  if "${args[@]}"; then pass "$*"; else check_failed "$*"; fi
}

# Milliseconds since the start of the script.
elapsed_ms() {
  local now=${EPOCHREALTIME/[.,]/}
  echo $(((now - test_start) / 1000))
}

# field KEY RUN: the value of KEY=VALUE on the "result" line of client run RUN (empty if none).
field() {
  sed -n "/^result /{s/.*\\b$1=\\([^ ]*\\).*/\\1/p;q}" "${workdir}/$2.out"
}

# port_of KEY RUN: the port of the IP:PORT value of KEY.
port_of() { field "$1" "$2" | cut -d: -f2; }

# ---------------------------------------------------------------------------------------------
# Preconditions: what is missing on the machine is a SKIP (77), never a pass.

preflight() {
  [[ $(id -u) -eq 0 ]] || skip "needs root for ip netns and nftables (uid $(id -u))"
  command -v ip >/dev/null || skip "ip (iproute2) is not installed"
  command -v nft >/dev/null || skip "nft (nftables) is not installed"
  require_tools turnutils_uclient turnutils_peer python3 openssl timeout ss
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/turnpike-nat-XXXXXX")
  log="${workdir}/turnpike.log"
  trap nat_cleanup EXIT
  trap 'exit 130' INT TERM
  local out
  if ! out=$(ip netns add "${ns_pub}" 2>&1); then
    skip "cannot create a network namespace: ${out}"
  fi
  created_ns+=("${ns_pub}")
  if ! out=$(in_ns "${ns_pub}" nft add table ip tpnat_probe 2>&1); then
    skip "nftables does not work in a network namespace: ${out}"
  fi
  in_ns "${ns_pub}" nft delete table ip tpnat_probe
}

# ---------------------------------------------------------------------------------------------
# Topology.

# add_ns NS: a namespace with lo up, recorded for clean-up.
add_ns() {
  ip netns add "$1"
  created_ns+=("$1")
  ip -n "$1" link set lo up
}

# link NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair made inside NS1 with its peer created in NS2
# (no end ever in the root namespace), both ends addressed and up.
link() {
  ip -n "$1" link add "$2" type veth peer name "$5" netns "$4"
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$4" addr add "$6" dev "$5"
  ip -n "$1" link set "$2" up
  ip -n "$4" link set "$5" up
}

# nat_ruleset: the NAT namespace's nftables table (masquerade set by set_nat_mode).
nat_ruleset() {
  cat <<'EOF'
table ip tpnat {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" counter drop
  }
  chain forward { type filter hook forward priority filter; policy accept; }
}
EOF
}

# set_nat_mode NS preserve|random: masquerade on wan, port-preserving or fully-random.
set_nat_mode() {
  local flags=""
  [[ $2 == random ]] && flags="fully-random"
  in_ns "$1" nft -f - <<EOF
flush chain ip tpnat postrouting
add rule ip tpnat postrouting oifname "wan" masquerade ${flags}
EOF
}

# build_nat NAT_NS CLI_NS N: the NAT namespace for client network N (1 or 2) and its client.
build_nat() {
  local nat=$1 cli=$2 n=$3 out
  add_ns "${nat}"
  add_ns "${cli}"
  link "${ns_pub}" "to-nat${n}" "198.18.${n}.1/24" "${nat}" wan "198.18.${n}.2/24"
  link "${nat}" lan "198.19.${n}.1/24" "${cli}" eth0 "198.19.${n}.2/24"
  ip -n "${nat}" route add default via "198.18.${n}.1"
  ip -n "${cli}" route add default via "198.19.${n}.1"
  in_ns "${nat}" sysctl -qw net.ipv4.ip_forward=1
  nat_ruleset | in_ns "${nat}" nft -f -
  if ! out=$(set_nat_mode "${nat}" random 2>&1); then
    skip "nftables masquerade fully-random is not available: ${out}"
  fi
  set_nat_mode "${nat}" preserve
}

build_topology() {
  ip -n "${ns_pub}" link set lo up
  ip -n "${ns_pub}" addr add "${SERVER}/32" dev lo
  in_ns "${ns_pub}" sysctl -qw net.ipv4.ip_forward=1
  if ! ip -n "${ns_pub}" link add probe0 type veth peer name probe1 >/dev/null 2>&1; then
    skip "cannot create veth pairs"
  fi
  ip -n "${ns_pub}" link del probe0
  build_nat "${ns_nat_a}" "${ns_cli_a}" 1
  build_nat "${ns_nat_b}" "${ns_cli_b}" 2
}

# ---------------------------------------------------------------------------------------------
# turnpike in pub, turnutils_peer beside it.

write_config() {
  cat >"${workdir}/turnpike.yaml" <<EOF
realm: turnpike.test
listeners:
  - {transport: udp, address: ${SERVER}, port: ${PORT}}
  - {transport: tcp, address: ${SERVER}, port: ${PORT}}
  - {transport: tls, address: ${SERVER}, port: ${TLS_PORT}}
tls: {certificate: ${workdir}/cert.pem, private_key: ${workdir}/key.pem}
relay: {addresses: [${SERVER}]}
auth:
  users: {${STATIC_USER}: ${PASSWORD}}
  secrets: [${SECRET}]
peers: {allow: [198.18.0.0/15]}
http: {port: 0}
threads: 2
log: {level: info}
EOF
}

# wait_listening NS SS-FLAGS PORT: bounded (5 s) wait for a listening socket in NS.
wait_listening() {
  local _
  for _ in $(seq 1 100); do
    [[ -n "$(in_ns "$1" ss "$2" "( sport = :$3 )" 2>/dev/null)" ]] && return 0
    sleep 0.05
  done
  fail "nothing listens on port $3 ($2) in $1 after 5 s"
}

start_turnpike() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "${workdir}/key.pem" -out "${workdir}/cert.pem" -days 2 -subj "/CN=${SERVER}" \
    -addext "subjectAltName=IP:${SERVER}" >"${workdir}/openssl.log" 2>&1 ||
    fail "openssl could not make the certificate: $(cat "${workdir}/openssl.log")"
  write_config
  # ip netns exec execs turnpike: ${server_pid} is turnpike's own pid.
  ip netns exec "${ns_pub}" "${turnpike}" --config "${workdir}/turnpike.yaml" >"${log}" 2>&1 &
  server_pid=$!
  if ! wait_started "${server_pid}" "${log}"; then
    server_alive || fail "turnpike exited during start-up"
    fail "turnpike did not log \"started\" within ${START_TIMEOUT} s"
  fi
  wait_listening "${ns_pub}" -Hlun "${PORT}"
  wait_listening "${ns_pub}" -Hltn "${TLS_PORT}"
  in_ns "${ns_pub}" turnutils_peer -p "${PEER_PORT}" -L "${SERVER}" >"${workdir}/peer.log" 2>&1 &
  helper_pids+=($!)
  wait_listening "${ns_pub}" -Hlun "${PEER_PORT}"
}

# ---------------------------------------------------------------------------------------------
# Client runs: each in the background in a client namespace, bounded by timeout; NAME.out
# holds the output and NAME.rc the exit status.

# run_in NAME NS COMMAND...
run_in() {
  local name=$1 ns=$2
  shift 2
  (
    set +e
    timeout "${RUN_TIMEOUT}" ip netns exec "${ns}" "$@" >"${workdir}/${name}.out" 2>&1
    echo $? >"${workdir}/${name}.rc"
  ) &
  run_pids+=($!)
}

wait_runs() {
  wait "${run_pids[@]}"
  run_pids=()
}

rc_of() { cat "${workdir}/$1.rc"; }

# show NAME: the run's output, indented.
show() { sed 's/^/    /' "${workdir}/$1.out"; }

# ---------------------------------------------------------------------------------------------
# 1 and 2: direct hole punch.

# holepunch TAG: runs holepunch.py in clia and clib at once (outputs TAG-a, TAG-b).
holepunch() {
  local dir="${workdir}/$1"
  mkdir -p "${dir}"
  run_in "$1-a" "${ns_cli_a}" python3 "${script_dir}/holepunch.py" --name A --other B \
    --dir "${dir}" --server "${SERVER}" --port "${PORT}" --seconds "${PUNCH_SECONDS}"
  run_in "$1-b" "${ns_cli_b}" python3 "${script_dir}/holepunch.py" --name B --other A \
    --dir "${dir}" --server "${SERVER}" --port "${PORT}" --seconds "${PUNCH_SECONDS}"
  wait_runs
  show "$1-a"
  show "$1-b"
}

# mapped_ip_is RUN WAN: the run's mapped IP is the NAT's public WAN address.
mapped_ip_is() { [[ "$(field mapped "$1")" == "$2:"* ]]; }

# same_port RUN: mapped port = local port.
same_port() { [[ "$(port_of mapped "$1")" == "$(port_of local "$1")" ]]; }

step_holepunch_preserve() {
  note "1. port-preserving NAT (masquerade): direct UDP hole punch must SUCCEED"
  holepunch punch-preserve
  local side run
  for side in a b; do
    run="punch-preserve-${side}"
    check test "$(rc_of "${run}")" = 0 -- \
      "client ${side^^} received the other's datagrams directly (port-preserving NAT)"
    check same_port "${run}" -- "client ${side^^}: port-preserving NAT kept the local port" \
      "($(field local "${run}") -> $(field mapped "${run}"))"
  done
  check mapped_ip_is punch-preserve-a "${NAT_A_WAN}" -- \
    "client A's Binding mapped address is nata's ${NAT_A_WAN}"
  check mapped_ip_is punch-preserve-b "${NAT_B_WAN}" -- \
    "client B's Binding mapped address is natb's ${NAT_B_WAN}"
  add_summary "hole punch, port-preserving NAT: A received $(field received punch-preserve-a)," \
    "B $(field received punch-preserve-b) datagrams in $(field seconds punch-preserve-a) s"
}

step_holepunch_random() {
  note "2. symmetric NAT (masquerade fully-random): the same hole punch must FAIL"
  set_nat_mode "${ns_nat_a}" random
  set_nat_mode "${ns_nat_b}" random
  local rules side run  # (not "nft | grep -q": with pipefail, grep's early exit fails the pipe)
  rules=$(in_ns "${ns_nat_a}" nft list chain ip tpnat postrouting)
  [[ ${rules} == *"masquerade fully-random"* ]] || fail "nata's masquerade rule is not fully-random"
  holepunch punch-random
  for side in a b; do
    run="punch-random-${side}"
    check test "$(rc_of "${run}")" = 3 -- "client ${side^^} received nothing directly in" \
      "${PUNCH_SECONDS} s (symmetric NAT; status $(rc_of "${run}"), 3 = nothing arrived)"
  done
  check mapped_ip_is punch-random-a "${NAT_A_WAN}" -- \
    "client A's Binding mapped address is nata's ${NAT_A_WAN}"
  check mapped_ip_is punch-random-b "${NAT_B_WAN}" -- \
    "client B's Binding mapped address is natb's ${NAT_B_WAN}"
  add_summary "hole punch, symmetric NAT: A sent $(field sent punch-random-a) and received" \
    "$(field received punch-random-a), B sent $(field sent punch-random-b) and received" \
    "$(field received punch-random-b) in ${PUNCH_SECONDS} s; local -> mapped port" \
    "A $(port_of local punch-random-a) -> $(port_of mapped punch-random-a)," \
    "B $(port_of local punch-random-b) -> $(port_of mapped punch-random-b)"
}

# ---------------------------------------------------------------------------------------------
# 3 and 4: relayed exchange.

# pair TAG TRANSPORT_A: turn_pair.py in clia (TRANSPORT_A, static user) and clib (udp, REST
# secret) at once; outputs TAG-a, TAG-b.
pair() {
  local tag=$1 transport=$2 dir="${workdir}/$1" port=${PORT}
  [[ ${transport} == tls ]] && port=${TLS_PORT}
  mkdir -p "${dir}"
  run_in "${tag}-a" "${ns_cli_a}" python3 "${script_dir}/turn_pair.py" --name A --other B \
    --dir "${dir}" --transport "${transport}" --server "${SERVER}" --port "${port}" \
    --ca "${workdir}/cert.pem" --user "${STATIC_USER}" --password "${PASSWORD}" --count "${COUNT}"
  run_in "${tag}-b" "${ns_cli_b}" python3 "${script_dir}/turn_pair.py" --name B --other A \
    --dir "${dir}" --transport udp --server "${SERVER}" --port "${PORT}" \
    --user "${REST_USER}" --secret "${SECRET}" --count "${COUNT}"
  wait_runs
  show "${tag}-a"
  show "${tag}-b"
}

# ended_line USER_REGEX TRANSPORT MAPPED RELAYED: turnpike's "allocation ended" line for it.
ended_line() {
  grep -E "allocation ended user=$1 client=$2 $3 server=[^ ]+ relay=$4 " "${log}" | head -1
}

# accounted RUN USER_REGEX TRANSPORT: the log has the allocation's accounting line naming the
# mapped (public) client address and the relay, with >= COUNT packets each way, reason=deleted.
accounted() {
  local line to_peer to_client _
  for _ in $(seq 1 $((LOG_WAIT * 10))); do
    line=$(ended_line "$2" "$3" "$(field mapped "$1")" "$(field relayed "$1")")
    [[ -n ${line} ]] && break
    sleep 0.1
  done
  [[ -n ${line} ]] || return 1
  to_peer=$(sed -n 's/.* to_peer_packets=\([0-9]*\) .*/\1/p' <<<"${line}")
  to_client=$(sed -n 's/.* to_client_packets=\([0-9]*\) .*/\1/p' <<<"${line}")
  [[ ${line} == *" reason=deleted" ]] && ((to_peer >= COUNT && to_client >= COUNT))
}

# check_pair TAG TRANSPORT_A: the verdicts on a pair run.
check_pair() {
  local tag=$1 transport=$2 side run wan private user via received a="$1-a" b="$1-b"
  for side in a b; do
    run="${tag}-${side}"
    if [[ ${side} == a ]]; then
      wan=${NAT_A_WAN} private=${CLI_A} user=${STATIC_USER} via=${transport}
    else
      wan=${NAT_B_WAN} private=${CLI_B} user="([0-9]+:)?${REST_USER}" via=udp
    fi
    received=$(field received "${run}")
    check test "$(rc_of "${run}")" = 0 -- "client ${side^^} (${via}) received" \
      "${received:-none} of the other's payloads through the relays, and the other got all" \
      "of its"
    check test "$(field local "${run}" | cut -d: -f1)" = "${private}" -- \
      "client ${side^^} sends from its private address ${private}"
    check mapped_ip_is "${run}" "${wan}" -- "client ${side^^}: XOR-MAPPED-ADDRESS" \
      "$(field mapped "${run}") is the NAT's public address, not ${private}"
    check accounted "${run}" "${user}" "${via}" -- "turnpike logged \"allocation ended ..." \
      "client=${via} $(field mapped "${run}") relay=$(field relayed "${run}")\" with" \
      ">= ${COUNT} packets each way"
  done
  add_summary "TURN ${transport} (A) <-> udp (B), ${COUNT} payloads each way: Allocate" \
    "(401 challenge + Allocate) A $(field allocate_ms "${a}") ms, B $(field allocate_ms "${b}")" \
    "ms; connect A $(field connect_ms "${a}") ms; exchange $(field exchange_ms "${a}") ms;" \
    "A sent $(field sent "${a}") received $(field received "${a}")," \
    "B sent $(field sent "${b}") received $(field received "${b}")"
}

step_relay_udp() {
  note "3. TURN over UDP through both symmetric NATs: A <-> relay A <-> relay B <-> B"
  pair relay-udp udp
  check_pair relay-udp udp
}

# drop_count: packets counted by nata's UDP drop rule.
drop_count() {
  in_ns "${ns_nat_a}" nft list chain ip tpnat forward |
    sed -n 's/.*meta l4proto udp counter packets \([0-9]*\) .*/\1/p'
}

step_firewall() {
  note "4. firewall: nata drops all outbound UDP; TURN over TCP and TLS still gets through"
  in_ns "${ns_nat_a}" nft add rule ip tpnat forward iifname "lan" meta l4proto udp counter drop
  local dir="${workdir}/probe" before after
  mkdir -p "${dir}"
  before=$(drop_count)
  run_in probe-udp "${ns_cli_a}" python3 "${script_dir}/turn_pair.py" --probe --name A \
    --other B --dir "${dir}" --transport udp --server "${SERVER}" --port "${PORT}" \
    --user "${STATIC_USER}" --password "${PASSWORD}" --timeout "${PROBE_TIMEOUT}"
  wait_runs
  show probe-udp
  after=$(drop_count)
  check test "$(rc_of probe-udp)" = 2 -- \
    "UDP Allocate from the firewalled network timed out after $(field seconds probe-udp) s" \
    "(status $(rc_of probe-udp), 2 = timeout)"
  check test "$((after - before))" -ge 3 -- \
    "nata's UDP drop rule counted $((after - before)) dropped packets (the 3 Allocate tries)"
  add_summary "firewalled UDP Allocate: no response in $(field seconds probe-udp) s," \
    "$((after - before)) datagrams dropped by nata"
  pair relay-tcp tcp
  check_pair relay-tcp tcp
  pair relay-tls tls
  check_pair relay-tls tls
}

# ---------------------------------------------------------------------------------------------
# 5: coturn's reference client from the firewalled network.

# Lines of a uclient log that report a problem (its TLS 1.0/1.1 attempts are expected).
error_lines() {
  grep -iE 'error|wrong|cannot|unknown message|unexpected' "$1" |
    grep -vE 'tls_connect: cannot connect|alert protocol version' || true
}

# uclient_lines TRANSPORT: full "allocation ended" lines of uclient allocations from clia.
uclient_lines() {
  local bytes=$((MESSAGES * 100))
  grep -cE "allocation ended user=${STATIC_USER} client=$1 ${NAT_A_WAN}:[0-9]+ server=[^ ]+ relay=[^ ]+ \
peers=1 to_peer_bytes=${bytes} to_peer_packets=${MESSAGES} to_client_bytes=${bytes} \
to_client_packets=${MESSAGES} duration_s=[0-9]+ reason=deleted$" "${log}" || true
}

check_uclient() {
  local name=$1 transport=$2 out="${workdir}/$1.out" count errors loss _
  check test "$(rc_of "${name}")" = 0 -- "uclient ${transport}: exit status $(rc_of "${name}")"
  check grep -q "tot_send_msgs=$((2 * MESSAGES)), tot_recv_msgs=$((2 * MESSAGES))\$" "${out}" -- \
    "uclient ${transport}: $((2 * MESSAGES)) messages sent and received"
  loss=$(grep -o 'Total lost packets [0-9]* ([^)]*)' "${out}" || echo 'no loss line')
  check grep -q "Total lost packets 0 (" "${out}" -- "uclient ${transport}: ${loss}"
  errors=$(error_lines "${out}")
  check test -z "${errors}" -- \
    "uclient ${transport}: no error lines${errors:+ (first: $(head -1 <<<"${errors}"))}"
  for _ in $(seq 1 $((LOG_WAIT * 10))); do
    count=$(uclient_lines "${transport}")
    ((count >= 2)) && break
    sleep 0.1
  done
  check test "${count}" = 2 -- \
    "uclient ${transport}: ${count} of 2 full \"allocation ended ... client=${transport}" \
    "${NAT_A_WAN}:PORT\" lines"
}

step_uclient() {
  note "5. turnutils_uclient -t and -S -t from the firewalled network, turnutils_peer in pub"
  local common=(-n "${MESSAGES}" -m 2 -u "${STATIC_USER}" -w "${PASSWORD}" -e "${SERVER}"
    -r "${PEER_PORT}")
  local start=${EPOCHREALTIME/[.,]/}
  run_in uclient-tcp "${ns_cli_a}" turnutils_uclient -t -p "${PORT}" "${common[@]}" "${SERVER}"
  run_in uclient-tls "${ns_cli_a}" turnutils_uclient -S -t -p "${TLS_PORT}" "${common[@]}" \
    "${SERVER}"
  wait_runs
  local ms=$(((${EPOCHREALTIME/[.,]/} - start) / 1000))
  server_alive || fail "turnpike died during the uclient runs"
  check_uclient uclient-tcp tcp
  check_uclient uclient-tls tls
  add_summary "turnutils_uclient tcp and tls side by side, 2 x ${MESSAGES} messages each: ${ms} ms"
}

# ---------------------------------------------------------------------------------------------

preflight
note "topology: namespaces ${ns_pub}, ${ns_nat_a}, ${ns_cli_a}, ${ns_nat_b}, ${ns_cli_b}"
build_topology
start_turnpike
echo "turnpike on ${SERVER}:${PORT} (udp+tcp) and :${TLS_PORT} (tls) in ${ns_pub};" \
  "turnutils_peer on udp ${PEER_PORT};" \
  "clients ${CLI_A} behind ${NAT_A_WAN}, ${CLI_B} behind ${NAT_B_WAN}"

step_holepunch_preserve
step_holepunch_random
step_relay_udp
server_alive || fail "turnpike died"
step_firewall
server_alive || fail "turnpike died"
step_uclient

note "6. SIGTERM"
stop_server
pass "turnpike exited with status 0 on SIGTERM"
private_lines=$(grep -c '198\.19\.' "${log}" || true)
check test "${private_lines}" = 0 -- \
  "turnpike's log names no private client address (198.19.x.x): ${private_lines} lines"
ended=$(grep -c "allocation ended" "${log}" || true)

note "summary"
for line in "${summary[@]}"; do
  echo "  ${line}"
done
total_ms=$(elapsed_ms)
echo "  turnpike logged ${ended} \"allocation ended\" lines;" \
  "whole test $((total_ms / 1000)).$(((total_ms % 1000) / 100)) s"
if ((${#failures[@]} > 0)); then
  echo "FAIL: ${#failures[@]} check(s) failed:" >&2
  printf '  %s\n' "${failures[@]}" >&2
  echo "--- turnpike log ---" >&2
  cat "${log}" >&2
  exit 1
fi
echo "PASS: NAT end to end: hole punch works through port-preserving NAT and fails through" \
  "symmetric NAT; TURN over udp, tcp and tls relays data both ways between NATed clients," \
  "turnpike sees only the NATs' public addresses"
