#pragma once
// kernel_cost of a forward kernel described the way the kernel tests write it (class, shape,
// FLOPs, bytes, precision): kernel_cost (hardware/efficiency/kernel_cost.hpp) owns every
// kernel's time; this only fills its KernelDesc.

#include <string>

#include "hardware/efficiency/kernel_cost.hpp"

namespace clustercost::test {

inline Seconds kernel_cost_of(const GpuSpec& g, const EfficiencyProfile& p, OpClass op,
                              const GemmShape& shape, FlopCount flops, Bytes bytes,
                              const std::string& precision, double compute_fraction = 1.0) {
  KernelDesc k;
  k.op_class = op;
  k.shape = shape;
  k.flops = flops;
  k.bytes = bytes;
  k.precision = precision;
  return kernel_cost(g, p, k, compute_fraction);
}

}  // namespace clustercost::test
