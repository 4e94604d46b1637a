#!/usr/bin/env bash
# Browser end-to-end suites: headless Debian Chromium relays WebRTC through turnpike.
#
#   browser_test.sh /path/to/turnpike MODULES_DIR [SUITE.mjs [ARGS...]]
#
# MODULES_DIR receives playwright-core from the npm registry (npm ci with this directory's
# package-lock.json; skipped when already installed from the same lock file). The checks
# themselves are in SUITE.mjs of this directory, run as `node SUITE.mjs TURNPIKE MODULES_DIR
# ARGS...` (see its header): browser_test.mjs by default, or selftest_test.mjs (the /selftest
# page). Both share their set-up through harness.mjs.
#
# No traffic outside loopback, twice over:
#   - Chromium runs with the flags browser_test.mjs lists (no DNS: --host-resolver-rules maps
#     every name to NOTFOUND; no mDNS, media router, updates, safe browsing, ...), and the page
#     uses IP literals only.
#   - When this script can make a network namespace (root, and `unshare --net` works), Chromium
#     and turnpike run in a private one. It has loopback, plus a veth pair whose two ends are both
#     inside it, with a /32 test address (198.18.255.1) and no routes: Chromium needs a non-loopback
#     interface to gather at all, and nothing sent there can leave. This is needed because, in the
#     host namespace, WebRTC looks up its default local address by connect()ing a UDP socket to a
#     public IPv6 address; that sends nothing itself, but the kernel's route look-up probes the
#     IPv6 router with a neighbour solicitation, which goes out on the wire (checked with tcpdump
#     on this machine: the same packet follows a bare connect() from Python).
#     TURNPIKE_BROWSER_NETNS=0 runs in the host namespace instead, to see that for yourself.
#   - tcpdump, in the host namespace on every interface, captures anything not to or from
#     127.0.0.1 or ::1 for the whole run; a single packet fails the suite.
# Exits 0 when every check passes.
set -euo pipefail

if [[ $# -lt 2 || ! -x "$1" ]]; then
  echo "usage: $0 /path/to/turnpike MODULES_DIR [SUITE.mjs [ARGS...]]" >&2
  exit 2
fi
turnpike=$(realpath "$1")
modules=$2
suite=${3:-browser_test.mjs}
suite_args=("${@:4}")
here=$(cd "$(dirname "$0")" && pwd)
if [[ ! -f "${here}/${suite}" ]]; then
  echo "FAIL: no suite ${here}/${suite}" >&2
  exit 2
fi

for tool in chromium:chromium node:nodejs npm:npm certutil:libnss3-tools openssl:openssl \
  tcpdump:tcpdump; do
  if ! command -v "${tool%%:*}" >/dev/null; then
    echo "FAIL: ${tool%%:*} is not installed (Debian package ${tool#*:});" \
      "tests/run.sh installs the test packages." >&2
    exit 1
  fi
done

# playwright-core, pinned by package-lock.json.
mkdir -p "${modules}"
if ! cmp -s "${here}/package-lock.json" "${modules}/package-lock.json" ||
  [[ ! -f "${modules}/node_modules/playwright-core/package.json" ]]; then
  cp "${here}/package.json" "${here}/package-lock.json" "${modules}/"
  echo "--- npm ci (playwright-core) in ${modules}"
  (cd "${modules}" && timeout 300 npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/turnpike-browser-sh-XXXXXX")
capture_pid=""
cleanup() {
  [[ -z "${capture_pid}" ]] || kill "${capture_pid}" 2>/dev/null || true
  rm -rf "${workdir}"
}
trap cleanup EXIT

# Watch every interface of the host namespace for anything that is not loopback traffic.
tcpdump -i any -n -U -w "${workdir}/outside.pcap" 'not host 127.0.0.1 and not host ::1' \
  2>"${workdir}/tcpdump.log" &
capture_pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "${workdir}/tcpdump.log" && break
  kill -0 "${capture_pid}" 2>/dev/null || break
  sleep 0.05
done
grep -q "listening on" "${workdir}/tcpdump.log" ||
  { echo "FAIL: tcpdump did not start: $(cat "${workdir}/tcpdump.log")" >&2; exit 1; }
echo "--- tcpdump -i any: capturing everything not to or from 127.0.0.1 or ::1"

run_node=(node "${here}/${suite}" "${turnpike}" "${modules}" "${suite_args[@]}")
status=0
if [[ "${TURNPIKE_BROWSER_NETNS:-1}" != 0 && $(id -u) == 0 ]] && unshare --net true 2>/dev/null; then
  echo "--- private network namespace: lo, and veth tp0/tp1 (both ends inside) with 198.18.255.1/32"
  # shellcheck disable=SC2016  # expanded by the inner shell
  unshare --net -- bash -c '
    set -e
    ip link set lo up
    ip link add tp0 type veth peer name tp1
    sysctl -qw net.ipv6.conf.tp0.disable_ipv6=1 net.ipv6.conf.tp1.disable_ipv6=1
    ip addr add 198.18.255.1/32 dev tp0
    ip link set tp0 up
    ip link set tp1 up
    exec timeout 600 "$@"' bash "${run_node[@]}" || status=$?
else
  echo "--- host network namespace (no private one: not root, unshare failed, or" \
    "TURNPIKE_BROWSER_NETNS=0): relying on Chromium's flags alone"
  timeout 600 "${run_node[@]}" || status=$?
fi

kill -INT "${capture_pid}"
timeout 5 tail --pid="${capture_pid}" -f /dev/null || kill -KILL "${capture_pid}" 2>/dev/null || true
capture_pid=""
outside=$(tcpdump -n -r "${workdir}/outside.pcap" 2>/dev/null || true)
if [[ -n "${outside}" ]]; then
  echo "FAIL  no packet outside loopback during the run: $(wc -l <<<"${outside}") captured:"
  head -20 <<<"${outside}" | sed 's/^/    /'
  status=1
else
  echo "PASS  no packet outside loopback during the run (tcpdump -i any in the host namespace: 0)"
fi
exit "${status}"
