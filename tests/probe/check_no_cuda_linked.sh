#!/usr/bin/env bash
# The simulator does not load CUDA (issue 16, item 7): the CUDA part of the probe is a plugin
# opened with dlopen only for `probe --device cuda`, so
#  1. ldd of clustercost, clustercost-gui (when built) and the other binaries given lists no CUDA
#     library (libcudart, libcublas, libcublasLt, libnccl, libcuda);
#  2. `clustercost --help` and `clustercost list gpus` start and succeed;
#  3. `clustercost probe --device cuda --quick` answers "no CUDA device: ..." with exit code 2 and
#     writes nothing where CUDA cannot be used (no GPU, no CUDA libraries, a build without CUDA),
#     and on a GPU machine measures and exits 0; with CLUSTERCOST_PROBE_CUDA_PLUGIN naming a file
#     that is not a shared library, it answers "no CUDA device: cannot load ..." with exit code 2
#     (the loader's error, not a crash).
# Usage: check_no_cuda_linked.sh CLUSTERCOST --gui (GUI|not-built) [--also BINARY]...
set -uo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[ $# -ge 3 ] && [ "$2" = "--gui" ] || fail "usage: $0 CLUSTERCOST --gui (GUI|not-built) [--also BINARY]..."
cli=$1
gui=$3
shift 3
binaries=("$cli")
if [ "$gui" = "not-built" ]; then
  echo "clustercost-gui: not built in this configuration (Qt 6 Charts not found or GUI off), not checked"
else
  binaries+=("$gui")
fi
while [ $# -gt 0 ]; do
  [ "$1" = "--also" ] && [ $# -ge 2 ] || fail "unexpected argument $1"
  binaries+=("$2")
  shift 2
done

command -v ldd >/dev/null || fail "ldd not found"
cuda_libs='(^|[[:space:]/])lib(cudart|cublas|cublasLt|nccl|cuda)\.so'
for b in "${binaries[@]}"; do
  [ -x "$b" ] || fail "$b is not an executable file"
  out=$(ldd "$b" 2>&1) || fail "ldd $b failed: $out"
  count=$(printf '%s\n' "$out" | grep -c '=>')
  [ "$count" -gt 0 ] || fail "ldd $b listed no shared library (not a dynamic executable?): $out"
  if hits=$(printf '%s\n' "$out" | grep -E "$cuda_libs"); then
    fail "$b links CUDA libraries:"$'\n'"$hits"
  fi
  echo "ok: $(basename "$b") links $count shared libraries, none of them CUDA's"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cc-no-cuda.XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT

"$cli" --help >"$tmp/help.txt" 2>&1 || fail "clustercost --help failed: $(cat "$tmp/help.txt")"
grep -q "probe" "$tmp/help.txt" || fail "clustercost --help does not list probe"
"$cli" list gpus >"$tmp/gpus.txt" 2>&1 || fail "clustercost list gpus failed: $(cat "$tmp/gpus.txt")"
echo "ok: clustercost --help and list gpus run"

"$cli" probe --device cuda --quick -o "$tmp/cuda.json" >"$tmp/probe.log" 2>&1
rc=$?
if [ $rc -eq 2 ]; then
  grep -q "^no CUDA device: " "$tmp/probe.log" || fail "exit 2 without 'no CUDA device: ': $(cat "$tmp/probe.log")"
  [ ! -e "$tmp/cuda.json" ] || fail "probe --device cuda wrote a file without a device"
  echo "ok: probe --device cuda here: exit 2, $(grep '^no CUDA device: ' "$tmp/probe.log")"
elif [ $rc -eq 0 ]; then
  grep -q '"kind": *"cuda"' "$tmp/cuda.json" || fail "probe --device cuda exit 0 but no cuda device block"
  echo "ok: probe --device cuda measured this machine's GPU (exit 0)"
else
  fail "probe --device cuda: exit $rc (expected 2 without a usable device, 0 with one): $(cat "$tmp/probe.log")"
fi

printf 'not a shared library\n' >"$tmp/not-a-plugin.so"
CLUSTERCOST_PROBE_CUDA_PLUGIN="$tmp/not-a-plugin.so" "$cli" probe --device cuda --quick \
  -o "$tmp/bad.json" >"$tmp/bad.log" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "a plugin that cannot be loaded: exit $rc, expected 2: $(cat "$tmp/bad.log")"
grep -q "^no CUDA device: cannot load the CUDA part of the probe" "$tmp/bad.log" ||
  fail "a plugin that cannot be loaded: unclear message: $(cat "$tmp/bad.log")"
[ ! -e "$tmp/bad.json" ] || fail "a plugin that cannot be loaded: a file was written"
echo "ok: an unloadable plugin: exit 2, $(head -n 1 "$tmp/bad.log")"
