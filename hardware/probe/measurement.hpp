#pragma once
/// The records the probe produces and their serialisation as `clustercost.measurements/1`.
/// The structs are plain data shared by the CPU and CUDA parts (the CUDA part fills them in
/// host code, so everything a .cu file needs from here is header-only); the JSON writing lives in
/// measurement.cpp. Key names are a contract with `clustercost calibrate` (see README.md).

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "sim/common/units.hpp"

namespace clustercost::probe {

/// Dense GEMM C(m×n) = A(m×k)·B(k×n).
struct GemmShape {
  std::int64_t m = 0, n = 0, k = 0;
};

/// MoE experts: group g multiplies group_m[g] tokens by its own (k×n) weight.
struct GroupedGemmShape {
  std::int64_t n = 0, k = 0;
  std::vector<std::int64_t> group_m;
  std::int64_t total_m() const {
    std::int64_t s = 0;
    for (auto m : group_m) s += m;
    return s;
  }
};

/// Memory, peer copies and collectives: the message/array size; `ranks` > 0 for collectives.
struct BytesShape {
  std::int64_t bytes = 0;
  int ranks = 0;
};

/// Attention forward, layout [batch][heads][seq][head_dim].
struct AttentionShape {
  std::int64_t seq = 0, heads = 0, head_dim = 0, batch = 1;
  bool causal = true;
};

/// Launch overhead: each sample is the mean over `calls` back-to-back calls.
struct LaunchShape {
  std::int64_t calls = 1;
};

using Shape = std::variant<GemmShape, GroupedGemmShape, BytesShape, AttentionShape, LaunchShape>;

/// What a record of `probe --scenario` stands for in the scenario's op program (extension block
/// "op" of a record; absent from the generic sweep's records).
struct ScenarioOpInfo {
  std::string layer;            ///< layer kind: "dense", "moe", "embedding", "head", "mtp"
  std::string pass;             ///< "forward", "recompute", "input_grad", "weight_grad"
  std::string category;         ///< op category of the op program ("gemm", "norm", ...)
  std::string role;             ///< GEMMs: "fprop", "dgrad", "wgrad"
  std::string memory_class;     ///< memory-bound kernels: the class kernel_cost prices them by
  std::string attention_kernel; ///< attention: "flash2", "flash3", "" (unfused)
  bool backward = false;        ///< attention: the backward kernel
  int kernels = 1;              ///< launches the op stands for
  std::string op_dtype;         ///< the precision the op program gives the op
  int occurrences = 1;          ///< ops of the measured layers this record stands for
  std::map<std::string, int> per_layer;  ///< of those, per layer kind
  /// Scaling applied to fit the device (or, on the CPU twin, its time budget): what was reduced
  /// ("tokens", "tokens (of the expert GEMM's rows)", "bytes") and the factor (measured / real,
  /// 1 = the real size).
  std::string scaled;
  double scale = 1.0;
  std::string note;             ///< substitutions: "cuBLASLt for DeepGEMM", "fp32 on the cpu", ...
};

/// One timed microkernel.
struct Measurement {
  std::string
      kind;  ///< gemm | grouped_gemm | memory | attention | launch | p2p | allreduce | alltoall
  std::string name;   ///< e.g. "dsv3_expert_down" or "triad"
  std::string dtype;  ///< bf16 | fp8 | fp32 | fp64
  std::string impl;   ///< what ran: "cublasLt", "eigen", "fused_wmma", ... (extension key)
  Shape shape;
  std::vector<Seconds> samples;  ///< every timed call, after warm-up
  FlopCount flops;               ///< FLOPs of one call (0 for pure data movement)
  Bytes bytes;                   ///< bytes moved by one call (README: conventions per kind)
  double check_rel_error = 0.0;  ///< worst sampled error, normalised (checks.hpp)
  bool ok = true;                ///< check_rel_error within the dtype's tolerance
  /// Collectives only: nccl-tests bus bandwidth factor (2(n−1)/n all-reduce, (n−1)/n all-to-all).
  std::optional<double> busbw_factor;
  /// `probe --scenario` records: the op of the scenario's op program this measures.
  std::optional<ScenarioOpInfo> op;

  /// The median sample (the reported `time_s`); zero when there are no samples.
  Seconds median() const {
    if (samples.empty()) return Seconds(0.0);
    std::vector<Seconds> s = samples;
    std::sort(s.begin(), s.end());
    const std::size_t h = s.size() / 2;
    return s.size() % 2 ? s[h] : Seconds((s[h - 1].value + s[h].value) / 2.0);
  }
};

/// Device and software metadata, first in every measurements file (as nvbench does).
struct DeviceInfo {
  std::string kind;       ///< "cpu" or "cuda"
  std::string name;       ///< marketing name / CPU model
  int compute_units = 0;  ///< SMs (cuda) or logical cores (cpu)
  std::optional<double> clock_mhz;
  double memory_gib = 0.0;
  std::string driver;   ///< CUDA driver version, or the OS kernel for CPUs
  std::string runtime;  ///< CUDA runtime, or the C/C++ runtime libraries
  std::string compiler;
  std::string gemm_backend;  ///< "cublasLt 13.1.0", "eigen 3.4.0", "blocked (own)"
  std::string date;          ///< ISO 8601 UTC
  std::string host;
  // Extensions (not read by calibrate v1 but useful to a human).
  std::string compute_capability;  ///< cuda: "9.0"
  std::int64_t cache_bytes = 0;    ///< L2 (cuda) or last-level cache (cpu)
  std::string simd;                ///< cpu: vector ISA the kernels were compiled for
  int threads = 0;                 ///< cpu: worker threads used
  int device_count = 0;            ///< cuda: visible devices
};

/// How the run was configured (extension block "settings").
struct RunSettings {
  bool quick = false;
  int warmup = 1;
  int repetitions = 3;
  int threads = 1;
};

/// The scenario a `probe --scenario` run measured (extension block "scenario").
struct ScenarioProbeInfo {
  std::string file;                 ///< the scenario file as given
  std::string name;
  std::string gpu;                  ///< the scenario's GPU (catalogue key)
  std::vector<std::string> layers;  ///< layer kinds measured ("dense", "moe", ...)
  std::vector<std::string> ops;     ///< every distinct compute op name of those layers
};

struct MeasurementDoc {
  DeviceInfo device;
  std::optional<ScenarioProbeInfo> scenario;
  RunSettings settings;
  std::vector<Measurement> records;
  std::vector<std::string> skipped;  ///< measurements not taken, with the reason
  std::vector<std::string> errors;   ///< sections that failed (e.g. a CUDA error), with the error

  bool all_ok() const {
    return errors.empty() &&
           std::all_of(records.begin(), records.end(), [](const Measurement& m) { return m.ok; });
  }
};

/// Serialises a document as `clustercost.measurements/1` (README.md), ending with a newline.
void write_measurements_json(const MeasurementDoc& doc, std::ostream& out);

/// Writes `content` to a temporary file next to `path` and renames it over `path`, so a reader
/// never sees a half-written file. Returns an error message, or nullopt on success.
std::optional<std::string> write_file_atomically(const std::filesystem::path& path,
                                                 const std::string& content);

/// Current time as ISO 8601 UTC, "2026-01-31T12:34:56Z".
std::string iso8601_utc_now();

}  // namespace clustercost::probe
