#pragma once
/// The boundary between the C++ probe and its CUDA part (cc_probe_cuda, a plugin loaded with
/// dlopen: cuda_plugin.hpp). The C++ side decides what to measure (a CudaPlan built from
/// shapes.hpp); the CUDA side measures it on device 0 (and peers, when there are several) and
/// appends records. Host-only declarations, compiled by both the C++ compiler and nvcc.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "hardware/probe/measurement.hpp"
#include "hardware/probe/scenario_ops.hpp"
#include "hardware/probe/shapes.hpp"

namespace clustercost::probe {

struct CudaPlan {
  RunSettings settings;
  std::vector<NamedGemm> gemms;           ///< each in bf16, and in fp8 e4m3 on sm_89 and newer
  std::vector<NamedGrouped> grouped;      ///< bf16
  std::vector<NamedAttention> attention;  ///< bf16, head_dim 128, seq a multiple of 64
  std::int64_t memory_array_bytes = 0;    ///< per array of copy / triad
  std::int64_t p2p_bytes = 0;             ///< per peer copy (needs ≥ 2 devices)
  std::int64_t collective_bytes = 0;  ///< per rank, NCCL all-reduce / all-to-all (≥ 2 devices)
  int launch_calls = 0;               ///< empty kernels per launch-overhead sample
  /// `probe --scenario`: when not empty, these ops are timed (and the launch overhead) instead
  /// of the generic sweep above.
  std::vector<ScenarioOp> scenario_ops;
};

/// The plan the probe runs on a GPU (quick: seconds; full: about a minute on an H100/H200).
CudaPlan make_cuda_plan(const RunSettings& settings);

/// Defined in the CUDA plugin (cuda_probe.cu, target cc_probe_cuda; reached through
/// cuda_plugin.hpp, never linked into cc_probe). Returns 2 after writing "no CUDA device:
/// <reason>" to `log` when there is no usable device, else 0 (check failures are in the records).
/// CUDA/cuBLAS errors throw std::runtime_error (the plugin's entry turns them into exit code 1).
int cuda_run_plan(const CudaPlan& plan, MeasurementDoc& doc, std::ostream& log);
/// "nvcc 13.0, sm_80 sm_90, cuBLAS 13.1.0, NCCL 2.28.9"
std::string cuda_build_description();

/// What run_probe calls (cuda_dispatch.cpp): loads the plugin on first use and runs the plan in
/// it. Without a loadable plugin (a build without CUDA, CUDA libraries missing): exit code 2 with
/// "no CUDA device: <why>"; a plugin from another build: exit code 1.
int run_cuda_probe(const RunSettings& settings, MeasurementDoc& doc, std::ostream& log);
/// The same for `probe --scenario`: the plan's scenario ops.
int run_cuda_scenario_probe(const RunSettings& settings, const ScenarioProbePlan& plan,
                            MeasurementDoc& doc, std::ostream& log);

}  // namespace clustercost::probe
