#include "hardware/spec/gpu_spec.hpp"

namespace clustercost {

bool Figure::estimated_or_disputed() const {
  return flag.find_first_of("EDU") != std::string::npos;
}

std::optional<double> GpuSpec::peak_tflops(const std::string& precision) const {
  const Figure* f = nullptr;
  if (precision == "bf16" || precision == "fp16") f = &bf16_tflops;
  else if (precision == "fp8") f = &fp8_tflops;
  else if (precision == "tf32") f = &tf32_tflops;
  else if (precision == "fp32") f = &fp32_tflops;
  else if (precision == "fp64") f = &fp64_tflops;
  else if (precision == "int8") f = &int8_tops;
  if (!f || !f->value || *f->value <= 0) return std::nullopt;
  return f->value;
}

double NodeSpec::nic_gbps_per_gpu() const {
  if (gpus_per_node <= 0) return 0.0;
  return nic_gbps.get() * nics_per_node / gpus_per_node;
}

}  // namespace clustercost
