// Causal attention forward: a fused, FlashAttention-2-style tiled kernel of our own (online
// softmax, Dao 2023, arXiv:2307.08691, Algorithm 1), bf16 inputs and output, fp32 softmax and
// accumulation, tensor cores through WMMA (sm_80+). It is deliberately simple (no cp.async
// pipelining, no warp specialisation), so it is a lower bound of what tuned kernels reach
// (FlashAttention-3 reports 740 TFLOP/s forward on H100, published-runs.md D3).
//
// Block: 64 query rows, 4 warps of 16 rows each; the block walks key/value tiles of 64 rows up
// to the diagonal (causal tiles above it are skipped, which is where the halved FLOP count
// comes from). Per tile each warp computes S = Q·Kᵀ (16×64) with WMMA into shared memory, does
// the online-softmax update on its rows with warp shuffles, writes P in bf16, computes P·V
// (16×128) with WMMA and rescales its output rows held in registers.
//
// Check: the kernel is compared in full against a naive one-thread-per-row GPU reference on a
// small case, and every timed case on sampled rows against a long-double host recomputation from
// the stored bf16 inputs (checks.hpp).

#include <mma.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "hardware/probe/checks.hpp"
#include "hardware/probe/cuda_common.cuh"
#include "hardware/probe/numeric_formats.hpp"
#include "hardware/probe/rotation.hpp"

namespace clustercost::probe::cuda {

namespace {

using bf16 = __nv_bfloat16;

constexpr int kHeadDim = 128;
constexpr int kBlockRows = 64;  // query rows per block
constexpr int kTileKeys = 64;   // keys per tile
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
// Row pitches: +8 bf16 / +4 floats keep every 16-row fragment 32-byte aligned (a WMMA
// requirement) while shifting rows across shared-memory banks.
constexpr int kKvPitch = kHeadDim + 8;
constexpr int kPPitch = kTileKeys + 8;
constexpr int kScratchPitch = kHeadDim + 4;  // holds S (64 wide), then P·V (128 wide)
constexpr std::size_t kSmemBytes = 2 * kTileKeys * kKvPitch * sizeof(bf16) +
                                   kBlockRows * kPPitch * sizeof(bf16) +
                                   kWarps * 16 * kScratchPitch * sizeof(float);

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// 64 rows × 128 bf16 from global (dense rows) to shared (padded rows), 16 bytes per access.
__device__ __forceinline__ void load_tile(bf16* dst, const bf16* src) {
  constexpr int kVecPerRow = kHeadDim / 8;
  for (int idx = threadIdx.x; idx < kTileKeys * kVecPerRow; idx += kThreads) {
    const int r = idx / kVecPerRow, c = idx % kVecPerRow;
    *reinterpret_cast<uint4*>(dst + r * kKvPitch + c * 8) =
        *reinterpret_cast<const uint4*>(src + static_cast<std::size_t>(r) * kHeadDim + c * 8);
  }
}

__global__ void __launch_bounds__(kThreads)
    flash_attention_causal(const bf16* __restrict__ q, const bf16* __restrict__ k,
                           const bf16* __restrict__ v, bf16* __restrict__ o, int seq,
                           float scale_log2e) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using namespace nvcuda;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* ks = reinterpret_cast<bf16*>(smem);
  bf16* vs = ks + kTileKeys * kKvPitch;
  bf16* ps = vs + kTileKeys * kKvPitch;
  float* scratch = reinterpret_cast<float*>(ps + kBlockRows * kPPitch);

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int q_tile = gridDim.x - 1 - blockIdx.x;  // most work first: better tail balance
  const std::size_t head = static_cast<std::size_t>(blockIdx.z) * gridDim.y + blockIdx.y;
  const std::size_t head_offset = head * static_cast<std::size_t>(seq) * kHeadDim;
  q += head_offset;
  k += head_offset;
  v += head_offset;
  o += head_offset;
  const int q0 = q_tile * kBlockRows;

  // Q goes through the K buffer into registers (fragments) once.
  load_tile(ks, q + static_cast<std::size_t>(q0) * kHeadDim);
  __syncthreads();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> qf[kHeadDim / 16];
#pragma unroll
  for (int kk = 0; kk < kHeadDim / 16; ++kk) {
    wmma::load_matrix_sync(qf[kk], ks + warp * 16 * kKvPitch + kk * 16, kKvPitch);
  }
  __syncthreads();

