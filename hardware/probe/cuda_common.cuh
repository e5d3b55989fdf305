#pragma once
// Shared machinery of the CUDA probe (included by .cu files only): error checks that throw,
// RAII owners for device memory, events and library handles, random fills, event timing, and
// the per-run environment handed to each measurement section.

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hardware/probe/cuda_probe.hpp"
#include "hardware/probe/data_gen.hpp"
#include "hardware/probe/measurement.hpp"

namespace clustercost::probe::cuda {

// ------------------------------------------------------------------ error checks

[[noreturn]] inline void throw_error(const std::string& what, const char* expr, const char* file,
                                     int line) {
  throw std::runtime_error(what + " at " + file + ":" + std::to_string(line) + " in " + expr);
}

inline void check(cudaError_t e, const char* expr, const char* file, int line) {
  if (e != cudaSuccess) {
    throw_error(
        std::string("CUDA error ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")", expr,
        file, line);
  }
}

inline void check(cublasStatus_t s, const char* expr, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS) {
    throw_error(std::string("cuBLAS error ") + cublasGetStatusName(s) + " (" +
                    cublasGetStatusString(s) + ")",
                expr, file, line);
  }
}

}  // namespace clustercost::probe::cuda

/// Every CUDA runtime, cuBLAS and cuBLASLt call goes through this: a failure throws with the
/// error name, the call and its location.
#define CC_CHECK(expr) ::clustercost::probe::cuda::check((expr), #expr, __FILE__, __LINE__)
/// After a kernel launch: launch-configuration errors surface here, asynchronous faults at the
/// next synchronising call (which is checked too).
#define CC_CHECK_LAUNCH() CC_CHECK(cudaGetLastError())

namespace clustercost::probe::cuda {

// ------------------------------------------------------------------ owners

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
    CC_CHECK(cudaMalloc(&ptr_, bytes == 0 ? 1 : bytes));
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);  // errors cannot be thrown from here; a sticky fault shows later
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(o.bytes_) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      if (ptr_) cudaFree(ptr_);
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = o.bytes_;
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  template <class T = void>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  std::size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

class Event {
 public:
  Event() { CC_CHECK(cudaEventCreate(&e_)); }
  ~Event() {
    if (e_) cudaEventDestroy(e_);
  }
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&&) = delete;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

