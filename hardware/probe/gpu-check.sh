#!/usr/bin/env bash
# GPU check: builds the probe on its own (cmake + a C++ compiler + the CUDA toolkit; nothing else
# from the tree), for sm_80 and sm_90, runs the full CUDA probe and a quick CPU probe, and leaves
# in OUTDIR:
#   measurements-cuda.json  the clustercost.measurements/1 document of the GPU (the result)
#   measurements-cpu.json   the same for the host CPU (--quick)
#   measurements-scenario-NAME.json  the scenario's own ops (probe --scenario), one per plan of
#                           hardware/probe/plans/ (DeepSeek-V3, Llama 3 70B): GEMMs by role at
#                           their real shapes, grouped expert GEMMs with sampled uneven rows,
#                           attention, memory-bound ops; calibrate and validate read them
#   probe.log               the probes' logs (one line per measurement, check errors included)
#   build.log               configure and build output
#   nvidia-smi.txt          the driver's view of the machine, when nvidia-smi exists
#   status                  one line: exit codes of build, CUDA probe, CPU probe
# Usage: hardware/probe/gpu-check.sh OUTDIR   (scripts/gpu-check links here)
# Exit status: the CUDA probe's (0 ok, 1 a check failed, 2 no CUDA device), 3 if the build
# failed, 124 if the probe ran out of time; a scenario probe that fails makes it 1. The whole
# run fits in 4 minutes on an H100/H200 node (build about 1 minute on 16 cores, sweep about
# 1 minute, each scenario plan at most CC_PROBE_PLAN_TIMEOUT_S).
# Environment: CC_PROBE_CUDA_ARCHS (default "80;90"), CC_PROBE_TIMEOUT_S (default 100),
# CC_PROBE_PLAN_TIMEOUT_S (default 45 per plan),
# CC_PROBE_BUILD_DIR (default: a temporary directory, removed at the end).
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
outdir=$1
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
archs=${CC_PROBE_CUDA_ARCHS:-80;90}
timeout_s=${CC_PROBE_TIMEOUT_S:-100}
plan_timeout_s=${CC_PROBE_PLAN_TIMEOUT_S:-45}

if [ -n "${CC_PROBE_BUILD_DIR:-}" ]; then
  build=$CC_PROBE_BUILD_DIR
  mkdir -p "$build"
else
  build=$(mktemp -d "${TMPDIR:-/tmp}/cc-probe-build.XXXXXX")
  trap 'rm -rf "$build"' EXIT
fi

# The toolkit is often installed without being on PATH.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
jobs=$(nproc 2>/dev/null || echo 4)

{
  echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) configure (architectures $archs)"
  cmake -S "$src" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCLUSTERCOST_PROBE_REQUIRE_CUDA=ON "-DCLUSTERCOST_PROBE_CUDA_ARCHITECTURES=$archs" &&
    echo "== build with $jobs jobs" &&
    cmake --build "$build" -j "$jobs"
} >"$outdir/build.log" 2>&1
build_rc=$?
if [ $build_rc -ne 0 ]; then
  echo "build failed: see $outdir/build.log" >&2
  tail -n 30 "$outdir/build.log" >&2
  echo "build=$build_rc cuda=- cpu=-" >"$outdir/status"
  exit 3
fi

if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi >"$outdir/nvidia-smi.txt" 2>&1 || true
fi

probe=$build/clustercost-probe
echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) cuda probe (full)" >>"$outdir/probe.log"
timeout "$timeout_s" "$probe" --device cuda -o "$outdir/measurements-cuda.json" \
  >>"$outdir/probe.log" 2>&1
cuda_rc=$?
# The scenarios' own ops (plans written by `clustercost probe --scenario S --device cuda
# --write-plan`, checked against the scenarios by tests/scenario_probe): 10 timed calls each.
scenario_rc=0
for plan in "$src"/plans/*.plan; do
  [ -e "$plan" ] || continue
  name=$(basename "$plan" .plan)
  echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) cuda probe --plan $name" >>"$outdir/probe.log"
  timeout "$plan_timeout_s" "$probe" --device cuda --repetitions 10 --plan "$plan" \
    -o "$outdir/measurements-scenario-$name.json" >>"$outdir/probe.log" 2>&1
  rc=$?
  echo "== plan $name: exit $rc" >>"$outdir/probe.log"
  [ $rc -eq 0 ] || scenario_rc=$rc
done
echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) cpu probe (quick)" >>"$outdir/probe.log"
timeout 60 "$probe" --device cpu --quick -o "$outdir/measurements-cpu.json" \
  >>"$outdir/probe.log" 2>&1
cpu_rc=$?
echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) done: cuda exit $cuda_rc, cpu exit $cpu_rc" >>"$outdir/probe.log"
echo "build=0 cuda=$cuda_rc scenarios=$scenario_rc cpu=$cpu_rc" >"$outdir/status"
cat "$outdir/probe.log"
if [ $cuda_rc -eq 0 ] && [ $scenario_rc -ne 0 ]; then exit 1; fi
exit $cuda_rc
