#pragma once
/// The CPU twin of the GPU probe: same records, same conventions (README.md). fp32 and fp64
/// GEMM, an fp32 grouped GEMM, fp64 STREAM copy and triad, fp32 causal attention, and the cost
/// of waking a parked worker thread (the CPU analogue of a kernel launch: what a multi-threaded
/// kernel pays to start its helpers). Kernel samples are the CPU time of the busiest worker
/// thread (so other processes on the machine do not stretch them) and the kernels are timed
/// round-robin, not back to back; the thread wake-up is timed with std::chrono::steady_clock.

#include <ostream>

#include "hardware/probe/measurement.hpp"

namespace clustercost::probe {

/// Fills `doc` (device block except date and host, then the records). Check failures are
/// recorded (ok = false), not thrown; resource errors (allocation) throw.
void run_cpu_probe(const RunSettings& settings, MeasurementDoc& doc, std::ostream& log);

struct ScenarioProbePlan;
/// `probe --scenario` on the CPU twin: times every op of `plan` (GEMMs in fp32, FP8 GEMMs
/// skipped with a message in doc.skipped, memory-bound ops with the twins of cpu_op_kernels.hpp,
/// attention forward and backward), then the thread wake-up (the launch cost).
void run_cpu_scenario_probe(const RunSettings& settings, const ScenarioProbePlan& plan,
                            MeasurementDoc& doc, std::ostream& log);

}  // namespace clustercost::probe
