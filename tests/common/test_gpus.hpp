#pragma once
// A Hopper-class GPU with round published peaks (H100/H800 SXM: 989 BF16, 1979 FP8 TFLOP/s,
// 3.35 TB/s, 132 SMs; docs/reference/hardware.md §1a), for tests that need a GpuSpec
// without loading the catalogue.

#include "hardware/spec/gpu_spec.hpp"

namespace clustercost::test {

inline GpuSpec hopper() {
  GpuSpec g;
  g.name = "test-hopper";
  g.bf16_tflops.value = 989;
  g.fp8_tflops.value = 1979;
  g.hbm_tbps.value = 3.35;
  g.sms.value = 132;
  return g;
}

}  // namespace clustercost::test
