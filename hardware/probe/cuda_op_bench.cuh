#pragma once
// The frame every memory-bound op kernel of `probe --scenario` runs in on the GPU (included by
// .cu files only): a MemCase holds the op's input sets (rotated past L2, rotation.hpp), the launch
// of one call on a set, and a check of sampled rows of a set against a host reference computed
// in double from the exact stored inputs copied back (bf16/e4m3 decoded, numeric_formats.hpp).
// run_mem_case times it as every CUDA section does (time_on_stream: warm-up, then events around
// each call, median in the record) and writes the record.

#include <cuda_bf16.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hardware/probe/checks.hpp"
#include "hardware/probe/cuda_common.cuh"
#include "hardware/probe/mem_kernel.hpp"
#include "hardware/probe/numeric_formats.hpp"

namespace clustercost::probe::cuda {

using bf16 = __nv_bfloat16;

/// Shape of a row-wise memory op: `rows` rows of `width` values (a token's hidden vector, a
/// vocabulary shard, ...), `top_k` copies per token for routing, `tag` seeds the data.
struct MemDims {
  std::int64_t rows = 1, width = 1;
  int top_k = 1;
  int sets = 1;
  std::string tag;
};

/// Device buffers of every input set: bufs[set][slot].
using SetBuffers = std::shared_ptr<std::vector<std::vector<DeviceBuffer>>>;

inline SetBuffers make_sets(int sets) {
  return std::make_shared<std::vector<std::vector<DeviceBuffer>>>(static_cast<std::size_t>(sets));
}

struct MemCase {
  std::string impl;            ///< what ran, for the record
  std::string dtype = "bf16";  ///< storage of the op's tensors
  std::int64_t bytes = 0;      ///< HBM bytes one call reads and writes
  int kernels = 1;             ///< launches per call
  int sets = 1;
  std::function<void(int set)> launch;
  std::function<void(int set, ErrorAccumulator& err)> check;
};

/// Times `c` and appends its record (kind memory, the op's name; the caller sets record.op).
void run_mem_case(Env& env, const std::string& name, MemCase& c, MeasurementDoc& doc);

// Host reads of device data for the checks.
std::vector<double> host_bf16(const void* base, std::int64_t offset, std::int64_t count);
std::vector<double> host_f32(const void* base, std::int64_t offset, std::int64_t count);
std::vector<std::int32_t> host_i32(const void* base, std::int64_t offset, std::int64_t count);

/// A new buffer of n random bf16 (or fp32, or uninitialised bytes) in `set`; its device address.
inline bf16* add_bf16(Env& env, std::vector<DeviceBuffer>& set, std::int64_t n, std::uint64_t seed) {
  set.emplace_back(static_cast<std::size_t>(n) * 2);
  fill_bf16(env, set.back().as<bf16>(), n, seed);
  return set.back().as<bf16>();
}
inline float* add_f32(Env& env, std::vector<DeviceBuffer>& set, std::int64_t n, std::uint64_t seed) {
  set.emplace_back(static_cast<std::size_t>(n) * 4);
  fill_f32(env, set.back().as<float>(), n, seed);
  return set.back().as<float>();
}
inline void* add_bytes(Env& env, std::vector<DeviceBuffer>& set, std::int64_t bytes) {
  set.emplace_back(static_cast<std::size_t>(bytes));
  CC_CHECK(cudaMemsetAsync(set.back().as(), 0xFF, static_cast<std::size_t>(bytes), env.stream.get()));
  return set.back().as();
}
/// The rows a check samples (first, last and 4 drawn ones).
inline std::vector<std::int64_t> check_rows(const MemDims& d, int s) {
  return sample_indices(d.rows, 6, seed_for(d.tag, s, 40));
}

/// Threads per block of the row kernels.
inline constexpr int kRowThreads = 256;

/// Grid for a grid-stride loop over n items (8 blocks of 256 per SM at most).
inline int grid_for(const Env& env, std::int64_t n) { return env.fill_blocks(n); }

// ------------------------------------------------------------------ device helpers

__device__ __forceinline__ float warp_sum_f(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max_f(float v) {
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
/// Sum (or max) over the block; every thread gets the result. `sh` holds 32 floats.
__device__ __forceinline__ float block_reduce(float v, float* sh, bool max_op) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
  v = max_op ? warp_max_f(v) : warp_sum_f(v);
  __syncthreads();  // sh may still be read by a previous reduction
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  v = lane < warps ? sh[lane] : (max_op ? -INFINITY : 0.0f);
  v = max_op ? warp_max_f(v) : warp_sum_f(v);
  return v;
}
__device__ __forceinline__ float ld(const bf16* p, std::int64_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void st(bf16* p, std::int64_t i, float v) { p[i] = __float2bfloat16_rn(v); }

// ------------------------------------------------------------------ the op families
// Each returns a ready case (inputs allocated and filled, outputs filled with random values so a
// skipped entry fails its check). `backward` selects the op's backward kernel where it has one.

MemCase make_rmsnorm(Env& env, const MemDims& d, bool backward);   // cuda_norm_act_ops.cu
MemCase make_rope(Env& env, const MemDims& d, bool backward);
MemCase make_swiglu(Env& env, const MemDims& d, bool backward);
MemCase make_elementwise(Env& env, const MemDims& d, MemKernel k);  // add, dropout, copy, score
MemCase make_softmax(Env& env, const MemDims& d);
MemCase make_fp8_cast(Env& env, const MemDims& d, bool tilewise);  // cuda_fp8_cast_ops.cu
MemCase make_gather(Env& env, const MemDims& d, bool embedding);   // cuda_routing_ops.cu
MemCase make_unpermute(Env& env, const MemDims& d);
MemCase make_topk(Env& env, const MemDims& d);
MemCase make_cross_entropy(Env& env, const MemDims& d, bool backward);  // cuda_loss_adam_ops.cu
MemCase make_adam(Env& env, const MemDims& d);

/// HBM bytes of one row of width w of kernel k (cuda_scenario_memory.cu): sizes rows from the
/// op's bytes.
std::int64_t cuda_row_bytes(MemKernel k, bool backward, std::int64_t w, int top_k);

}  // namespace clustercost::probe::cuda