  float acc[16][kHeadDim / 32];
  float row_max[16], row_sum[16], rescale[16];
#pragma unroll
  for (int r = 0; r < 16; ++r) {
    row_max[r] = -INFINITY;
    row_sum[r] = 0.0f;
#pragma unroll
    for (int c = 0; c < kHeadDim / 32; ++c) acc[r][c] = 0.0f;
  }
  float* sw = scratch + warp * 16 * kScratchPitch;
  bf16* pw = ps + warp * 16 * kPPitch;

  for (int t = 0; t <= q_tile; ++t) {
    load_tile(ks, k + static_cast<std::size_t>(t) * kTileKeys * kHeadDim);
    load_tile(vs, v + static_cast<std::size_t>(t) * kTileKeys * kHeadDim);
    __syncthreads();

    // S = Q·Kᵀ for this warp's 16 rows: Kᵀ is K read column-major.
#pragma unroll
    for (int j = 0; j < kTileKeys / 16; ++j) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf;
      wmma::fill_fragment(sf, 0.0f);
#pragma unroll
      for (int kk = 0; kk < kHeadDim / 16; ++kk) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> kf;
        wmma::load_matrix_sync(kf, ks + j * 16 * kKvPitch + kk * 16, kKvPitch);
        wmma::mma_sync(sf, qf[kk], kf, sf);
      }
      wmma::store_matrix_sync(sw + j * 16, sf, kScratchPitch, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax in base 2; each lane owns keys lane and lane + 32 of the tile. Every row
    // sees at least one unmasked key per tile (key t·64 <= q0 <= row), so maxima stay finite.
#pragma unroll
    for (int r = 0; r < 16; ++r) {
      const int row = q0 + warp * 16 + r;
      const int key = t * kTileKeys + lane;
      float s0 = sw[r * kScratchPitch + lane] * scale_log2e;
      float s1 = sw[r * kScratchPitch + lane + 32] * scale_log2e;
      if (key > row) s0 = -INFINITY;
      if (key + 32 > row) s1 = -INFINITY;
      const float m_new = fmaxf(row_max[r], warp_max(fmaxf(s0, s1)));
      const float p0 = exp2f(s0 - m_new), p1 = exp2f(s1 - m_new);
      rescale[r] = exp2f(row_max[r] - m_new);  // 0 on the first tile (max was -inf)
      row_sum[r] = row_sum[r] * rescale[r] + warp_sum(p0 + p1);
      row_max[r] = m_new;
      pw[r * kPPitch + lane] = __float2bfloat16_rn(p0);
      pw[r * kPPitch + lane + 32] = __float2bfloat16_rn(p1);
    }
    __syncwarp();

    // P·V for this warp's rows, column block by column block, through the scratch rows.
    wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> pf[kTileKeys / 16];
#pragma unroll
    for (int kk = 0; kk < kTileKeys / 16; ++kk) {
      wmma::load_matrix_sync(pf[kk], pw + kk * 16, kPPitch);
    }
#pragma unroll
    for (int c = 0; c < kHeadDim / 16; ++c) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> of;
      wmma::fill_fragment(of, 0.0f);
#pragma unroll
      for (int kk = 0; kk < kTileKeys / 16; ++kk) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> vf;
        wmma::load_matrix_sync(vf, vs + kk * 16 * kKvPitch + c * 16, kKvPitch);
        wmma::mma_sync(of, pf[kk], vf, of);
      }
      wmma::store_matrix_sync(sw + c * 16, of, kScratchPitch, wmma::mem_row_major);
    }
    __syncwarp();
#pragma unroll
    for (int r = 0; r < 16; ++r) {
#pragma unroll
      for (int c = 0; c < kHeadDim / 32; ++c) {
        acc[r][c] = acc[r][c] * rescale[r] + sw[r * kScratchPitch + lane + 32 * c];
      }
    }
    __syncthreads();  // K/V tiles and scratch rows are reused by the next tile
  }

#pragma unroll
  for (int r = 0; r < 16; ++r) {
    const float inv = 1.0f / row_sum[r];
    const std::size_t row = static_cast<std::size_t>(q0 + warp * 16 + r);
#pragma unroll
    for (int c = 0; c < kHeadDim / 32; ++c) {
      o[row * kHeadDim + lane + 32 * c] = __float2bfloat16_rn(acc[r][c] * inv);
    }
  }
#else
  __trap();  // built only for sm_80 and newer (see CMakeLists.txt)
#endif
}

