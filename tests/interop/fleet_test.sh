#!/usr/bin/env bash
# Interop: a fleet of three turnpike nodes on 127.0.0.1 (issue 8), with coturn's
# turnutils_uclient, which follows ALTERNATE-SERVER.
#
#   fleet_test.sh /path/to/turnpike
#
# Nodes A, B and C listen on their own UDP+TCP port and HTTP port and relay from their own port
# range. They share only secrets: auth.secrets (TURN REST), auth.nonce_secret and the credential
# API key. Each lists the other two as cluster.alternate_servers. A has
# cluster.redirect_above.allocations: 1 and is made full by one held allocation.
#
# 1. A is full: /metrics says turnpike_redirecting 1 while it holds 1 allocation; B and C say 0.
# 2. A credential minted by A's POST /api/v1/credentials.
# 3. An authenticated Allocate on A gets 300 Try Alternate naming B or C, with a valid
#    MESSAGE-INTEGRITY (fleet_check.py redirect).
# 4. Shared nonces: the NONCE of A's 401 gives an allocation on B and on C, and B's on A's
#    neighbours too (fleet_check.py nonce); B's nonce on A is not tried (A is full).
# 5. turnutils_uclient with A's credential (-u/-w), pointed at A: it is redirected and relays
#    through B or C: exit 0, every message echoed; A created no allocation for it (its
#    turnpike_allocations_created_total stays 1, its relayed bytes 0) while B + C created some
#    and relayed bytes; A counts turnpike_allocate_redirects_total{reason="load"}.
# 6. The same credential straight at B and at C: exit 0, every message echoed.
# 7. SIGTERM: every node exits 0.
#
# Exits 0 on pass, non-zero with a message on failure. Needs coturn, ss (iproute2), timeout and
# python3.
set -euo pipefail

readonly RUN_TIMEOUT=40  # seconds for one uclient run (a few seconds when all is well)
readonly CHECK_TIMEOUT=20
readonly MESSAGES=20
readonly SECRET=fleet-s3cret API_KEY=fleet-api-key-0123456789 NONCE_SECRET=fleet-nonce-secret-42
readonly HOLD_SECONDS=120  # the allocation that fills A (killed at the end)

script_dir=$(cd "$(dirname "$0")" && pwd)
readonly script_dir
# shellcheck source=tests/interop/lib.sh
source "${script_dir}/lib.sh"

