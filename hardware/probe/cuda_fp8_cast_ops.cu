// FP8 (e4m3) quantisation kernels, launched only where fp8_support() says the GPU converts in
// hardware (sm_89+; cuda_scenario_memory.cu writes the skip line elsewhere):
//  - 1×128 tile-wise (DeepSeek-V3, arXiv:2412.19437 §3.3.2): one warp per tile of 128 channels of
//    a token: amax by warp shuffles, scale = 448 / amax, e4m3 values and one fp32 inverse scale
//    per tile written;
//  - per-tensor cast-transpose with delayed scaling (Transformer Engine's recipe): the scale
//    comes from the amax history (here: the tensor's amax measured once before timing), each
//    32×32 tile is cast and written both row-major and transposed (for the wgrad GEMM) through
//    shared memory, and the tensor's new amax is folded in with atomicMax.
// Checks: sampled rows against the host's e4m3 rounding (float_to_e4m3_bits, itself tested
// against a brute-force nearest code in tests/probe) of x·scale, decoded and divided by the scale.

#include <cuda_fp8.h>

#include <cmath>

#include "hardware/probe/cpu_op_kernels.hpp"
#include "hardware/probe/cuda_op_bench.cuh"

namespace clustercost::probe::cuda {

namespace {

constexpr float kE4m3Max = 448.0f;

__device__ __forceinline__ std::uint8_t to_e4m3(float v) {
  return static_cast<std::uint8_t>(__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3));
}

// One warp per 1×128 tile; 8 warps per block.
__global__ void cast_tilewise(const bf16* __restrict__ x, std::uint8_t* __restrict__ q,
                              float* __restrict__ inv_scale, std::int64_t rows, std::int64_t w) {
  const std::int64_t tiles = (w + 127) / 128;
  const std::int64_t tile = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (tile >= rows * tiles) return;
  const std::int64_t r = tile / tiles, c0 = (tile % tiles) * 128;
  float v[4];
  float amax = 0;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const std::int64_t c = c0 + lane + 32 * j;
    v[j] = c < w ? ld(x, r * w + c) : 0.0f;
    amax = fmaxf(amax, fabsf(v[j]));
  }
  amax = warp_max_f(amax);
  const float sc = amax > 0 ? kE4m3Max / amax : 1.0f;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const std::int64_t c = c0 + lane + 32 * j;
    if (c < w) q[r * w + c] = to_e4m3(v[j] * sc);
  }
  if (lane == 0) inv_scale[tile] = 1.0f / sc;
}

__global__ void amax_kernel(const bf16* __restrict__ x, std::int64_t n, unsigned* __restrict__ amax_bits) {
  float a = 0;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride)
    a = fmaxf(a, fabsf(ld(x, i)));
  a = warp_max_f(a);
  // Non-negative floats order like their bit patterns.
  if (threadIdx.x % 32 == 0) atomicMax(amax_bits, __float_as_uint(a));
}

// 32×32 tiles, block 32×8: cast with the given scale, write q (rows × w) and qt (w × rows).
__global__ void cast_transpose(const bf16* __restrict__ x, const float* __restrict__ scale,
                               std::uint8_t* __restrict__ q, std::uint8_t* __restrict__ qt,
                               unsigned* __restrict__ amax_bits, std::int64_t rows, std::int64_t w) {
  __shared__ std::uint8_t tile[32][33];
  const std::int64_t r0 = static_cast<std::int64_t>(blockIdx.y) * 32, c0 = static_cast<std::int64_t>(blockIdx.x) * 32;
  const float sc = *scale;
  float a = 0;
  for (int k = threadIdx.y; k < 32; k += 8) {
    const std::int64_t r = r0 + k, c = c0 + threadIdx.x;
    if (r < rows && c < w) {
      const float v = ld(x, r * w + c);
      a = fmaxf(a, fabsf(v));
      const std::uint8_t b = to_e4m3(v * sc);
      q[r * w + c] = b;
      tile[k][threadIdx.x] = b;
    }
  }
  __syncthreads();
  for (int k = threadIdx.y; k < 32; k += 8) {
    const std::int64_t c = c0 + k, r = r0 + threadIdx.x;
    if (r < rows && c < w) qt[c * rows + r] = tile[threadIdx.x][k];
  }
  a = warp_max_f(a);
  if (threadIdx.x == 0) atomicMax(amax_bits, __float_as_uint(a));
}

}  // namespace