// Naive reference: one thread per (head, query row), two passes, fp32, output fp32.
__global__ void attention_reference(const bf16* __restrict__ q, const bf16* __restrict__ k,
                                    const bf16* __restrict__ v, float* __restrict__ o, int seq,
                                    std::int64_t rows, float scale) {
  const std::int64_t row = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (row >= rows) return;
  const std::int64_t head = row / seq;
  const int i = static_cast<int>(row % seq);
  const bf16* qr = q + row * kHeadDim;
  const bf16* kh = k + head * seq * kHeadDim;
  const bf16* vh = v + head * seq * kHeadDim;
  const auto score = [&](int j) {
    float s = 0.0f;
    for (int d = 0; d < kHeadDim; ++d) {
      s += __bfloat162float(qr[d]) *
           __bfloat162float(kh[static_cast<std::int64_t>(j) * kHeadDim + d]);
    }
    return s * scale;
  };
  float mx = -INFINITY;
  for (int j = 0; j <= i; ++j) mx = fmaxf(mx, score(j));
  float out[kHeadDim];
  for (int d = 0; d < kHeadDim; ++d) out[d] = 0.0f;
  float sum = 0.0f;
  for (int j = 0; j <= i; ++j) {
    const float p = expf(score(j) - mx);
    sum += p;
    for (int d = 0; d < kHeadDim; ++d) {
      out[d] += p * __bfloat162float(vh[static_cast<std::int64_t>(j) * kHeadDim + d]);
    }
  }
  for (int d = 0; d < kHeadDim; ++d) o[row * kHeadDim + d] = out[d] / sum;
}

void launch_fused(Env& env, const AttentionShape& s, const bf16* q, const bf16* k, const bf16* v,
                  bf16* o) {
  const dim3 grid(static_cast<unsigned>(s.seq / kBlockRows), static_cast<unsigned>(s.heads),
                  static_cast<unsigned>(s.batch));
  const float scale_log2e =
      static_cast<float>(1.0 / std::sqrt(static_cast<double>(kHeadDim)) * 1.4426950408889634);
  flash_attention_causal<<<grid, kThreads, kSmemBytes, env.stream.get()>>>(
      q, k, v, o, static_cast<int>(s.seq), scale_log2e);
  CC_CHECK_LAUNCH();
}

struct HeadBuffers {
  DeviceBuffer q, k, v, o;
};

HeadBuffers make_buffers(Env& env, const AttentionShape& s, const std::string& tag, int set) {
  const std::int64_t elems = s.batch * s.heads * s.seq * s.head_dim;
  const auto bytes = static_cast<std::size_t>(elems) * sizeof(bf16);
  HeadBuffers b{DeviceBuffer(bytes), DeviceBuffer(bytes), DeviceBuffer(bytes), DeviceBuffer(bytes)};
  fill_bf16(env, b.q.as<bf16>(), elems, seed_for(tag, set, 0));
  fill_bf16(env, b.k.as<bf16>(), elems, seed_for(tag, set, 1));
  fill_bf16(env, b.v.as<bf16>(), elems, seed_for(tag, set, 2));
  fill_bf16(env, b.o.as<bf16>(), elems, seed_for(tag, set, 3));
  return b;
}

std::vector<double> to_doubles(const std::vector<unsigned char>& raw) {
  std::vector<double> r(raw.size() / 2);
  for (std::size_t i = 0; i < r.size(); ++i) {
    r[i] = bf16_bits_to_float(static_cast<std::uint16_t>(raw[2 * i] | (raw[2 * i + 1] << 8)));
  }
  return r;
}

// Sampled rows of the fused output against a long-double host recomputation.
ErrorAccumulator check_sampled(const AttentionShape& s, const HeadBuffers& b, std::uint64_t seed) {
  ErrorAccumulator err;
  const double scale = 1.0 / std::sqrt(static_cast<double>(kHeadDim));
  std::vector<long double> ref;
  for (const std::int64_t head : sample_indices(s.batch * s.heads, 2, seed)) {
    const std::int64_t base = head * s.seq;  // in rows
    const auto kk = to_doubles(copy_to_host(b.k.as(), base * kHeadDim, s.seq * kHeadDim, 2));
    const auto vv = to_doubles(copy_to_host(b.v.as(), base * kHeadDim, s.seq * kHeadDim, 2));
    const std::uint64_t row_seed = seed + 1 + static_cast<std::uint64_t>(head);
    for (const std::int64_t i : sample_indices(s.seq, 4, row_seed)) {
      const auto qrow = to_doubles(copy_to_host(b.q.as(), (base + i) * kHeadDim, kHeadDim, 2));
      const auto orow = to_doubles(copy_to_host(b.o.as(), (base + i) * kHeadDim, kHeadDim, 2));
      const auto at = [](const std::vector<double>& m, std::int64_t r, std::int64_t d) {
        return m[static_cast<std::size_t>(r * kHeadDim + d)];
      };
      reference_attention_row([&](std::int64_t, std::int64_t d) { return at(qrow, 0, d); },
                              [&](std::int64_t j, std::int64_t d) { return at(kk, j, d); },
                              [&](std::int64_t j, std::int64_t d) { return at(vv, j, d); }, i,
                              kHeadDim, scale, ref);
      for (int d = 0; d < kHeadDim; ++d) {
        err.add(orow[static_cast<std::size_t>(d)],
                static_cast<double>(ref[static_cast<std::size_t>(d)]));
      }
    }
  }
  return err;
}

