#include "hardware/efficiency/kernel_cost.hpp"

#include <algorithm>

namespace clustercost {

const char* gemm_role_name(GemmRole r) {
  switch (r) {
    case GemmRole::Fprop: return "fprop";
    case GemmRole::Dgrad: return "dgrad";
    case GemmRole::Wgrad: return "wgrad";
  }
  return "fprop";
}

Seconds kernel_cost(const GpuSpec& gpu, const EfficiencyProfile& profile, const KernelDesc& k,
                    double compute_fraction) {
  const double hbm_bps = gpu.hbm_tbps.get() * 1e12 * profile.memory.efficiency;
  const double mem_t = hbm_bps > 0 ? k.bytes.value / hbm_bps : 0.0;
  const double launch = profile.launch_overhead_us * 1e-6 * std::max(1, k.kernels);
  const double bf16_peak = gpu.peak_tflops("bf16").value_or(1.0) * 1e12;
  const double c = std::clamp(compute_fraction, 1e-3, 1.0);
  switch (k.op_class) {
    case OpClass::Gemm:
    case OpClass::GroupedGemm: {
      const GemmEfficiency& g = profile.gemm_for(k.precision);
      const double peak = gpu.peak_tflops(k.precision).value_or(bf16_peak / 1e12) * 1e12;
      const double e = g.efficiency_for(k.op_class == OpClass::GroupedGemm, static_cast<int>(k.role));
      const double q = wave_quantisation(k.shape.m, k.shape.n, k.shape.groups, g.tile_m, g.tile_n,
                                         static_cast<int>(gpu.sms.get()));
      const double comp_t = k.flops.value / (peak * e * q * c);
      const double fixed = std::max(1, k.kernels) * g.overhead_us * 1e-6 + launch;
      if (g.form == GemmForm::Serial) {
        const double pack_t = g.packing_gbps > 0
                                  ? packed_operand_bytes(k.shape, k.precision) / (g.packing_gbps * 1e9)
                                  : 0.0;
        return Seconds(comp_t + pack_t + fixed);
      }
      return Seconds(std::max(comp_t, mem_t) + fixed);
    }
    case OpClass::Attention: {
      const auto a = profile.attention.for_kernel(k.attention_kernel);
      const double e = k.backward ? a.backward : a.forward;
      return Seconds(std::max(k.flops.value / (bf16_peak * e * c), mem_t) + launch);
    }
    case OpClass::Memory: {
      const double bw = gpu.hbm_tbps.get() * 1e12 * profile.memory.for_class(k.memory_class);
      return Seconds((bw > 0 ? k.bytes.value / bw : 0.0) + launch);
    }
  }
  return Seconds(0);
}

}  // namespace clustercost
