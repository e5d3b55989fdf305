#pragma once
/// Expert compute of an MoE layer on one rank as grouped GEMMs, from the actual number of tokens
/// each local expert received, and the pace of an EP group (its busiest rank).
///
/// A routed expert is a SwiGLU FFN: gate and up projections h → f (run as one GEMM of N = 2f,
/// as DeepGEMM's grouped benchmarks do: N 4096 = 2 × 2048, K 7168 for DeepSeek-V3) and the down
/// projection f → h. Each runs as one grouped-contiguous kernel over all local experts
/// (DeepGEMM m_grouped_gemm_fp8_fp8_bf16_nt_contiguous): the rows of each expert are padded to
/// the kernel's row tile (each group must be aligned to BLOCK_M), so an expert with 1 token costs
/// a full tile, and the tiles of all groups fill the SMs' waves together. Time per kernel is
/// kernel_cost() of kernel_cost.hpp with OpClass::GroupedGemm: padded FLOPs at the profile's
/// grouped GEMM efficiency for the precision (GemmEfficiency::grouped_efficiency, else the dense
/// figure; DeepGEMM's grouped contiguous FP8 figures on H800, 1346 and 1214 TFLOP/s at 4 × 8192
/// rows, docs/reference/published-runs.md D2, are the check in tests/alltoall). Backward is two
/// kernels per GEMM (input gradient and weight gradient), each with the forward's FLOPs, at the
/// dgrad and wgrad efficiencies, as the op program prices them.
///
/// SM reservation: communication kernels that hold SMs (DeepEP: DeepSeek-V3 reserves 20 of the
/// 132 SMs of an H800, arXiv 2412.19437 §3.2.2) leave (SMs − comm_sms)/SMs of the compute peak,
/// i.e. slow compute-bound kernels by SMs/(SMs − comm_sms).

#include <Eigen/Dense>
#include <span>
#include <string>

#include "hardware/efficiency/efficiency_profile.hpp"
#include "hardware/spec/gpu_spec.hpp"
#include "sim/common/units.hpp"

namespace clustercost {

/// The fraction of the compute peak left when `comm_sms` of `sms` SMs run communication:
/// (sms − comm_sms) / sms. std::invalid_argument unless 0 ≤ comm_sms < sms.
double sm_compute_fraction(int sms, int comm_sms);
/// The slowdown of compute-bound kernels: sms / (sms − comm_sms) (1 when comm_sms = 0).
double sm_reservation_slowdown(int sms, int comm_sms);

/// The shape of the routed experts.
struct ExpertShape {
  int hidden = 0;      ///< h (model width)
  int ffn = 0;         ///< f (expert_ffn_hidden)
  bool gated = true;   ///< SwiGLU: gate + up (N = 2f); false: one up projection (N = f)
  std::string precision = "bf16";  ///< GEMM precision ("fp8" for DeepSeek-V3)
};

struct ExpertComputeTime {
  Seconds forward;
  Seconds backward;
  /// Rows actually computed (tokens padded to the row tile), and the FLOPs of the real rows.
  double padded_rows = 0.0;
  FlopCount useful_flops_forward;
};

/// Forward and backward expert compute of one rank. `tokens_per_expert[e]` (≥ 0, finite) is
/// the tokens its local expert e received; experts with none launch no tile.
/// `compute_fraction` as kernel_cost (sm_compute_fraction for reserved SMs).
ExpertComputeTime expert_compute_time(const GpuSpec& gpu, const EfficiencyProfile& profile,
                                      std::span<const double> tokens_per_expert,
                                      const ExpertShape& shape, double compute_fraction = 1.0);

/// The pace of an EP group: `tokens` is ranks × local experts; the busiest rank (largest
/// forward + backward) sets the time of the layer. Ties: the lowest rank.
struct EpComputePace {
  ExpertComputeTime busiest;
  int busiest_rank = -1;
  /// Mean over ranks of forward + backward, to show the cost of imbalance.
  Seconds mean_total;
};
EpComputePace ep_compute_pace(const GpuSpec& gpu, const EfficiencyProfile& profile,
                              const Eigen::MatrixXd& tokens, const ExpertShape& shape,
                              double compute_fraction = 1.0);

}  // namespace clustercost