// The whole output of a small case against the naive GPU kernel.
double small_case_error(Env& env) {
  const AttentionShape s{256, 2, kHeadDim, 1, true};
  const HeadBuffers b = make_buffers(env, s, "attention-small-case", 0);
  const std::int64_t rows = s.batch * s.heads * s.seq;
  DeviceBuffer ref(static_cast<std::size_t>(rows * kHeadDim) * sizeof(float));
  launch_fused(env, s, b.q.as<bf16>(), b.k.as<bf16>(), b.v.as<bf16>(), b.o.as<bf16>());
  attention_reference<<<static_cast<unsigned>((rows + 127) / 128), 128, 0, env.stream.get()>>>(
      b.q.as<bf16>(), b.k.as<bf16>(), b.v.as<bf16>(), ref.as<float>(), static_cast<int>(s.seq),
      rows, static_cast<float>(1.0 / std::sqrt(static_cast<double>(kHeadDim))));
  CC_CHECK_LAUNCH();
  CC_CHECK(cudaStreamSynchronize(env.stream.get()));
  const auto got = to_doubles(copy_to_host(b.o.as(), 0, rows * kHeadDim, 2));
  std::vector<float> want(static_cast<std::size_t>(rows * kHeadDim));
  CC_CHECK(cudaMemcpy(want.data(), ref.as(), want.size() * sizeof(float), cudaMemcpyDeviceToHost));
  ErrorAccumulator err;
  for (std::size_t i = 0; i < want.size(); ++i) err.add(got[i], want[i]);
  return err.rel_error();
}

}  // namespace

void bench_attention(Env& env, const CudaPlan& plan, MeasurementDoc& doc) {
  if (env.smem_optin_bytes < kSmemBytes) {
    doc.skipped.push_back("attention: needs " + std::to_string(kSmemBytes) +
                          " bytes of shared memory per block");
    return;
  }
  CC_CHECK(cudaFuncSetAttribute(flash_attention_causal, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                static_cast<int>(kSmemBytes)));
  const double small_error = small_case_error(env);
  env.log << "attention: fused kernel vs naive GPU reference (seq 256): error " << small_error
          << '\n';
  for (const NamedAttention& a : plan.attention) {
    const AttentionShape& s = a.shape;
    if (s.head_dim != kHeadDim || s.seq % kBlockRows != 0 || !s.causal) {
      doc.skipped.push_back("attention " + a.name + ": the fused kernel needs head_dim 128, " +
                            "causal, seq a multiple of 64");
      continue;
    }
    const std::string tag = a.name + "/bf16";
    const std::int64_t set_bytes = 4 * s.batch * s.heads * s.seq * s.head_dim * 2;
    const int sets = rotation_sets(set_bytes, env.l2_bytes, env.settings.quick);
    std::vector<HeadBuffers> bufs;
    for (int i = 0; i < sets; ++i) bufs.push_back(make_buffers(env, s, tag, i));
    Measurement r;
    r.kind = "attention";
    r.name = a.name;
    r.dtype = "bf16";
    r.impl = "fused_wmma (clustercost, FlashAttention-2 style)";
    r.shape = s;
    r.flops = FlopCount(attention_flops(s));
    r.bytes = Bytes(static_cast<double>(set_bytes));  // read q, k, v once; write o
    r.samples = time_on_stream(env, [&](int i) {
      const HeadBuffers& b = bufs[static_cast<std::size_t>(i % sets)];
      launch_fused(env, s, b.q.as<bf16>(), b.k.as<bf16>(), b.v.as<bf16>(), b.o.as<bf16>());
    });
    ErrorAccumulator err;
    for (int i = 0; i < std::min(sets, env.calls()); ++i) {
      err.merge(check_sampled(s, bufs[static_cast<std::size_t>(i)], seed_for(tag, i, 9)));
    }
    finish_record(r, std::max(err.rel_error(), small_error), env.log);
    doc.records.push_back(std::move(r));
  }
}

}  // namespace clustercost::probe::cuda
