#!/usr/bin/env bash
# Interop: OpenSSL's s_client against turnpike's tls listener on 127.0.0.1 (issue 6, TLS
# hardening).
#
#   tls_openssl_test.sh /path/to/turnpike
#
# The certificate is RSA, so RSA key exchange and CBC suites would work if the server allowed
# them: each refusal below is the server's policy, not a certificate mismatch. Every refusal must
# come from the server: the client's ClientHello must have gone out (-msg), the client must have
# received the server's alert, turnpike_tls_handshake_failures_total must grow by exactly one,
# and turnpike's debug log must give OpenSSL's reason.
#
# 1. TLS 1.0 and 1.1 (offered at security level 0): protocol_version alert, "unsupported
#    protocol".
# 2. TLS 1.2 and 1.3 are accepted; TLS 1.2 negotiates ECDHE with an AEAD cipher, TLS 1.3 an AEAD
#    suite; "Compression: NONE".
# 3. Offering only CBC suites, RSA key exchange or finite-field DHE: handshake_failure alert,
#    "no shared cipher".
# 4. A TLS 1.2 renegotiation request (s_client's R command): no_renegotiation alert, and only one
#    ServerHello on the connection.
# 5. Resumption with -sess_out / -sess_in: "Reused" over TLS 1.2 and over TLS 1.3.
# 5b. ALPN (RFC 7443): -alpn stun.turn and -alpn stun.nat-discovery are selected, no -alpn still
#    works, -alpn h2,http/1.1 gets a no_application_protocol alert.
# 6. SIGHUP with tls.ciphers and tls.ciphersuites cut to one suite each: those are negotiated,
#    the others refused, and sessions saved before the reload still resume (the ticket keys
#    outlive the reloaded SSL_CTX).
# 7. A fresh start with that config negotiates the same suites.
# Exits 0 on pass, non-zero with a message on failure.
set -euo pipefail

readonly RESTRICTED_TLS12=ECDHE-RSA-CHACHA20-POLY1305
readonly RESTRICTED_TLS13=TLS_CHACHA20_POLY1305_SHA256

# shellcheck source=tests/interop/lib.sh
source "$(dirname "$0")/lib.sh"

require_tools openssl python3 ss timeout
interop_setup "$@"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "${workdir}/key.pem" -out "${workdir}/cert.pem" 2>/dev/null ||
  fail "openssl req could not make a test certificate"

restricted=0  # 1: write_config cuts the cipher lists to one suite each

# The config for the current ports.
write_yaml() {
  cat >"${workdir}/turnpike.yaml" <<EOF
listeners:
  - {transport: tls, address: 127.0.0.1, port: ${tls_port}}
tls:
  certificate: "${workdir}/cert.pem"
  private_key: "${workdir}/key.pem"
EOF
  if [[ ${restricted} -eq 1 ]]; then
    cat >>"${workdir}/turnpike.yaml" <<EOF
  ciphers: ${RESTRICTED_TLS12}
  ciphersuites: ${RESTRICTED_TLS13}
EOF
  fi
  cat >>"${workdir}/turnpike.yaml" <<EOF
http: {address: 127.0.0.1, port: ${http_port}}
log: {level: debug}
drain: {timeout: 0}
threads: 2
EOF
}

# New ports, then the config (start_server calls this again after a port race).
write_config() {
  tls_port=$(random_free_port)
  http_port=$(random_free_port)
  [[ "${http_port}" != "${tls_port}" ]] || http_port=$((tls_port + 1))
  write_yaml
}

# s_client against the tls listener; its whole output (it fails for a refused handshake). stdin
# stays open for half a second so that TLS 1.3 session tickets (sent after the handshake) arrive.
sclient() {
  (sleep 0.5) | timeout 10 openssl s_client -connect "127.0.0.1:${tls_port}" \
    -servername localhost -CAfile "${workdir}/cert.pem" -verify_return_error "$@" 2>&1 || true
}

http_get() {
  python3 - "$1" "$2" <<'PYTHON'
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=5) as r:
    sys.stdout.write(r.read().decode())
PYTHON
}

handshake_failures() {
  http_get "${http_port}" /metrics |
    awk '$1 == "turnpike_tls_handshake_failures_total" { printf "%d\n", $2 }'
}

