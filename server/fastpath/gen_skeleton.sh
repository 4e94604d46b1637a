#!/bin/sh
# gen_skeleton.sh BPFTOOL OBJECT HEADER: the libbpf skeleton of the fast path's BPF object.
set -e
"$1" gen skeleton "$2" name relay_bpf > "$3.tmp"
mv "$3.tmp" "$3"
