// The CUDA probe's entry point: finds the device, describes it, runs each section of the plan;
// and the plugin's one exported symbol (cuda_plugin.hpp), through which clustercost and
// clustercost-probe reach it after dlopen.

#include <cstdio>
#include <exception>
#include <new>
#include <algorithm>
#include <string>

#include "hardware/probe/checks.hpp"
#include "hardware/probe/cuda_common.cuh"
#include "hardware/probe/cuda_plugin.hpp"
#include "hardware/probe/fp8_support.hpp"

namespace clustercost::probe {

namespace cuda {

namespace {

__global__ void fill_bf16_kernel(__nv_bfloat16* p, std::int64_t n, std::uint64_t seed) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += stride) {
    p[i] = __float2bfloat16_rn(random_value(seed, static_cast<std::uint64_t>(i)));
  }
}

__global__ void fill_e4m3_kernel(__nv_fp8_storage_t* p, std::int64_t n, std::uint64_t seed) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += stride) {
    p[i] = __nv_cvt_float_to_fp8(random_value(seed, static_cast<std::uint64_t>(i)), __NV_SATFINITE,
                                 __NV_E4M3);
  }
}

__global__ void fill_f32_kernel(float* p, std::int64_t n, std::uint64_t seed) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += stride) {
    p[i] = random_value(seed, static_cast<std::uint64_t>(i));
  }
}

std::string version_string(int v) {
  // CUDA encodes versions as 1000·major + 10·minor.
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string host_compiler() {
#if defined(__clang__)
  return std::string("Clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("GCC ") + __VERSION__;
#else
  return "unknown host compiler";
#endif
}

#define CC_PROBE_STR2(...) #__VA_ARGS__
#define CC_PROBE_STR(...) CC_PROBE_STR2(__VA_ARGS__)

}  // namespace

void fill_bf16(Env& env, __nv_bfloat16* p, std::int64_t n, std::uint64_t seed) {
  fill_bf16_kernel<<<env.fill_blocks(n), 256, 0, env.stream.get()>>>(p, n, seed);
  CC_CHECK_LAUNCH();
}

void fill_e4m3(Env& env, __nv_fp8_storage_t* p, std::int64_t n, std::uint64_t seed) {
  fill_e4m3_kernel<<<env.fill_blocks(n), 256, 0, env.stream.get()>>>(p, n, seed);
  CC_CHECK_LAUNCH();
}

void fill_f32(Env& env, float* p, std::int64_t n, std::uint64_t seed) {
  fill_f32_kernel<<<env.fill_blocks(n), 256, 0, env.stream.get()>>>(p, n, seed);
  CC_CHECK_LAUNCH();
}

std::vector<unsigned char> copy_to_host(const void* src, std::int64_t offset, std::int64_t count,
                                        std::size_t bytes_per_elem) {
  std::vector<unsigned char> out(static_cast<std::size_t>(count) * bytes_per_elem);
  const auto* base =
      static_cast<const unsigned char*>(src) + static_cast<std::size_t>(offset) * bytes_per_elem;
  CC_CHECK(cudaMemcpy(out.data(), base, out.size(), cudaMemcpyDeviceToHost));
  return out;
}

void bench_scenario_op(Env& env, const CudaPlan& plan, const ScenarioOp& op, const Fp8Support& fp8,
                       MeasurementDoc& doc);

void bench_scenario_ops(Env& env, const CudaPlan& plan, MeasurementDoc& doc) {
  const Fp8Support fp8 = fp8_support(env.cc_major, env.cc_minor);
  for (const ScenarioOp& op : plan.scenario_ops) {
    // One op's failure (a library error, a shape a kernel refuses) is recorded with the op's
    // name and the others still run; after a sticky fault the rest fail fast the same way.
    try {
      bench_scenario_op(env, plan, op, fp8, doc);
    } catch (const std::exception& ex) {
      env.log << "error in " << op.name << ": " << ex.what() << '\n';
      doc.errors.push_back(op.name + " (" + op.info.pass + "): " + ex.what());
    }
  }
}

void bench_scenario_op(Env& env, const CudaPlan& plan, const ScenarioOp& op, const Fp8Support& fp8,
                       MeasurementDoc& doc) {
  {
    const std::size_t first = doc.records.size();
    ScenarioOpInfo info = op.info;
    const auto add_note = [&](const std::string& n) {
      info.note = info.note.empty() ? n : info.note + "; " + n;
    };
    const bool is_fp8 = info.op_dtype == "fp8";
    if (op.kind == "gemm") {
      if (is_fp8 && !fp8.supported) {
        doc.skipped.push_back(fp8_skip_line(op.name, info.pass, info.role, "FP8 GEMM", fp8));
        return;
      }
      add_note(is_fp8 ? "cuBLASLt FP8 (per-tensor scales) stands in for DeepGEMM / Transformer Engine"
                      : "cuBLASLt");
      bench_gemm_shape(env, NamedGemm{op.name, op.gemm}, is_fp8, doc);
    } else if (op.kind == "grouped_gemm") {
      if (is_fp8) {
        if (!fp8.supported) {
          doc.skipped.push_back(fp8_skip_line(op.name, info.pass, info.role, "FP8 grouped GEMM", fp8));
          return;
        }
        add_note("loop of cuBLASLt FP8 GEMMs, one per expert, stands in for DeepGEMM's m-grouped FP8 kernel");
        info.kernels = static_cast<int>(op.grouped.group_m.size());
        bench_grouped_gemm_fp8(env, NamedGrouped{op.name, op.grouped}, doc);
      } else {
        CudaPlan one;
        one.settings = plan.settings;
        one.grouped.push_back(NamedGrouped{op.name, op.grouped});
        bench_grouped_gemm(env, one, doc);
      }
    } else if (op.kind == "attention") {
      const std::string stands_for =
          info.attention_kernel.empty() ? std::string("the fused kernel") : info.attention_kernel;
      if (info.backward) {
        add_note("clustercost naive backward kernels (FlashAttention-2 algorithm, CUDA cores) stand in for " + stands_for);
        info.kernels = 3;
        bench_attention_backward(env, NamedAttention{op.name, op.attention}, doc);
      } else {
        add_note("clustercost fused bf16 kernel (FlashAttention-2 style) stands in for " + stands_for);
        CudaPlan one;
        one.settings = plan.settings;
        one.attention.push_back(NamedAttention{op.name, op.attention});
        bench_attention(env, one, doc);
      }
    } else {
      bench_scenario_memory_op(env, op, info, doc);
      return;  // labelled there (its kernel count and note)
    }
    for (std::size_t i = first; i < doc.records.size(); ++i) {
      doc.records[i].name = op.name;
      doc.records[i].op = info;
    }
  }
}

}  // namespace cuda