MemCase make_fp8_cast(Env& env, const MemDims& d, bool tilewise) {
  const std::int64_t n = d.rows * d.width, tiles = (d.width + 127) / 128;
  auto b = make_sets(d.sets);
  std::vector<float> scales(static_cast<std::size_t>(d.sets), 1.0f);
  for (int s = 0; s < d.sets; ++s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    add_bf16(env, set, n, seed_for(d.tag, s, 0));  // x
    add_bytes(env, set, n);                        // q
    if (tilewise) {
      add_f32(env, set, d.rows * tiles, seed_for(d.tag, s, 1));  // inverse scales
      continue;
    }
    add_bytes(env, set, n);  // qt
    set.emplace_back(sizeof(float));     // scale (delayed: from the amax history)
    set.emplace_back(sizeof(unsigned));  // amax of this call
    CC_CHECK(cudaMemsetAsync(set[4].as(), 0, sizeof(unsigned), env.stream.get()));
    amax_kernel<<<grid_for(env, n), 256, 0, env.stream.get()>>>(set[0].as<bf16>(), n, set[4].as<unsigned>());
    CC_CHECK_LAUNCH();
    unsigned bits = 0;
    CC_CHECK(cudaMemcpyAsync(&bits, set[4].as(), sizeof bits, cudaMemcpyDeviceToHost, env.stream.get()));
    CC_CHECK(cudaStreamSynchronize(env.stream.get()));
    float amax;
    std::memcpy(&amax, &bits, sizeof amax);
    scales[static_cast<std::size_t>(s)] = fp8_scale(amax);
    // On the probe's (non-blocking) stream and waited for: a plain cudaMemcpy does not order
    // with that stream.
    CC_CHECK(cudaMemcpyAsync(set[3].as(), &scales[static_cast<std::size_t>(s)], sizeof(float),
                             cudaMemcpyHostToDevice, env.stream.get()));
    CC_CHECK(cudaStreamSynchronize(env.stream.get()));
  }
  MemCase c;
  c.dtype = "bf16";
  c.impl = tilewise ? "fp8 e4m3 quantise, 1x128 tile-wise scales, warp per tile"
                    : "fp8 e4m3 cast-transpose, per-tensor delayed scale, amax update";
  c.bytes = cuda_row_bytes(tilewise ? MemKernel::CastTile : MemKernel::CastTensor, false, d.width, 1) * d.rows;
  c.sets = d.sets;
  c.launch = [b, d, n, tiles, tilewise, &env](int s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    if (tilewise) {
      const std::int64_t threads = d.rows * tiles * 32;
      cast_tilewise<<<static_cast<unsigned>((threads + 255) / 256), 256, 0, env.stream.get()>>>(
          set[0].as<bf16>(), set[1].as<std::uint8_t>(), set[2].as<float>(), d.rows, d.width);
    } else {
      const dim3 grid(static_cast<unsigned>((d.width + 31) / 32), static_cast<unsigned>((d.rows + 31) / 32));
      cast_transpose<<<grid, dim3(32, 8), 0, env.stream.get()>>>(set[0].as<bf16>(), set[3].as<float>(),
          set[1].as<std::uint8_t>(), set[2].as<std::uint8_t>(), set[4].as<unsigned>(), d.rows, d.width);
    }
    CC_CHECK_LAUNCH();
    (void)n;
  };
  c.check = [b, d, tiles, tilewise, scales](int s, ErrorAccumulator& err) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    for (const std::int64_t r : check_rows(d, s)) {
      const auto x = host_bf16(set[0].as(), r * d.width, d.width);
      const auto q = copy_to_host(set[1].as(), r * d.width, d.width, 1);
      const auto inv = tilewise ? host_f32(set[2].as(), r * tiles, tiles) : std::vector<double>();
      for (std::int64_t t = 0; t < tiles; ++t) {
        const std::int64_t c0 = t * 128, c1 = std::min(d.width, c0 + 128);
        float sc = scales[static_cast<std::size_t>(s)];
        if (tilewise) {
          double amax = 0;
          for (std::int64_t cc = c0; cc < c1; ++cc) amax = std::max(amax, std::fabs(x[static_cast<std::size_t>(cc)]));
          sc = fp8_scale(static_cast<float>(amax));
          err.add(inv[static_cast<std::size_t>(t)] * kE4m3Max, kE4m3Max / sc);  // the stored scale
        }
        for (std::int64_t cc = c0; cc < c1; ++cc) {
          const auto u = static_cast<std::size_t>(cc);
          const double ref = e4m3_bits_to_float(float_to_e4m3_bits(static_cast<float>(x[u]) * sc)) / sc;
          err.add(e4m3_bits_to_float(q[u]) / sc, ref);
          if (!tilewise && cc % 29 == 0) {  // every 29th column: one copy per entry
            const auto qt = copy_to_host(set[2].as(), cc * d.rows + r, 1, 1);
            err.add(e4m3_bits_to_float(qt[0]) / sc, ref);
          }
        }
      }
    }
  };
  return c;
}

}  // namespace clustercost::probe::cuda
