#pragma once
/// The microkernel probe: measures what a device really achieves on the kernels the simulator
/// models (dense and grouped GEMM, memory copy and triad, causal attention, launch overhead and,
/// with several GPUs, peer copies and NCCL collectives), checks every result against a reference,
/// and writes a `clustercost.measurements/1` JSON document from which `clustercost calibrate`
/// fits efficiency profiles. The format and the FLOP/byte conventions are in
/// hardware/probe/README.md. `clustercost-probe` and `clustercost probe` are thin front ends.
///
/// The probe builds without the rest of the tree (only a C++ compiler, plus the CUDA toolkit for
/// the GPU part), so this header and the library depend on the standard library alone.

#include <ostream>
#include <string>

namespace clustercost {

/// What to measure and where to write it.
struct ProbeOptions {
  std::string device = "cpu";  ///< "cpu" or "cuda"
  bool quick = false;          ///< small shapes, few repetitions (CPU: well under 20 s on 2 cores)
  int repetitions = 0;         ///< timed samples per measurement; 0 picks a default per device/mode
  int threads = 1;             ///< CPU worker threads (ignored for cuda)
  std::string output_path;     ///< measurements JSON; written atomically (temp file + rename)
};

/// Exit codes of run_probe (and of clustercost-probe), following the CLI convention.
inline constexpr int kProbeOk = 0;  ///< all measured, all checks passed
/// A result was wrong or a CUDA section failed (the file is still written), or I/O failed.
inline constexpr int kProbeCheckFailed = 1;
inline constexpr int kProbeUsage = 2;  ///< bad options, or no CUDA device ("no CUDA device: ...")

/// The `schema` value of the measurements document.
inline constexpr const char* kMeasurementsSchema = "clustercost.measurements/1";

/// Runs the probe; progress and errors go to `log`. Returns kProbeOk, kProbeCheckFailed or
/// kProbeUsage. Never throws: failures become a message on `log` and exit code 1.
int run_probe(const ProbeOptions& options, std::ostream& log);

namespace probe {
struct ScenarioProbePlan;
}
/// `probe --scenario`: times the ops of `plan` (built from a scenario's op program by
/// sim/program/probe_plan.hpp) on the device of `options` and writes the measurements with the
/// scenario block and each record's "op" block. Exit codes as run_probe; an op the device cannot
/// run (an FP8 GEMM without FP8 arithmetic) is listed in "skipped" with the reason, and the rest
/// is measured.
int run_scenario_probe(const ProbeOptions& options, const probe::ScenarioProbePlan& plan,
                       std::ostream& log);

/// True when this build compiled the CUDA part (the plugin cc_probe_cuda, loaded with dlopen
/// only when `--device cuda` is asked; no binary links CUDA libraries).
bool probe_cuda_compiled();

/// Loads the CUDA plugin (once per process) and returns its build description, e.g.
/// "nvcc 13.0, architectures 800,900, cuBLAS 13.1.0, NCCL 2.28.9"; else why it cannot be used
/// (a build without CUDA, the plugin or its CUDA libraries missing).
std::string probe_cuda_build_info();

}  // namespace clustercost
