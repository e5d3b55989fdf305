#pragma once
/// Calibration: from probe measurements (`clustercost.measurements/1`, hardware/probe/README.md)
/// to an EfficiencyProfile, and the per-kernel check of a profile against the same measurements.
///
///   Measurements m = load_measurements("m.json");
///   GpuSpec spec = device_spec_from(m, &catalog);      // peaks and bandwidth of the device
///   EfficiencyProfile p = calibrate(m, spec, "m.json");
///   auto rows = predict_kernels(m, spec, neutral_profile(spec), p);
///
/// The profile parameters are all those kernel_cost() (kernel_cost.hpp) reads: per-dtype GEMM
/// efficiency and fixed time, the dgrad / wgrad / grouped efficiencies (from `probe --scenario`
/// records, which carry the GEMM role), the memory efficiency and one per memory-bound class
/// (with the launch time t0 this is the size ramp bytes / (t0 + bytes/bw)), the attention
/// efficiency forward and backward, per implementation, the launch overhead and, when peer
/// copies or collectives were measured, the scale-up network efficiency. The GEMM
/// model form follows the measured device: GPUs the roofline form (least squares over the
/// compute-bound GEMMs), CPUs the serial form (arithmetic + packing of the k×n operand + fixed
/// time, non-negative least squares over all GEMMs; GemmForm::Serial says why).
/// No terminal I/O here: the CLI presents.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hardware/efficiency/efficiency_profile.hpp"
#include "hardware/efficiency/kernel_cost.hpp"
#include "hardware/spec/catalog.hpp"
#include "hardware/spec/gpu_spec.hpp"
#include "models/accounting.hpp"
#include "sim/common/json_reader.hpp"
#include "sim/common/units.hpp"

