#!/usr/bin/env bash
# The kernel fast path end to end (fast_path_test.py) in a private network namespace, so the
# BPF program attaches to that namespace's loopback only. Needs root (CAP_SYS_ADMIN for the
# namespace, CAP_BPF and CAP_NET_ADMIN for the program): exits 77 (skipped) without it, and when
# this build has no fast path.
set -euo pipefail
binary=${1:?usage: fast_path_test.sh TURNPIKE_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIPPED: needs root for a network namespace and the BPF program"
  exit 77
fi
if ! unshare -n true 2>/dev/null; then
  echo "SKIPPED: cannot create a network namespace here"
  exit 77
fi
exec unshare -n sh -c "ip link set lo up && exec timeout 120 python3 '$here/fast_path_test.py' '$binary'"