# expect_failures N: waits (bounded, 2 s) for the failure counter to read N.
expect_failures() {
  local _ now=""
  for _ in $(seq 1 40); do
    now=$(handshake_failures)
    [[ "${now}" == "$1" ]] && return 0
    sleep 0.05
  done
  fail "turnpike_tls_handshake_failures_total is ${now}, expected $1"
}

log_count() { grep -c -- "$1" "${log}" || true; }

# expect_refused WHAT ALERT REASON ARGS...: s_client with ARGS sends its ClientHello and gets the
# server's ALERT; turnpike counts one more failed handshake and logs REASON once more.
expect_refused() {
  local what=$1 alert=$2 reason=$3 before reasons out
  shift 3
  before=$(handshake_failures)
  reasons=$(log_count "${reason}")
  out=$(sclient -msg "$@")
  grep -q '>>> .*ClientHello' <<<"${out}" || fail "${what}: s_client sent no ClientHello: ${out}"
  grep -q "${alert}" <<<"${out}" || fail "${what}: no \"${alert}\" from the server: ${out}"
  if grep -q '^New, TLS\|^Reused, TLS' <<<"${out}"; then
    fail "${what}: a handshake completed: ${out}"
  fi
  expect_failures $((before + 1))
  for _ in $(seq 1 40); do
    [[ $(log_count "${reason}") -gt ${reasons} ]] && break
    sleep 0.05
  done
  [[ $(log_count "${reason}") -gt ${reasons} ]] || fail "${what}: turnpike did not log \"${reason}\""
  echo "refused: ${what}"
}

# expect_negotiated WHAT PATTERN ARGS...: the handshake completes and the summary line matches.
expect_negotiated() {
  local what=$1 pattern=$2 out
  shift 2
  out=$(sclient "$@")
  grep -Eq "${pattern}" <<<"${out}" || fail "${what}: expected /${pattern}/ in: ${out}"
  echo "${what}: $(grep -E '^(New|Reused), ' <<<"${out}")"
}

start_server write_config
wait_for_tcp_listener "${http_port}"
note "turnpike tls on 127.0.0.1:${tls_port} (RSA certificate), /metrics on :${http_port}"
expect_failures 0

note "1. TLS 1.0 and 1.1 are refused by the server"
for version in tls1 tls1_1; do
  expect_refused "-${version}" "alert protocol version" "unsupported protocol" \
    "-${version}" -cipher 'DEFAULT:@SECLEVEL=0'
done

note "2. TLS 1.2 and 1.3 are accepted, ECDHE + AEAD, no compression"
failures_before=$(handshake_failures)
readonly ecdhe_aead='^New, TLSv1\.2, Cipher is ECDHE-RSA-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$'
expect_negotiated "-tls1_2" "${ecdhe_aead}" -tls1_2
expect_negotiated "-tls1_3" '^New, TLSv1\.3, Cipher is TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$' -tls1_3
expect_negotiated "-tls1_2 compression" '^Compression: NONE$' -tls1_2
expect_failures "${failures_before}"

note "3. CBC suites, RSA key exchange and finite-field DHE are refused"
for cipher in AES128-SHA AES256-SHA256 ECDHE-RSA-AES128-SHA ECDHE-RSA-AES256-SHA384 \
  AES128-GCM-SHA256 DHE-RSA-AES128-GCM-SHA256; do
  expect_refused "-tls1_2 -cipher ${cipher}" "alert handshake failure" "no shared cipher" \
    -tls1_2 -cipher "${cipher}:@SECLEVEL=0"
done

note "4. TLS 1.2 renegotiation is refused"
out=$( (printf 'R\n'; sleep 2) | timeout 10 openssl s_client -connect "127.0.0.1:${tls_port}" \
  -servername localhost -CAfile "${workdir}/cert.pem" -verify_return_error -tls1_2 -msg 2>&1 ||
  true)
grep -q '^RENEGOTIATING' <<<"${out}" || fail "s_client did not try to renegotiate: ${out}"
grep -q '<<< .*Alert.*no_renegotiation' <<<"${out}" || fail "no no_renegotiation alert: ${out}"
server_hellos=$(grep -c '<<< .*, ServerHello$' <<<"${out}" || true)
[[ ${server_hellos} -eq 1 ]] || fail "${server_hellos} ServerHello messages, expected 1: ${out}"
echo "renegotiation: no_renegotiation alert, 1 ServerHello"