namespace clustercost {

/// The `device` block of a measurements file (contract keys plus the extensions calibrate uses).
struct MeasuredDevice {
  std::string kind;                  ///< "cpu" or "cuda"
  std::string name;                  ///< "NVIDIA H200", or the CPU model
  int compute_units = 0;             ///< `sms` (cuda) or `cores` (cpu, logical)
  std::optional<double> clock_mhz;   ///< peak clock; null when the probe could not tell
  double memory_gib = 0;
  std::string gemm_backend;
  std::string date;                  ///< ISO 8601 UTC of the measurement
  std::string host;
  std::string simd;                  ///< cpu extension: "avx512f avx2 fma"
  int threads = 0;                   ///< cpu extension: worker threads the kernels used
};

/// The "op" block of a `probe --scenario` record: the op of the scenario's op program it times.
struct MeasuredOp {
  std::string layer, pass, category, role, memory_class, attention_kernel, op_dtype;
  bool backward = false;
  int kernels = 1;                         ///< launches of what ran
  int occurrences = 1;                     ///< ops of the measured layers it stands for
  std::map<std::string, int> per_layer;    ///< of those, per layer kind
  double scale = 1.0;                      ///< measured size / real size
  std::string scaled, note;
};

/// One timed microkernel.
struct MeasurementRecord {
  std::string kind;   ///< gemm | grouped_gemm | memory | attention | launch | p2p | allreduce | alltoall
  std::string name;
  std::string dtype;  ///< bf16 | fp8 | fp32 | fp64
  /// GEMMs in the simulator's convention: grouped GEMMs have m = mean rows per group and
  /// `groups` set (the file gives m = Σ group_m).
  GemmShape gemm;
  std::int64_t shape_bytes = 0;  ///< memory / p2p / collectives: the array or message size
  int ranks = 0;                 ///< collectives / p2p
  Json shape;                    ///< the shape object as written, for display
  Seconds time;                  ///< `time_s`, the median sample
  FlopCount flops;
  Bytes bytes;
  bool ok = true;
  std::string impl;              ///< extension: what ran
  std::optional<MeasuredOp> op;  ///< extension: `probe --scenario` records
};

/// The kernel description kernel_cost() prices a record by: its class, role, precision (the
/// one that ran), shape, FLOPs, bytes, launches, memory class and attention implementation.
KernelDesc kernel_desc_of(const MeasurementRecord& r);

/// The "scenario" block of a `probe --scenario` file.
struct MeasuredScenario {
  std::string file, name, gpu;
  std::vector<std::string> layers, ops;
};

struct Measurements {
  std::string file;              ///< where it came from (for messages and provenance)
  std::uint64_t fnv1a64 = 0;     ///< of the file's bytes (load_measurements) or of the JSON text
  MeasuredDevice device;
  std::optional<MeasuredScenario> scenario;
  std::vector<MeasurementRecord> records;
  std::vector<std::string> skipped;  ///< what the probe did not measure, with the reason
};

/// Parses a `clustercost.measurements/1` document: strict on the contract keys (missing or
/// mistyped ones are InputErrors naming the JSON path, e.g. "records[3].time_s"), tolerant of
/// keys it does not know (the format allows extensions). The hash is that of `j.dump()`.
Measurements parse_measurements(const Json& j, const std::string& file);
/// Reads and parses a file; the hash is FNV-1a 64 of the file's bytes.
Measurements load_measurements(const std::filesystem::path& file);

/// A GpuSpec describing the measured device, for kernel_cost():
///  - cuda, name found in `catalog` ("NVIDIA H200" → H200-SXM): the catalogue spec (peaks per
///    dtype, HBM bandwidth), with `sms` from the device block;
///  - cuda, not in the catalogue: peaks are the best achieved TFLOP/s per dtype and the HBM
///    bandwidth the best copy bandwidth (so efficiencies are relative to the best measured);
///  - cpu: peak[dtype] = threads × clock × FLOPs/cycle, FLOPs/cycle = SIMD lanes of the dtype
///    (avx512f 512 bits, avx/avx2 256, sse/neon 128, else scalar) × 2 if FMA × 2 FMA pipes;
///    when an fp32/fp64 GEMM of the file ran faster than that (the reported clock is below the
///    turbo clock, as in VMs), the clock is raised to the lowest one that explains it;
///    `bf16` holds the fp32 peak (the CPU attention is fp32, and kernel_cost prices attention at
///    the bf16 slot); the "HBM" bandwidth is the best measured copy bandwidth (no nominal DRAM
///    figure is known to the probe); `sms` is the thread count, so wave quantisation counts the
///    workers the kernels ran on.
/// Throws InputError when the device block lacks what the peak needs (cpu clock_mhz).
GpuSpec device_spec_from(const Measurements& m, const Catalog* catalog = nullptr);

/// The catalogue GPU a CUDA device name designates, or nullptr: the GPU whose key's first token
/// ("h200" of "H200-SXM") is a word of the device name, preferring the most matching tokens.
const GpuSpec* match_catalog_gpu(const Catalog& catalog, const std::string& device_name);

/// The neutral profile: EfficiencyProfile{} (struct defaults: GEMM 0.8, memory 0.8,
/// attention 0.7, no overheads), named after `spec`; the "default" for devices without a
/// shipped profile (CPUs).
EfficiencyProfile neutral_profile(const GpuSpec& spec);

/// Fits a profile from the ok records (see the file comment); `source` names the measurements
/// in the profile. `fit` records the file's FNV-1a hash, its date, sample counts and RMS
/// relative residuals. Precisions without (GPU: compute-bound) GEMMs are left out of `gemm`.
/// A CPU measured on one thread gets no launch overhead: its kernels woke no helper thread (the
/// measured wake-up is kept in fit.launch.measured_thread_wake_us).
EfficiencyProfile calibrate(const Measurements& m, const GpuSpec& spec, const std::string& source);

/// One kernel measured and predicted by two profiles. Errors are signed relative errors,
/// (predicted − measured) / measured.
struct KernelPrediction {
  std::string name;
  std::string kind;
  std::string dtype;
  std::optional<MeasuredOp> op;  ///< `probe --scenario` records
  Seconds measured;
  Seconds predicted_default;
  Seconds predicted_calibrated;
  double error_default = 0;
  double error_calibrated = 0;
};

/// kernel_cost() of every ok record the compute model covers (gemm, grouped_gemm, memory,
/// attention, launch) under both profiles; collectives and peer copies are not kernels, nor is
/// the thread wake-up of a CPU measured on one thread (no kernel of the file paid it).
std::vector<KernelPrediction> predict_kernels(const Measurements& m, const GpuSpec& spec,
                                              const EfficiencyProfile& default_profile,
                                              const EfficiencyProfile& calibrated);

/// Mean absolute percentage error (as a fraction) of both profiles; 0 when there are no rows.
struct KernelMape {
  double default_profile = 0;
  double calibrated = 0;
  int kernels = 0;
};
KernelMape kernel_mape(const std::vector<KernelPrediction>& rows);
/// kernel_mape() of the rows of each kind ("gemm", "memory", ...).
std::map<std::string, KernelMape> kernel_mape_by_kind(const std::vector<KernelPrediction>& rows);

}  // namespace clustercost
