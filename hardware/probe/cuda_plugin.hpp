#pragma once
/// The CUDA part of the probe is a shared library (libclustercost-probe-cuda.so, CMake target
/// cc_probe_cuda) that `clustercost` and `clustercost-probe` load with dlopen only when
/// `--device cuda` is asked, so neither binary links cudart, cuBLAS, cuBLASLt or NCCL: they start
/// on machines without any CUDA library, and `clustercost --help` does not pay for loading them.
///
/// This header is the boundary. The plugin exports one C symbol, kCudaPluginEntry, returning a
/// CudaPluginApi. The run function passes C++ objects (CudaPlan, MeasurementDoc, std::ostream)
/// by reference: the plugin is built from the same sources in the same build, with the same
/// C++ standard library, and the loader refuses one whose ABI number or struct sizes differ (a
/// plugin left over from another version). No exception crosses the boundary: the plugin turns
/// one into a message on the log and exit code 1, as run_probe does for the CPU part.

#include <cstddef>
#include <ostream>

#include "hardware/probe/cuda_probe.hpp"

namespace clustercost::probe {

/// Bumped whenever CudaPluginApi, CudaPlan, MeasurementDoc or what they hold change shape.
inline constexpr int kCudaPluginAbi = 2;

/// The name of the function the plugin exports (extern "C").
inline constexpr const char* kCudaPluginEntry = "clustercost_probe_cuda_plugin";

/// Environment variable naming the plugin file to load instead of the default places (next to
/// the executable, then where this build put it). Used by tests and by installs that move it.
inline constexpr const char* kCudaPluginEnv = "CLUSTERCOST_PROBE_CUDA_PLUGIN";

struct CudaPluginApi {
  int abi = 0;                        ///< kCudaPluginAbi of the plugin's build
  std::size_t plan_size = 0;          ///< sizeof(CudaPlan) in the plugin's build
  std::size_t doc_size = 0;           ///< sizeof(MeasurementDoc) in the plugin's build
  const char* (*build_description)() = nullptr;  ///< "nvcc 13.0, architectures 800,900, ..."
  /// cuda_run_plan: 0 measured (check failures are in the records), 2 no usable device
  /// ("no CUDA device: ..." on the log), 1 an error that stopped the run (message on the log).
  int (*run_plan)(const CudaPlan& plan, MeasurementDoc& doc, std::ostream& log) = nullptr;
};

using CudaPluginEntryFn = const CudaPluginApi* (*)();

}  // namespace clustercost::probe
