// Dispatch to the CUDA part when it was built (CLUSTERCOST_PROBE_HAVE_CUDA), else a stub that
// answers "no CUDA device" with exit code 2, as a CUDA build on a machine without a GPU does.

#include "hardware/probe/cuda_probe.hpp"
#include "hardware/probe/probe.hpp"

namespace clustercost {

bool probe_cuda_compiled() {
#if defined(CLUSTERCOST_PROBE_HAVE_CUDA)
  // Calls into the CUDA objects, so a link that dropped them fails here rather than passing.
  return !probe::cuda_build_description().empty();
#else
  return false;
#endif
}

std::string probe_cuda_build_info() {
#if defined(CLUSTERCOST_PROBE_HAVE_CUDA)
  return probe::cuda_build_description();
#else
  return "this probe was built without CUDA (nvcc not found, or CLUSTERCOST_PROBE_CUDA=OFF)";
#endif
}

namespace probe {

CudaPlan make_cuda_plan(const RunSettings& settings) {
  CudaPlan plan;
  plan.settings = settings;
  plan.gemms = gpu_gemm_shapes(settings.quick);
  plan.grouped = gpu_grouped_shapes(settings.quick);
  plan.attention = gpu_attention_shapes(settings.quick);
  // Arrays far larger than any GPU L2 (50 MiB on H100, 126 MiB on B200): every call streams
  // from HBM.
  plan.memory_array_bytes = settings.quick ? (256ll << 20) : (1ll << 30);
  plan.p2p_bytes = settings.quick ? (64ll << 20) : (1ll << 30);
  plan.collective_bytes = settings.quick ? (32ll << 20) : (256ll << 20);
  plan.launch_calls = 1000;
  return plan;
}

int run_cuda_probe(const RunSettings& settings, MeasurementDoc& doc, std::ostream& log) {
#if defined(CLUSTERCOST_PROBE_HAVE_CUDA)
  return cuda_run_plan(make_cuda_plan(settings), doc, log);
#else
  (void)settings;
  (void)doc;
  log << "no CUDA device: " << probe_cuda_build_info() << '\n';
  return kProbeUsage;
#endif
}

}  // namespace probe
}  // namespace clustercost
