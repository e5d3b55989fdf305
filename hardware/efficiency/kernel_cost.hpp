#pragma once
/// The time of one kernel of the op program, by its class (DESIGN.md "Compute model"):
///  - GEMM and grouped GEMM: max(FLOPs / (peak[dtype] × e(role, grouped) × q × c), bytes /
///    (HBM × e_mem)) + kernels × (t_gemm + t0), q the wave quantisation of the output tiles over
///    the SMs, c the fraction of SMs left by communication kernels. The role matters: weight-
///    gradient GEMMs run well below forward GEMMs (EfficiencyProfile, GemmEfficiency roles).
///  - fused attention (FlashAttention-2/-3): FLOPs / (BF16 peak × e(kernel, direction) × c),
///    at least its bytes at HBM rate, + t0 per kernel. Unfused attention is not a kernel of its
///    own: the op program spells it out as batched GEMMs and memory-bound softmax/dropout.
///  - memory-bound kernels (norms, activations, RoPE, casts, permutes, copies, the optimizer):
///    bytes / (HBM × e_mem) + t0 per kernel. The fixed t0 is the small-size ramp: a kernel that
///    moves b bytes reaches b / (t0 + b/bw) of the bandwidth.
/// Every parameter is the profile's (hardware/profiles/*.json), each with its source.

#include <cstdint>
#include <string>

#include "hardware/efficiency/efficiency_profile.hpp"
#include "hardware/spec/gpu_spec.hpp"
#include "models/accounting.hpp"
#include "sim/common/units.hpp"

namespace clustercost {

/// What a GEMM computes: the forward product, the input gradient, or the weight gradient.
enum class GemmRole : std::uint8_t { Fprop, Dgrad, Wgrad };
const char* gemm_role_name(GemmRole r);

/// The description of one kernel that its cost needs.
struct KernelDesc {
  OpClass op_class = OpClass::Memory;
  GemmRole role = GemmRole::Fprop;
  std::string precision = "bf16";  ///< GEMM operand precision: "bf16", "fp8", "fp32"
  GemmShape shape;                 ///< GEMMs: m, n, k, groups
  FlopCount flops;
  Bytes bytes;                     ///< HBM bytes read + written
  int kernels = 1;                 ///< launches this op stands for
  bool backward = false;           ///< attention: the backward kernel
  std::string attention_kernel;    ///< attention: "flash2" or "flash3"
  std::string memory_class;        ///< memory-bound kernels: "norm", "rope", "fp8_cast", ...
};

/// The time of `k` on `gpu`. `compute_fraction` (0, 1]: SMs left to compute kernels while
/// communication kernels hold the rest (sm_compute_fraction in grouped_gemm.hpp).
Seconds kernel_cost(const GpuSpec& gpu, const EfficiencyProfile& profile, const KernelDesc& k,
                    double compute_fraction = 1.0);

}  // namespace clustercost