if [[ $# -ne 1 || ! -x "$1" ]]; then
  echo "usage: $0 /path/to/turnpike" >&2
  exit 2
fi
readonly turnpike=$1

require_tools turnutils_uclient turnutils_peer ss timeout python3
interop_setup

check() { timeout "${CHECK_TIMEOUT}" python3 "${script_dir}/fleet_check.py" "$@"; }

declare -A port http_port pid relay_min
relay_min=([a]=49200 [b]=49400 [c]=49600)
nodes=(a b c)

for node in "${nodes[@]}"; do
  port[${node}]=$(free_port)
  http_port[${node}]=$(free_port)
done
[[ "$(printf '%s\n' "${port[@]}" "${http_port[@]}" | sort -u | wc -l)" == 6 ]] ||
  fail "two of the random ports collided; run again"

# write_node NODE: the node's config, listing the other nodes as alternates.
write_node() {
  local node=$1 other alternates="" redirect=0 relay_max
  relay_max=$((relay_min[${node}] + 199))
  for other in "${nodes[@]}"; do
    [[ ${other} == "${node}" ]] || alternates+="\"127.0.0.1:${port[${other}]}\", "
  done
  [[ ${node} != a ]] || redirect=1
  cat >"${workdir}/${node}.yaml" <<EOF2
realm: fleet.test
listeners:
  - {transport: udp, address: 127.0.0.1, port: ${port[${node}]}}
  - {transport: tcp, address: 127.0.0.1, port: ${port[${node}]}}
relay: {addresses: [127.0.0.1], port_range: [${relay_min[${node}]}, ${relay_max}]}
auth: {secrets: [${SECRET}], nonce_secret: ${NONCE_SECRET}}
peers: {allow: [127.0.0.0/8]}
http: {port: ${http_port[${node}]}, api_keys: [${API_KEY}]}
cluster:
  alternate_servers: [${alternates%, }]
  redirect_above: {allocations: ${redirect}}
drain: {timeout: 0}
threads: 2
log: {level: info}
EOF2
}

start_node() {
  local node=$1
  write_node "${node}"
  "${turnpike}" --config "${workdir}/${node}.yaml" >"${workdir}/${node}.log" 2>&1 &
  pid[${node}]=$!
  helper_pids+=("${pid[${node}]}")
  wait_started "${pid[${node}]}" "${workdir}/${node}.log" && return 0
  log="${workdir}/${node}.log"
  fail "node ${node} did not start (a port may have been taken: run again)"
}

metric() { check metric "${http_port[$1]}" "$2" "${3:-}"; }

# wait_metric NODE NAME VALUE: waits (bounded, 5 s) for the metric to read VALUE.
wait_metric() {
  local value _
  for _ in $(seq 1 50); do
    value=$(metric "$1" "$2")
    [[ "${value}" == "$3" ]] && return 0
    sleep 0.1
  done
  fail "node $1: $2 is ${value}, expected $3"
}

# uclient NAME NODE: turnutils_uclient with the minted credential against NODE; passes when it
# exits 0 having sent and received every message.
uclient() {
  local name=$1 node=$2 out="${workdir}/$1.log" rc sent
  set +e
  timeout "${RUN_TIMEOUT}" turnutils_uclient -n "${MESSAGES}" -m 1 -u "${username}" \
    -w "${password}" -e 127.0.0.1 -r "${peer_port}" -p "${port[${node}]}" 127.0.0.1 >"${out}" 2>&1
  rc=$?
  set -e
  # uclient counts the messages of its RTCP allocation too: sent = received >= -n, no loss.
  sent=$(sed -nE 's/.*tot_send_msgs=([0-9]+), tot_recv_msgs=\1$/\1/p' "${out}" | tail -1)
  if ((rc != 0)) || ((${sent:-0} < MESSAGES)) || ! grep -q "Total lost packets 0 (" "${out}"; then
    echo "--- ${name}: uclient output ---" >&2
    grep -v "start_mclient: msz=" "${out}" | head -30 >&2
    fail "${name}: uclient exit status ${rc}, or not every message (at least ${MESSAGES}) echoed"
  fi
  echo "${name}: ${sent} messages echoed$(grep -q 'error 300' "${out}" && echo ', after a 300')"
}

relayed_bytes() { metric "$1" turnpike_relayed_bytes_total; }
created() { metric "$1" turnpike_allocations_created_total; }

note "three nodes: A udp/tcp ${port[a]} http ${http_port[a]}, B ${port[b]}/${http_port[b]}, C ${port[c]}/${http_port[c]}"
for node in "${nodes[@]}"; do
  start_node "${node}"
done

start_peer

note "2. a credential from A's credential API"
read -r username password < <(check mint "${http_port[a]}" "${API_KEY}" fleet-user) ||
  fail "minting a credential on A failed"
[[ -n "${password}" ]] || fail "A's credential API gave no password"
echo "username ${username}"

note "1. fill A: one allocation held reaches redirect_above.allocations: 1"
check hold "${port[a]}" "${username}" "${password}" "${HOLD_SECONDS}" >"${workdir}/hold.log" 2>&1 &
helper_pids+=($!)
wait_metric a turnpike_allocations_created_total 1
wait_metric a turnpike_redirecting 1
for node in b c; do
  [[ "$(metric "${node}" turnpike_redirecting)" == 0 ]] || fail "node ${node} is redirecting"
done
echo "A holds 1 allocation and is redirecting; B and C are not"

note "3. an Allocate on A gets 300 Try Alternate"
check redirect "${port[a]}" "${username}" "${password}" "${port[b]}" "${port[c]}" ||
  fail "A did not redirect"

note "4. nonces minted by one node are accepted by the others"
check nonce "${port[a]}" "${port[b]}" "${username}" "${password}" || fail "A's nonce on B"
check nonce "${port[a]}" "${port[c]}" "${username}" "${password}" || fail "A's nonce on C"
check nonce "${port[c]}" "${port[b]}" "${username}" "${password}" || fail "C's nonce on B"

note "5. turnutils_uclient pointed at the full node A lands on B or C"
before_bc=$(($(created b) + $(created c)))
uclient uclient-a a
after_bc=$(($(created b) + $(created c)))
[[ "$(created a)" == 1 ]] || fail "A created $(created a) allocations, expected only the held one"
[[ "$(relayed_bytes a)" == 0 ]] || fail "A relayed $(relayed_bytes a) bytes, expected none"
((after_bc > before_bc)) || fail "B and C created no allocation for the redirected uclient"
bc_bytes=$(($(relayed_bytes b) + $(relayed_bytes c)))
((bc_bytes > 0)) || fail "B and C relayed nothing"
redirects=$(metric a turnpike_allocate_redirects_total 'reason="load"')
((redirects >= 2)) || fail "A counts ${redirects} load redirects, expected at least 2"
echo "A: 1 allocation, 0 bytes relayed, ${redirects} load redirects;" \
  "B + C: $((after_bc - before_bc)) allocations for uclient, ${bc_bytes} bytes relayed"

note "6. A's credential straight at B and at C"
uclient uclient-b b
uclient uclient-c c

note "7. SIGTERM"
for node in "${nodes[@]}"; do
  log="${workdir}/${node}.log"
  stop_turnpike "${pid[${node}]}" || fail "node ${node} exited with status $?"
done
echo "PASS: three-node fleet: the full node redirects (300 + ALTERNATE-SERVER) and uclient" \
  "relays through another node; API credentials and nonces work on every node"
