# Sourced by deploy/quickstart.sh and tests/run.sh: Debian package lists and an installer that
# runs apt-get only for what is missing (and apt-get update only when something is).

# What building and running turnpike needs.
TURNPIKE_BUILD_PACKAGES=(
  build-essential cmake pkg-config git
  libuv1-dev libssl-dev libevent-dev libyaml-cpp-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)

# What the test suite needs on top: coturn's reference clients, socat (carries coturn's UDP-only
# STUN client over TCP), iproute2 (ss, ip netns), openssl (test certificates), python3 (the
# interop and NAT tests' TURN client), clang-19 with its libFuzzer/sanitizer runtimes,
# clang-format, curl (the TLS passthrough test's web client); for the end-to-end suites:
# chromium, libnss3-tools (certutil: a private NSS
# database that trusts the test CA), tcpdump (proves no packet leaves loopback), nftables (the
# NAT namespaces) and nodejs (playwright-core from npm drives Chromium; npm: see below).
# libbpf-dev and bpftool (with clang-19) build the kernel fast path (server/fastpath), which the
# build leaves out when they are missing.
# For the deployment kit's test (tests/deploy): prometheus for promtool (the Prometheus server
# it also ships is stopped and disabled below) and python3-yaml (the manifest checks); kubectl
# (kubernetes-client) is installed by ensure_test_packages; systemd-analyze comes with systemd,
# which is not installed for it: without it that one sub-check is skipped.
TURNPIKE_TEST_PACKAGES=(
  coturn socat iproute2 procps openssl python3-minimal python3 clang-19 libclang-rt-19-dev
  clang-format chromium libnss3-tools tcpdump nftables nodejs prometheus python3-yaml
  libbpf-dev bpftool curl
)

# The test packages; npm where nodejs does not bring it (Debian's nodejs does not; the
# NodeSource build does, and conflicts with Debian's npm package); kubectl (Debian's
# kubernetes-client, for `kubectl kustomize`) where no kubectl is installed: another kubectl
# package (a cloud SDK's) owns /usr/bin/kubectl, and dpkg would refuse to overwrite it.
ensure_test_packages() {
  ensure_packages "${TURNPIKE_TEST_PACKAGES[@]}" || return 1
  command -v npm >/dev/null 2>&1 || ensure_packages npm || return 1
  command -v kubectl >/dev/null 2>&1 || ensure_packages kubernetes-client
}

# stop_service NAME: stops a service that a package started when it was installed, and keeps it
# from starting at boot; with or without systemd running (a container has none, and there a
# package's init script may start the service unless policy-rc.d forbids it).
stop_service() {
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if [ -d /run/systemd/system ]; then
    "${sudo[@]}" systemctl disable --now "$1"
  else
    if command -v systemctl >/dev/null 2>&1; then
      "${sudo[@]}" systemctl disable "$1"   # removes the boot-time symlink; works offline
    fi
    if [ -x "/etc/init.d/$1" ]; then
      "${sudo[@]}" "/etc/init.d/$1" stop
      "${sudo[@]}" update-rc.d "$1" disable
    fi
  fi
} >/dev/null 2>&1

# ensure_packages PACKAGE... : installs the missing ones.
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "error: missing packages (${missing[*]}) and not root; run as root or install them" >&2
      return 1
    fi
  fi
  echo "installing: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" || return 1
  # The tests only use coturn's client tools. On a systemd machine its package also starts a TURN
  # server on 3478, which would take turnpike's default port: stop and disable it.
  if [[ " ${missing[*]} " == *" coturn "* ]]; then
    stop_service coturn || true
  fi
  # The tests only use promtool; the package also starts a Prometheus server on 9090.
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    stop_service prometheus || true
  fi
}
