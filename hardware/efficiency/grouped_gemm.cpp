#include "hardware/efficiency/grouped_gemm.hpp"

#include "hardware/efficiency/kernel_cost.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace clustercost {

double sm_compute_fraction(int sms, int comm_sms) {
  if (sms <= 0 || comm_sms < 0 || comm_sms >= sms)
    throw std::invalid_argument("SM reservation: need 0 <= comm_sms < sms (got " +
                                std::to_string(comm_sms) + " of " + std::to_string(sms) + ")");
  return static_cast<double>(sms - comm_sms) / sms;
}

double sm_reservation_slowdown(int sms, int comm_sms) {
  return 1.0 / sm_compute_fraction(sms, comm_sms);
}

namespace {

double value_bytes(const std::string& precision) {
  if (precision == "fp8") return 1.0;
  if (precision == "fp32") return 4.0;
  return 2.0;  // bf16 / fp16
}

}  // namespace

ExpertComputeTime expert_compute_time(const GpuSpec& gpu, const EfficiencyProfile& profile,
                                      std::span<const double> tokens_per_expert,
                                      const ExpertShape& shape, double compute_fraction) {
  if (shape.hidden <= 0 || shape.ffn <= 0)
    throw std::invalid_argument("expert_compute_time: hidden and ffn must be > 0");
  if (!std::isfinite(compute_fraction) || compute_fraction <= 0.0 || compute_fraction > 1.0)
    throw std::invalid_argument("expert_compute_time: compute_fraction must be in (0, 1]");
  const GemmEfficiency& g = profile.gemm_for(shape.precision);
  const double tile_m = g.tile_m > 0 ? g.tile_m : 1;
  double padded = 0.0, rows = 0.0, active = 0.0;
  for (double m : tokens_per_expert) {
    if (!std::isfinite(m) || m < 0.0)
      throw std::invalid_argument("expert_compute_time: token counts must be finite and >= 0");
    if (m <= 0.0) continue;
    // Grouped-contiguous layout: each expert's rows start on a row-tile boundary.
    padded += std::ceil(m / tile_m) * tile_m;
    rows += m;
    active += 1.0;
  }
  ExpertComputeTime t;
  t.padded_rows = padded;
  if (padded <= 0.0) return t;
  const double h = shape.hidden, f = shape.ffn;
  const double wb = value_bytes(shape.precision);
  struct Kernel {
    double n, k;
  };
  // Gate + up (one GEMM of N = 2f when gated), then down.
  const Kernel kernels[2] = {{shape.gated ? 2.0 * f : f, h}, {h, f}};
  for (const Kernel& kn : kernels) {
    const double flops = 2.0 * padded * kn.n * kn.k;
    t.useful_flops_forward += FlopCount(2.0 * rows * kn.n * kn.k);
    // HBM traffic: every active expert's weights, the padded input rows, BF16 output rows.
    const double bytes = active * kn.n * kn.k * wb + padded * kn.k * wb + padded * kn.n * 2.0;
    // Priced by kernel_cost (the one owner of a kernel's time), as the op program prices its
    // grouped expert GEMMs: forward, then the input gradient and the weight gradient, each a
    // kernel of the forward's FLOPs and bytes at its role's efficiency.
    KernelDesc k;
    k.op_class = OpClass::GroupedGemm;
    k.precision = shape.precision;
    k.shape = GemmShape{padded, kn.n, kn.k, 1};
    k.flops = FlopCount(flops);
    k.bytes = Bytes(bytes);
    t.forward += kernel_cost(gpu, profile, k, compute_fraction);
    for (const GemmRole role : {GemmRole::Dgrad, GemmRole::Wgrad}) {
      k.role = role;
      t.backward += kernel_cost(gpu, profile, k, compute_fraction);
    }
  }
  return t;
}

EpComputePace ep_compute_pace(const GpuSpec& gpu, const EfficiencyProfile& profile,
                              const Eigen::MatrixXd& tokens, const ExpertShape& shape,
                              double compute_fraction) {
  EpComputePace p;
  double sum = 0.0, best = -1.0;
  std::vector<double> row(static_cast<std::size_t>(tokens.cols()));
  for (Eigen::Index r = 0; r < tokens.rows(); ++r) {
    for (Eigen::Index e = 0; e < tokens.cols(); ++e) row[static_cast<std::size_t>(e)] = tokens(r, e);
    const ExpertComputeTime t = expert_compute_time(gpu, profile, row, shape, compute_fraction);
    const double total = t.forward.value + t.backward.value;
    sum += total;
    if (total > best) {
      best = total;
      p.busiest = t;
      p.busiest_rank = static_cast<int>(r);
    }
  }
  if (tokens.rows() > 0) p.mean_total = Seconds(sum / static_cast<double>(tokens.rows()));
  return p;
}

}  // namespace clustercost