note "5. session resumption"
expect_negotiated "-tls1_2 -sess_out" '^New, TLSv1\.2' -tls1_2 -sess_out "${workdir}/s12"
expect_negotiated "-tls1_2 -sess_in" '^Reused, TLSv1\.2' -tls1_2 -sess_in "${workdir}/s12"
expect_negotiated "-tls1_3 -sess_out" '^New, TLSv1\.3' -tls1_3 -sess_out "${workdir}/s13"
expect_negotiated "-tls1_3 -sess_in" '^Reused, TLSv1\.3' -tls1_3 -sess_in "${workdir}/s13"
# Sessions with the suites the reload below keeps.
expect_negotiated "-tls1_2 ${RESTRICTED_TLS12} -sess_out" "Cipher is ${RESTRICTED_TLS12}$" \
  -tls1_2 -cipher "${RESTRICTED_TLS12}" -sess_out "${workdir}/keep12"
expect_negotiated "-tls1_3 ${RESTRICTED_TLS13} -sess_out" "Cipher is ${RESTRICTED_TLS13}$" \
  -tls1_3 -ciphersuites "${RESTRICTED_TLS13}" -sess_out "${workdir}/keep13"

note "5b. ALPN (RFC 7443): stun.turn or stun.nat-discovery, anything else refused"
expect_negotiated "-alpn stun.turn" '^ALPN protocol: stun\.turn$' -alpn stun.turn
expect_negotiated "-alpn stun.nat-discovery" '^ALPN protocol: stun\.nat-discovery$' \
  -alpn stun.nat-discovery
expect_negotiated "-alpn h2,stun.turn" '^ALPN protocol: stun\.turn$' -alpn h2,stun.turn
expect_negotiated "no -alpn" '^No ALPN negotiated$'
expect_refused "-alpn h2,http/1.1" "alert no application protocol" "no application protocol" \
  -alpn h2,http/1.1

note "6. SIGHUP: tls.ciphers ${RESTRICTED_TLS12}, tls.ciphersuites ${RESTRICTED_TLS13}"
restricted=1
write_yaml
reloads=$(log_count "reloaded ")
kill -HUP "${server_pid}"
for _ in $(seq 1 100); do
  [[ $(log_count "reloaded ") -gt ${reloads} ]] && break
  grep -q "reload rejected" "${log}" && fail "the reload was rejected"
  sleep 0.05
done
[[ $(log_count "reloaded ") -gt ${reloads} ]] || fail "no \"reloaded\" line after SIGHUP"
expect_negotiated "-tls1_2" "^New, TLSv1\.2, Cipher is ${RESTRICTED_TLS12}$" -tls1_2
expect_negotiated "-tls1_3" "^New, TLSv1\.3, Cipher is ${RESTRICTED_TLS13}$" -tls1_3
expect_refused "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 after the reload" \
  "alert handshake failure" "no shared cipher" -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
expect_refused "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 after the reload" \
  "alert handshake failure" "no shared cipher" -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
expect_negotiated "-tls1_2 -sess_in across the reload" "^Reused, TLSv1\.2, Cipher is ${RESTRICTED_TLS12}$" \
  -tls1_2 -sess_in "${workdir}/keep12"
expect_negotiated "-tls1_3 -sess_in across the reload" "^Reused, TLSv1\.3, Cipher is ${RESTRICTED_TLS13}$" \
  -tls1_3 -sess_in "${workdir}/keep13"
stop_server

note "7. a fresh start with the restricted config"
start_server write_config
wait_for_tcp_listener "${http_port}"
expect_negotiated "-tls1_2" "^New, TLSv1\.2, Cipher is ${RESTRICTED_TLS12}$" -tls1_2
expect_negotiated "-tls1_3" "^New, TLSv1\.3, Cipher is ${RESTRICTED_TLS13}$" -tls1_3
expect_refused "-tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384" "alert handshake failure" \
  "no shared cipher" -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
stop_server

echo "PASS: TLS 1.0/1.1 refused, ECDHE+AEAD only, no renegotiation or compression, resumption" \
  "(also across SIGHUP), configured cipher lists honoured"
