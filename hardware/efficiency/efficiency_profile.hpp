#pragma once
/// How fast real kernels run on a GPU relative to its peaks: the compute model of DESIGN.md,
///   op time = max(FLOPs / (peak[dtype] × e_compute × q_wave), bytes / (HBM bw × e_mem)) + t0,
/// where e_compute is the efficiency a well-shaped kernel reaches, q_wave the wave-quantisation
/// factor (tiles / (waves × SMs)), and t0 a fixed per-kernel time (prologue, epilogue, tail).
/// Shipped profiles (hardware/profiles/*.json) are fitted to published kernel benchmarks
/// (docs/reference/published-runs.md, sections C and D); `clustercost calibrate` fits new
/// ones from probe measurements. Every parameter records its source.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hardware/spec/gpu_spec.hpp"
#include "models/accounting.hpp"
#include "sim/common/json_reader.hpp"
#include "sim/common/units.hpp"

namespace clustercost {

/// How a GEMM's arithmetic and its operand traffic combine into time.
enum class GemmForm {
  /// GPUs: max(W/(peak·e·q), bytes/(HBM·e_mem)) + overhead. Tensor cores compute while the
  /// memory system streams the next tiles, so the slower of the two sets the time (roofline).
  Roofline,
  /// CPUs: W/(peak·e·q) + B/packing_bw + overhead, B = the bytes of the k×n operand (of every
  /// group). A CPU core first copies ("packs") operand panels into contiguous cache-sized
  /// buffers and then runs its register-blocked kernel on them (Goto and van de Geijn, "Anatomy
  /// of High-Performance Matrix Multiplication", ACM TOMS 34(3), 2008: the scheme of Eigen,
  /// OpenBLAS and BLIS); the same core does both, so the times add. Every element of B is packed
  /// and streamed through the kernel once per call whatever m is, so with few rows (tokens) the
  /// B term dominates, and with many the arithmetic does. The m×k operand is packed too, but a
  /// term for it came out zero when fitted to quick CPU probes (Eigen on a Xeon), so it is not
  /// modelled. An efficiency that saturates in m, e(m) = e·m/(m + m½), is this same form.
  Serial,
};

/// Dense GEMM efficiency for one precision: time = W/(peak·efficiency·q) + overhead, combined
/// with the operand bytes as `form` says.
struct GemmEfficiency {
  double efficiency = 0.8;     // fraction of dense peak at full waves, large problem
  double overhead_us = 0.0;    // fixed per-GEMM time
  int tile_m = 128;            // output tile used for wave quantisation
  int tile_n = 128;
  std::string source;
  GemmForm form = GemmForm::Roofline;
  /// Serial form only: the rate (GB/s) at which the k×n operand is packed and streamed; 0
  /// means it costs nothing beyond the arithmetic.
  double packing_gbps = 0.0;
  /// Efficiency of the other GEMM roles and of grouped (expert) GEMMs, as fractions of the dense
  /// peak like `efficiency` (which is the forward, "fprop", figure). 0 = same as `efficiency`.
  /// Weight-gradient GEMMs read both operands transposed and accumulate into FP32 main
  /// gradients; in DeepSeek's profile of one DualPipe chunk pair they run at about half the
  /// throughput of the forward GEMMs of the same layer (docs/reference/deepseek-v3-train-profile.md).
  double dgrad_efficiency = 0.0;
  double wgrad_efficiency = 0.0;
  double grouped_efficiency = 0.0;
  std::string roles_source;  // where the three role figures come from
  double efficiency_for(bool grouped, int role) const;  // role: 0 fprop, 1 dgrad, 2 wgrad
};

struct AttentionEfficiency {
  double forward = 0.7;        // fraction of the BF16 dense peak (the profile's default kernel)
  double backward = 0.5;
  std::string source;
  /// Per fused implementation ("flash2", "flash3"): forward and backward fractions of the BF16
  /// dense peak, with their source. An implementation missing here runs at forward/backward.
  struct Kernel {
    double forward = 0.7, backward = 0.5;
    std::string source;
  };
  std::map<std::string, Kernel> by_kernel;
  /// The fractions for `kernel` ("flash2", "flash3"), falling back to forward/backward.
  Kernel for_kernel(const std::string& kernel) const;
};

struct MemoryEfficiency {
  double efficiency = 0.8;     // fraction of HBM TB/s reached by streaming kernels
  std::string source;
  /// Per class of memory-bound kernel ("norm", "rope", "fp8_cast", ... as the op program names
  /// its categories): the fraction of HBM bandwidth such kernels reach in a measured training
  /// step, where that is known; other classes run at `efficiency`.
  std::map<std::string, double> by_class;
  std::string by_class_source;
  double for_class(const std::string& cls) const {
    auto it = by_class.find(cls);
    return it == by_class.end() ? efficiency : it->second;
  }
};

/// Achievable fraction of line rate for collectives (nccl-tests busbw / line rate).
struct NetworkEfficiency {
  double scale_up = 0.8;
  double scale_out = 0.95;
  /// NVLink SHARP collectives (NCCL's NVLS): bytes each GPU moves per direction / (line rate ×
  /// time) for messages large enough to reach the peak. 0: not measured, and NVLS is not
  /// offered to the algorithm choice even where the switches could reduce.
  double nvls = 0.0;
  std::string source;
};

struct EfficiencyProfile {
  std::string name;          // "H800-SXM default (published kernels)"
  std::string gpu;           // catalogue key it was made for
  std::string source;        // file, or the measurement file's hash and date
  std::map<std::string, GemmEfficiency> gemm;  // by precision: "bf16", "fp8", "fp32", "fp64"
  AttentionEfficiency attention;
  MemoryEfficiency memory;
  NetworkEfficiency network;
  /// Fixed time of every kernel (launch, prologue, tail): what a kernel that moves almost no
  /// data still takes, so small memory-bound kernels reach a fraction of HBM bandwidth (the
  /// small-size ramp: bytes / (t0 + bytes / bw)).
  double launch_overhead_us = 0.0;
  std::string launch_source;
  Json fit;                  // the samples and residuals of the fit, kept for provenance

