#!/usr/bin/env bash
# Interop: coturn's turnutils_natdiscovery (RFC 5780) against the real turnpike server with
# nat_discovery on: primary 127.0.0.1:P, alternate 127.0.0.2:P+1.
#
#   natdiscovery_test.sh /path/to/turnpike
#
# Checks, each bounded by `timeout`:
#   1. Mapping behaviour (-m): RFC 5780 answers naming turnpike's other address (127.0.0.2:P+1)
#      and response origins, the second test sent to 127.0.0.2:P; on loopback the verdict is
#      "No NAT" / "Endpoint Independent Mapping".
#   2. Filtering behaviour (-f): the answer to CHANGE-REQUEST (change IP and port) arrives from
#      127.0.0.2:P+1, so the verdict is "Endpoint Independent Filtering".
#      Then -f behind filtering_nat.py with each RFC 4787 filtering behaviour: coturn's verdict
#      must match the NAT's, and the NAT must see the answers come from the alternate sockets.
#   3. The same with 1500 bytes of PADDING (-P).
#   4. Mapping lifetime (-t -T 1): RESPONSE-PORT sends the second answer to the first socket.
#   5. turnpike's /metrics counted the changed-address and RESPONSE-PORT answers.
#   6. Without nat_discovery, turnpike gives no RFC 5780 answer (the client reports none).
# Exits 0 on pass, non-zero with a message on failure. Needs coturn, python3 and ss (iproute2).
set -euo pipefail

readonly STEP_TIMEOUT=20  # seconds for any one client run (it waits 3 s per unanswered test)

# shellcheck source=tests/interop/lib.sh
source "$(dirname "$0")/lib.sh"

require_tools turnutils_natdiscovery python3 ss timeout
interop_setup "$@"

nat_discovery=true

# Picks fresh ports (P and P+1 must both be free); writes the config.
write_config() {
  local _
  for _ in $(seq 1 20); do
    port=$(random_free_port 20000 59998)
    port_is_free $((port + 1)) && break
  done
  http_port=$(random_free_port)
  cat >"${workdir}/turnpike.yaml" <<EOF
listeners:
  - {transport: udp, address: 127.0.0.1, port: ${port}}
nat_discovery: {enabled: ${nat_discovery}, alternate_address: 127.0.0.2}
threads: 2
log: {level: debug}
http: {address: 127.0.0.1, port: ${http_port}}
EOF
}

# Runs turnutils_natdiscovery with a bound; prints its output. Fails on timeout.
natdiscovery() {
  local out
  if ! out=$(timeout "${STEP_TIMEOUT}" turnutils_natdiscovery "$@" 2>&1); then
    echo "${out}" >&2
    fail "turnutils_natdiscovery $* failed or timed out"
  fi
  echo "${out}"
}

expect() {
  local output=$1 pattern=$2 what=$3
  grep -qE -- "${pattern}" <<<"${output}" || fail "${what}: no /${pattern}/ in the output above"
  echo "ok: ${what}"
}

metric() {
  python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://127.0.0.1:${http_port}/metrics" |
    awk -v key="turnpike_nat_discovery_answers_total{kind=\"$1\"}" '$1 == key { print $2 }'
}

start_server write_config
readonly alternate="127.0.0.2:$((port + 1))"
note "turnpike: primary 127.0.0.1:${port}, alternate ${alternate}"

# 1. Mapping: test I to the primary, test II to the alternate address at the primary port.
note "mapping behaviour (-m)"
output=$(natdiscovery -m -L 127.0.0.1 -p "${port}" 127.0.0.1)
echo "${output}"
expect "${output}" "RFC 5780 response 2" "two RFC 5780 answers"
expect "${output}" "Other addr: .*127\.0\.0\.2:$((port + 1))" "OTHER-ADDRESS is ${alternate}"
expect "${output}" "Response origin: .*127\.0\.0\.1:${port}" "RESPONSE-ORIGIN of test I"
expect "${output}" "Response origin: .*127\.0\.0\.2:${port}\b" "test II answered by 127.0.0.2:${port}"
expect "${output}" "Endpoint Independent Mapping" "mapping verdict"