std::string cuda_build_description() {
  std::string s =
      "nvcc " + std::to_string(__CUDACC_VER_MAJOR__) + "." + std::to_string(__CUDACC_VER_MINOR__);
#if defined(__CUDA_ARCH_LIST__)
  s += ", architectures " CC_PROBE_STR(__CUDA_ARCH_LIST__);
#endif
  s += ", cuBLAS " + std::to_string(CUBLAS_VER_MAJOR) + "." + std::to_string(CUBLAS_VER_MINOR) +
       "." + std::to_string(CUBLAS_VER_PATCH);
  s += ", " + cuda::nccl_description();
  return s;
}

int cuda_run_plan(const CudaPlan& plan, MeasurementDoc& doc, std::ostream& log) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    log << "no CUDA device: " << cudaGetErrorString(e) << '\n';
    return 2;
  }
  if (count == 0) {
    log << "no CUDA device: cudaGetDeviceCount found none\n";
    return 2;
  }
  CC_CHECK(cudaSetDevice(0));
  cuda::Env env(plan.settings, log);
  cudaDeviceProp prop{};
  CC_CHECK(cudaGetDeviceProperties(&prop, 0));
  int clock_khz = 0, l2 = 0, smem_optin = 0, driver = 0, runtime = 0;
  CC_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0));
  CC_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
  CC_CHECK(cudaDeviceGetAttribute(&smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
  CC_CHECK(cudaDriverGetVersion(&driver));
  CC_CHECK(cudaRuntimeGetVersion(&runtime));
  env.device_count = count;
  env.sms = prop.multiProcessorCount;
  env.cc_major = prop.major;
  env.cc_minor = prop.minor;
  env.l2_bytes = l2;
  env.smem_optin_bytes = static_cast<std::size_t>(smem_optin);
  env.workspace = cuda::DeviceBuffer(std::size_t{32} << 20);
  CC_CHECK(cublasSetStream(env.blas.get(), env.stream.get()));

  DeviceInfo& d = doc.device;
  d.kind = "cuda";
  d.name = prop.name;
  d.compute_units = prop.multiProcessorCount;
  if (clock_khz > 0) d.clock_mhz = clock_khz / 1000.0;
  d.memory_gib = static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
  d.driver = "CUDA driver " + cuda::version_string(driver);
  d.runtime = "CUDA runtime " + cuda::version_string(runtime);
  d.compiler = "nvcc " + std::to_string(__CUDACC_VER_MAJOR__) + "." +
               std::to_string(__CUDACC_VER_MINOR__) + " (host " + cuda::host_compiler() + ")";
  const std::size_t lt = cublasLtGetVersion();
  d.gemm_backend = "cuBLASLt " + std::to_string(lt / 10000) + "." +
                   std::to_string((lt / 100) % 100) + "." + std::to_string(lt % 100);
  d.compute_capability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  d.cache_bytes = l2;
  d.device_count = count;
  log << "cuda probe: " << d.name << " (sm_" << prop.major << prop.minor << ", " << d.compute_units
      << " SMs, " << count << " device(s)), " << d.driver << ", " << d.runtime << ", "
      << d.gemm_backend << (plan.settings.quick ? ", quick" : "") << '\n';
  log << "cuda probe build: " << cuda_build_description() << '\n';

  // A failing section (a CUDA or library error) is recorded and the others still run, so one
  // unsupported call does not cost the whole measurement file; the run then exits 1. After a
  // sticky error (a kernel fault) the later sections fail fast in the same way.
  const auto section = [&](const char* name, auto&& run) {
    try {
      run(env, plan, doc);
    } catch (const std::exception& ex) {
      log << "error in " << name << ": " << ex.what() << '\n';
      doc.errors.push_back(std::string(name) + ": " + ex.what());
    }
    // Sections may switch devices; the next one starts on device 0 again.
    if (const cudaError_t se = cudaSetDevice(0); se != cudaSuccess) {
      doc.errors.push_back(std::string("cudaSetDevice(0) after ") + name + ": " +
                           cudaGetErrorString(se));
    }
  };
  section("launch", cuda::bench_launch);
  if (!plan.scenario_ops.empty()) {
    section("scenario ops", cuda::bench_scenario_ops);
    const cudaError_t last = cudaDeviceSynchronize();
    if (last != cudaSuccess)
      doc.errors.push_back(std::string("final synchronise: ") + cudaGetErrorString(last));
    return 0;
  }
  section("memory", cuda::bench_memory);
  section("gemm", cuda::bench_gemm);
  section("grouped_gemm", cuda::bench_grouped_gemm);
  section("attention", cuda::bench_attention);
  if (count >= 2) {
    section("p2p", cuda::bench_peer_copy);
    section("collectives", cuda::bench_collectives);
  } else {
    doc.skipped.push_back("p2p, allreduce, alltoall: one visible device");
  }
  const cudaError_t last = cudaDeviceSynchronize();
  if (last != cudaSuccess)
    doc.errors.push_back(std::string("final synchronise: ") + cudaGetErrorString(last));
  return 0;
}

}  // namespace clustercost::probe

namespace {

const char* plugin_build_description() noexcept {
  try {
    static const std::string description = clustercost::probe::cuda_build_description();
    return description.c_str();
  } catch (...) {
    return "nvcc (build description unavailable)";
  }
}

// No exception leaves the plugin: the caller gets run_probe's own answer to one (a message and
// exit code 1, nothing written).
int plugin_run_plan(const clustercost::probe::CudaPlan& plan, clustercost::probe::MeasurementDoc& doc,
                    std::ostream& log) noexcept {
  try {
    return clustercost::probe::cuda_run_plan(plan, doc, log);
  } catch (const std::bad_alloc&) {
    log << "probe failed: out of memory\n";
  } catch (const std::exception& e) {
    log << "probe failed: " << e.what() << '\n';
  } catch (...) {
    log << "probe failed: unknown error in the CUDA part\n";
  }
  return 1;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const clustercost::probe::CudaPluginApi*
clustercost_probe_cuda_plugin() {
  static const clustercost::probe::CudaPluginApi api{
      clustercost::probe::kCudaPluginAbi, sizeof(clustercost::probe::CudaPlan),
      sizeof(clustercost::probe::MeasurementDoc), &plugin_build_description, &plugin_run_plan};
  return &api;
}