  /// The GEMM efficiency for a precision, falling back to bf16, then fp32, then any entry.
  const GemmEfficiency& gemm_for(const std::string& precision) const;
};

EfficiencyProfile parse_efficiency_profile(const Json& j, const std::string& file);
EfficiencyProfile load_efficiency_profile(const std::filesystem::path& file);
Json efficiency_profile_to_json(const EfficiencyProfile& p);

/// The shipped profile for a GPU (hardware/profiles/<gpu>.json); when the GPU has none, an
/// InputError naming the file that is missing.
EfficiencyProfile load_default_profile(const std::filesystem::path& profiles_dir,
                                       const GpuSpec& gpu);

/// Wave quantisation: tiles / (waves × SMs) for an m×n output in tile_m×tile_n tiles.
double wave_quantisation(double m, double n, int groups, int tile_m, int tile_n, int sms);

/// The time of one kernel under a profile is kernel_cost (kernel_cost.hpp), the one owner.

/// One published or measured GEMM: shape, precision and achieved time.
struct GemmSample {
  GemmShape shape;
  std::string precision;
  Seconds time;
  std::string source;
};

/// Linear least-squares fit (Eigen) of time = W/(peak·e·q) + t0 over compute-bound samples:
/// returns efficiency e and overhead t0, with the RMS relative residual.
struct GemmFit {
  GemmEfficiency params;
  double rms_relative_error = 0;
  int samples = 0;
};
GemmFit fit_gemm_efficiency(const std::vector<GemmSample>& samples, double peak_tflops, int sms,
                            int tile_m = 128, int tile_n = 128);

/// Bytes of one element of a GEMM operand in `precision`: fp64 8, fp32 and tf32 4, bf16 2,
/// fp8 1 (2 for anything else).
double operand_element_bytes(const std::string& precision);

/// The bytes of the k×n operand of every group, in the samples' precision (GemmForm::Serial).
double packed_operand_bytes(const GemmShape& shape, const std::string& precision);

/// Fit of the serial (CPU) form, time = W/(peak·e·q) + B/packing_bw + t0 (B from
/// packed_operand_bytes), over all samples: non-negative least squares (Eigen) on the relative
/// residuals, so small and large GEMMs count alike, under physical bounds: efficiency ≤ 1 (the
/// peak is a floor on time), packing time and fixed time ≥ 0. A term the data do not support
/// comes out as zero (packing_gbps 0: no packing term; overhead 0). Returns form Serial; an
/// empty fit (samples 0) when there are no samples, a time is not positive or the peak is not.
GemmFit fit_gemm_serial(const std::vector<GemmSample>& samples, double peak_tflops, int sms,
                        int tile_m, int tile_n);

}  // namespace clustercost