# 2. Filtering: the answer to change IP + change port comes from the alternate socket.
note "filtering behaviour (-f)"
output=$(natdiscovery -f -L 127.0.0.1 -p "${port}" 127.0.0.1)
echo "${output}"
expect "${output}" "Response origin: .*127\.0\.0\.2:$((port + 1))" "answer from ${alternate}"
expect "${output}" "NAT with Endpoint Independent Filtering" "filtering verdict"

# 2b. Behind NATs with each filtering behaviour (filtering_nat.py, which sees the real source of
# every answer): coturn's verdict must match the NAT's, which holds only if the answers to
# CHANGE-REQUEST really left from 127.0.0.2:P+1 (change IP and port) and 127.0.0.1:P+1 (change
# port).
filtering_behind() {
  local mode=$1 verdict=$2 nat_port nat_log
  nat_port=$(random_free_port)
  nat_log="${workdir}/nat-${mode}.log"
  python3 "$(dirname "$0")/filtering_nat.py" "${nat_port}" 127.0.0.1 "${port}" "${mode}" 30 \
    >"${nat_log}" 2>&1 &
  helper_pids+=($!)
  wait_for_udp_listener "${nat_port}"
  output=$(natdiscovery -f -L 127.0.0.1 -p "${nat_port}" 127.0.0.1)
  echo "${output}"
  echo "NAT (${mode}) saw:"
  cat "${nat_log}"
  expect "${output}" "NAT with ${verdict} Filtering" "behind the ${mode} filtering NAT: ${verdict}"
  grep -q "^[a-z]* 127\.0\.0\.2:$((port + 1))$" "${nat_log}" ||
    fail "the NAT saw no answer from ${alternate}"
}
note "filtering behind an endpoint-independent NAT"
filtering_behind endpoint "Endpoint Independent"
note "filtering behind an address-dependent NAT"
filtering_behind address "Address Dependent"
grep -q "^pass 127\.0\.0\.1:$((port + 1))$" "${workdir}/nat-address.log" ||
  fail "the change-port answer did not come from 127.0.0.1:$((port + 1))"
note "filtering behind an address and port-dependent NAT"
filtering_behind port "Address and Port Dependent"

# 3. With PADDING: answered at the request's length.
note "mapping and filtering with PADDING (-m -f -P)"
output=$(natdiscovery -m -f -P -L 127.0.0.1 -p "${port}" 127.0.0.1)
echo "${output}"
expect "${output}" "Endpoint Independent Mapping" "mapping verdict with PADDING"
expect "${output}" "NAT with Endpoint Independent Filtering" "filtering verdict with PADDING"

# 4. Mapping lifetime: the second request carries RESPONSE-PORT = the first socket's port, and
# the answer must arrive there (a timeout would print "STUN receive timeout").
note "mapping lifetime (-t -T 1): RESPONSE-PORT"
output=$(natdiscovery -t -T 1 -L 127.0.0.1 -p "${port}" 127.0.0.1)
echo "${output}"
expect "${output}" "RFC 5780 response 2" "the RESPONSE-PORT answer reached the first socket"
if grep -q "receive timeout" <<<"${output}"; then
  fail "an answer did not arrive"
fi

# 5. The answers were turnpike's, and counted.
note "metrics"
changed=$(metric changed_address)
response_port=$(metric response_port)
echo "changed_address=${changed} response_port=${response_port}"
[[ -n "${changed}" && "${changed}" -ge 2 ]] || fail "changed_address answers not counted"
[[ "${response_port}" == 1 ]] || fail "expected 1 RESPONSE-PORT answer, got '${response_port}'"
echo "ok: counted"
stop_server

# 6. Off: no RFC 5780 answer, so the client draws no conclusion.
note "nat_discovery off"
nat_discovery=false
start_server write_config
output=$(natdiscovery -m -L 127.0.0.1 -p "${port}" 127.0.0.1)
echo "${output}"
if grep -q "RFC 5780 response" <<<"${output}"; then
  fail "RFC 5780 answer with nat_discovery off"
fi
expect "${output}" "UDP reflexive addr" "a plain Binding answer"
echo "ok: no RFC 5780 attributes when off"
stop_server

echo "PASS: turnutils_natdiscovery interop (RFC 5780 mapping, filtering, PADDING, RESPONSE-PORT)"