class Stream {
 public:
  Stream() { CC_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (s_) cudaStreamDestroy(s_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

class LtHandle {
 public:
  LtHandle() { CC_CHECK(cublasLtCreate(&h_)); }
  ~LtHandle() {
    if (h_) cublasLtDestroy(h_);
  }
  LtHandle(const LtHandle&) = delete;
  LtHandle& operator=(const LtHandle&) = delete;
  cublasLtHandle_t get() const { return h_; }

 private:
  cublasLtHandle_t h_ = nullptr;
};

class BlasHandle {
 public:
  BlasHandle() { CC_CHECK(cublasCreate(&h_)); }
  ~BlasHandle() {
    if (h_) cublasDestroy(h_);
  }
  BlasHandle(const BlasHandle&) = delete;
  BlasHandle& operator=(const BlasHandle&) = delete;
  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

// ------------------------------------------------------------------ environment

/// What every section needs: the device, its stream and library handles, run settings, the log.
struct Env {
  int device = 0;
  int device_count = 1;
  int sms = 1;
  int cc_major = 0, cc_minor = 0;
  std::int64_t l2_bytes = 0;
  std::size_t smem_optin_bytes = 0;
  const RunSettings& settings;
  std::ostream& log;
  Stream stream;
  LtHandle lt;
  BlasHandle blas;
  DeviceBuffer workspace;  ///< cuBLASLt workspace (32 MiB: NVIDIA's recommendation for Hopper)

  Env(const RunSettings& s, std::ostream& l) : settings(s), log(l) {}
  int calls() const { return settings.warmup + settings.repetitions; }
  /// Grid size for grid-stride kernels: enough blocks of 256 threads to fill every SM.
  int fill_blocks(std::int64_t n) const {
    const std::int64_t want = (n + 255) / 256;
    const std::int64_t cap = static_cast<std::int64_t>(sms) * 8;
    return static_cast<int>(want < 1 ? 1 : (want < cap ? want : cap));
  }
};

// ------------------------------------------------------------------ random fills (cuda_probe.cu)

void fill_bf16(Env& env, __nv_bfloat16* p, std::int64_t n, std::uint64_t seed);
void fill_e4m3(Env& env, __nv_fp8_storage_t* p, std::int64_t n, std::uint64_t seed);
void fill_f32(Env& env, float* p, std::int64_t n, std::uint64_t seed);

// ------------------------------------------------------------------ timing and records

/// Runs `launch(i)` for the warm-up calls, then times each of the `repetitions` calls between
/// a pair of events. All calls are queued without host synchronisation, so the GPU runs them
/// back to back and host launch latency does not enter the samples of calls longer than it.
template <class F>
std::vector<Seconds> time_on_stream(Env& env, F&& launch) {
  const int warmup = env.settings.warmup, reps = env.settings.repetitions;
  for (int i = 0; i < warmup; ++i) launch(i);
  std::vector<Event> starts, stops;
  starts.reserve(static_cast<std::size_t>(reps));
  stops.reserve(static_cast<std::size_t>(reps));
  for (int r = 0; r < reps; ++r) {
    starts.emplace_back();
    stops.emplace_back();
  }
  for (int r = 0; r < reps; ++r) {
    CC_CHECK(cudaEventRecord(starts[static_cast<std::size_t>(r)].get(), env.stream.get()));
    launch(warmup + r);
    CC_CHECK(cudaEventRecord(stops[static_cast<std::size_t>(r)].get(), env.stream.get()));
  }
  CC_CHECK(cudaStreamSynchronize(env.stream.get()));
  std::vector<Seconds> samples;
  for (int r = 0; r < reps; ++r) {
    float ms = 0.0f;
    CC_CHECK(cudaEventElapsedTime(&ms, starts[static_cast<std::size_t>(r)].get(),
                                  stops[static_cast<std::size_t>(r)].get()));
    samples.push_back(Seconds(static_cast<double>(ms) * 1e-3));
  }
  return samples;
}


/// Copies `count` elements of `bytes_per_elem` from device address `src` (offset in elements).
std::vector<unsigned char> copy_to_host(const void* src, std::int64_t offset, std::int64_t count,
                                        std::size_t bytes_per_elem);

// ------------------------------------------------------------------ sections

void bench_gemm(Env& env, const CudaPlan& plan, MeasurementDoc& doc);
/// One cuBLASLt GEMM of `g` in bf16 or fp8 e4m3 (cuda_gemm.cu), appended to doc.records.
void bench_gemm_shape(Env& env, const NamedGemm& g, bool fp8, MeasurementDoc& doc);
/// `probe --scenario`: the plan's scenario ops (cuda_probe.cu).
void bench_scenario_ops(Env& env, const CudaPlan& plan, MeasurementDoc& doc);
void bench_grouped_gemm(Env& env, const CudaPlan& plan, MeasurementDoc& doc);
/// One grouped GEMM as a loop of cuBLASLt FP8 GEMMs, one per group (cuda_gemm.cu; sm_89+).
void bench_grouped_gemm_fp8(Env& env, const NamedGrouped& g, MeasurementDoc& doc);
/// Causal attention backward with our own kernels (cuda_attention_backward.cu).
void bench_attention_backward(Env& env, const NamedAttention& a, MeasurementDoc& doc);
/// One memory-bound op of a scenario with its own kernel (cuda_scenario_memory.cu).
void bench_scenario_memory_op(Env& env, const ScenarioOp& op, const ScenarioOpInfo& info,
                              MeasurementDoc& doc);
void bench_attention(Env& env, const CudaPlan& plan, MeasurementDoc& doc);
void bench_memory(Env& env, const CudaPlan& plan, MeasurementDoc& doc);
void bench_launch(Env& env, const CudaPlan& plan, MeasurementDoc& doc);
void bench_peer_copy(Env& env, const CudaPlan& plan, MeasurementDoc& doc);
void bench_collectives(Env& env, const CudaPlan& plan, MeasurementDoc& doc);
/// "NCCL 2.28.9" or "no NCCL" (cuda_collectives.cu).
std::string nccl_description();

}  // namespace clustercost::probe::cuda
