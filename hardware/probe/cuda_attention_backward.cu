// Causal attention backward: our own kernels, FlashAttention-2's algorithm (Dao 2023,
// arXiv:2307.08691, Algorithm 2) without its tiling and tensor cores, so a lower bound of the
// fused library kernels (FlashAttention-2/3 are not linked; the record says which ran):
//   1. D_i = dO_i · O_i (the "preprocess" kernel);
//   2. dQ_i = scale · Σ_{j≤i} dS_ij K_j, one warp per query row;
//   3. dK_j = scale · Σ_{i≥j} dS_ij Q_i and dV_j = Σ_{i≥j} P_ij dO_i, one warp per key row;
// with P_ij = exp(scale·Q_i·K_j − LSE_i) and dS_ij = P_ij (dO_i·V_j − D_i). Each lane holds
// head_dim/32 channels; dot products are warp reductions. bf16 Q, K, V, O, dO; fp32 LSE, dQ,
// dK, dV (FlashAttention-2 accumulates dQ in fp32 too). O and LSE come from a naive forward
// kernel run once before timing (FA2's backward takes them from the forward).
// Checks: (1) a small case (one head, 128 positions) in full against the CPU twin's double
// reference (cpu_op_kernels.hpp, attention_backward_head); (2) the timed case on sampled query
// rows of dQ and on the last key rows of dK and dV of a sampled head, recomputed on the host in
// double from the stored inputs (the last key rows see few queries, so their sums are cheap).

#include <cmath>
#include <string>
#include <vector>

#include "hardware/probe/cpu_op_kernels.hpp"
#include "hardware/probe/cuda_op_bench.cuh"
#include "hardware/probe/rotation.hpp"

namespace clustercost::probe::cuda {

namespace {

constexpr int kWarpsPerBlock = 4;

template <int PER>
__device__ __forceinline__ void load_row(const bf16* p, float (&r)[PER]) {
#pragma unroll
  for (int t = 0; t < PER; ++t) r[t] = __bfloat162float(p[threadIdx.x % 32 + 32 * t]);
}
template <int PER>
__device__ __forceinline__ float dot_row(const float (&a)[PER], const bf16* p) {
  float s = 0;
#pragma unroll
  for (int t = 0; t < PER; ++t) s += a[t] * __bfloat162float(p[threadIdx.x % 32 + 32 * t]);
  return warp_sum_f(s);
}

// Row index of this warp; blockIdx.y is the (batch, head) unit.
__device__ __forceinline__ std::int64_t warp_row() {
  return static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
}

template <int PER>
__global__ void naive_forward(const bf16* q, const bf16* k, const bf16* v, bf16* o, float* lse,
                              std::int64_t seq, float scale) {
  constexpr int D = PER * 32;
  const std::int64_t i = warp_row();
  if (i >= seq) return;
  const std::int64_t base = static_cast<std::int64_t>(blockIdx.y) * seq;
  float qi[PER], acc[PER] = {};
  load_row<PER>(q + (base + i) * D, qi);
  float mx = -INFINITY, sum = 0;
  for (std::int64_t j = 0; j <= i; ++j) {
    const float s = dot_row<PER>(qi, k + (base + j) * D) * scale;
    const float nm = fmaxf(mx, s), a = __expf(mx - nm), p = __expf(s - nm);
    sum = sum * a + p;
#pragma unroll
    for (int t = 0; t < PER; ++t) acc[t] = acc[t] * a + p * __bfloat162float(v[(base + j) * D + threadIdx.x % 32 + 32 * t]);
    mx = nm;
  }
#pragma unroll
  for (int t = 0; t < PER; ++t) o[(base + i) * D + threadIdx.x % 32 + 32 * t] = __float2bfloat16_rn(acc[t] / sum);
  if (threadIdx.x % 32 == 0) lse[base + i] = mx + logf(sum);
}

template <int PER>
__global__ void preprocess_d(const bf16* o, const bf16* dout, float* dvec, std::int64_t seq) {
  constexpr int D = PER * 32;
  const std::int64_t i = warp_row();
  if (i >= seq) return;
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.y) * seq + i;
  float oi[PER];
  load_row<PER>(o + row * D, oi);
  const float d = dot_row<PER>(oi, dout + row * D);
  if (threadIdx.x % 32 == 0) dvec[row] = d;
}

template <int PER>
__global__ void dq_kernel(const bf16* q, const bf16* k, const bf16* v, const bf16* dout,
                          const float* lse, const float* dvec, float* dq, std::int64_t seq, float scale) {
  constexpr int D = PER * 32;
  const std::int64_t i = warp_row();
  if (i >= seq) return;
  const std::int64_t base = static_cast<std::int64_t>(blockIdx.y) * seq, row = base + i;
  float qi[PER], doi[PER], acc[PER] = {};
  load_row<PER>(q + row * D, qi);
  load_row<PER>(dout + row * D, doi);
  const float l = lse[row], di = dvec[row];
  for (std::int64_t j = 0; j <= i; ++j) {
    const float p = __expf(dot_row<PER>(qi, k + (base + j) * D) * scale - l);
    const float ds = p * (dot_row<PER>(doi, v + (base + j) * D) - di);
#pragma unroll
    for (int t = 0; t < PER; ++t) acc[t] += ds * __bfloat162float(k[(base + j) * D + threadIdx.x % 32 + 32 * t]);
  }
#pragma unroll
  for (int t = 0; t < PER; ++t) dq[row * D + threadIdx.x % 32 + 32 * t] = acc[t] * scale;
}

template <int PER>
__global__ void dkv_kernel(const bf16* q, const bf16* k, const bf16* v, const bf16* dout,
                           const float* lse, const float* dvec, float* dk, float* dv,
                           std::int64_t seq, float scale) {
  constexpr int D = PER * 32;
  const std::int64_t j = warp_row();
  if (j >= seq) return;
  const std::int64_t base = static_cast<std::int64_t>(blockIdx.y) * seq, row = base + j;
  float kj[PER], vj[PER], ak[PER] = {}, av[PER] = {};
  load_row<PER>(k + row * D, kj);
  load_row<PER>(v + row * D, vj);
  for (std::int64_t i = j; i < seq; ++i) {
    const std::int64_t ri = base + i;
    const float p = __expf(dot_row<PER>(kj, q + ri * D) * scale - lse[ri]);
    const float ds = p * (dot_row<PER>(vj, dout + ri * D) - dvec[ri]);
#pragma unroll
    for (int t = 0; t < PER; ++t) {
      const int c = threadIdx.x % 32 + 32 * t;
      av[t] += p * __bfloat162float(dout[ri * D + c]);
      ak[t] += ds * __bfloat162float(q[ri * D + c]);
    }
  }
#pragma unroll
  for (int t = 0; t < PER; ++t) {
    dk[row * D + threadIdx.x % 32 + 32 * t] = ak[t] * scale;
    dv[row * D + threadIdx.x % 32 + 32 * t] = av[t];
  }
}

/// One set of tensors: q, k, v, o, dO (bf16), lse, D, dq, dk, dv (fp32).
struct AttnSet {
  std::vector<DeviceBuffer> b;
  const bf16* in(int i) const { return b[static_cast<std::size_t>(i)].as<bf16>(); }
  float* f(int i) const { return b[static_cast<std::size_t>(i)].as<float>(); }
};

template <int PER>
void launch_forward(Env& env, const AttnSet& s, std::int64_t seq, std::int64_t units, float scale) {
  const dim3 grid(static_cast<unsigned>((seq + kWarpsPerBlock - 1) / kWarpsPerBlock), static_cast<unsigned>(units));
  naive_forward<PER><<<grid, 32 * kWarpsPerBlock, 0, env.stream.get()>>>(
      s.in(0), s.in(1), s.in(2), s.b[3].as<bf16>(), s.f(5), seq, scale);
  CC_CHECK_LAUNCH();
}

template <int PER>
void launch_backward(Env& env, const AttnSet& s, std::int64_t seq, std::int64_t units, float scale) {
  const dim3 grid(static_cast<unsigned>((seq + kWarpsPerBlock - 1) / kWarpsPerBlock), static_cast<unsigned>(units));
  const unsigned threads = 32 * kWarpsPerBlock;
  preprocess_d<PER><<<grid, threads, 0, env.stream.get()>>>(s.in(3), s.in(4), s.f(6), seq);
  CC_CHECK_LAUNCH();
  dq_kernel<PER><<<grid, threads, 0, env.stream.get()>>>(s.in(0), s.in(1), s.in(2), s.in(4), s.f(5), s.f(6), s.f(7), seq, scale);
  CC_CHECK_LAUNCH();
  dkv_kernel<PER><<<grid, threads, 0, env.stream.get()>>>(s.in(0), s.in(1), s.in(2), s.in(4), s.f(5), s.f(6), s.f(8), s.f(9), seq, scale);
  CC_CHECK_LAUNCH();
}

using Launch = void (*)(Env&, const AttnSet&, std::int64_t, std::int64_t, float);

bool launchers(std::int64_t head_dim, Launch& fwd, Launch& bwd) {
  switch (head_dim) {
    case 64: fwd = &launch_forward<2>; bwd = &launch_backward<2>; return true;
    case 128: fwd = &launch_forward<4>; bwd = &launch_backward<4>; return true;
    case 192: fwd = &launch_forward<6>; bwd = &launch_backward<6>; return true;
    case 256: fwd = &launch_forward<8>; bwd = &launch_backward<8>; return true;
    default: return false;
  }
}

AttnSet make_set(Env& env, std::int64_t elems, std::int64_t rows, const std::string& tag, int s) {
  AttnSet a;
  for (int i = 0; i < 5; ++i) add_bf16(env, a.b, elems, seed_for(tag, s, i));
  for (int i = 0; i < 2; ++i) add_f32(env, a.b, rows, seed_for(tag, s, 5 + i));
  for (int i = 0; i < 3; ++i) add_f32(env, a.b, elems, seed_for(tag, s, 7 + i));
  return a;
}

/// Host reference for one head (double): the softmax row i of Q·Kᵀ·scale over keys ≤ i.
std::vector<double> prob_row(const std::vector<double>& q, const std::vector<double>& k,
                             std::int64_t i, std::int64_t d, double scale) {
  std::vector<double> p(static_cast<std::size_t>(i + 1));
  double mx = -INFINITY, sum = 0;
  for (std::int64_t j = 0; j <= i; ++j) {
    double s = 0;
    for (std::int64_t t = 0; t < d; ++t) s += q[static_cast<std::size_t>(i * d + t)] * k[static_cast<std::size_t>(j * d + t)];
    p[static_cast<std::size_t>(j)] = s * scale;
    mx = std::max(mx, p[static_cast<std::size_t>(j)]);
  }
  for (double& x : p) sum += (x = std::exp(x - mx));
  for (double& x : p) x /= sum;
  return p;
}

}  // namespace

void bench_attention_backward(Env& env, const NamedAttention& a, MeasurementDoc& doc) {
  const AttentionShape sh = a.shape;
  const std::int64_t d = sh.head_dim, seq = sh.seq, units = sh.batch * sh.heads;
  Launch fwd = nullptr, bwd = nullptr;
  if (!launchers(d, fwd, bwd) || !sh.causal) {
    doc.skipped.push_back(a.name + ": the CUDA attention backward kernel needs a causal head_dim of 64, 128, 192 or 256 (got " +
                          std::to_string(d) + "); not measured");
    return;
  }
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  const std::string tag = a.name + "/attention_backward";
  ErrorAccumulator err;
  // (1) Small case in full against the CPU twin's double reference.
  {
    const std::int64_t s_seq = 128, elems = s_seq * d;
    AttnSet s = make_set(env, elems, s_seq, tag + "/small", 0);
    fwd(env, s, s_seq, 1, scale);
    bwd(env, s, s_seq, 1, scale);
    CC_CHECK(cudaStreamSynchronize(env.stream.get()));
    std::vector<float> in[4];
    for (int i : {0, 1, 2, 4}) {
      const auto h = host_bf16(s.b[static_cast<std::size_t>(i)].as(), 0, elems);
      in[i == 4 ? 3 : i].assign(h.begin(), h.end());
    }
    std::vector<double> rq(static_cast<std::size_t>(elems)), rk(rq.size()), rv(rq.size());
    attention_backward_head<double>(in[0].data(), in[1].data(), in[2].data(), in[3].data(), rq.data(), rk.data(), rv.data(), s_seq, d);
    const auto gq = host_f32(s.f(7), 0, elems), gk = host_f32(s.f(8), 0, elems), gv = host_f32(s.f(9), 0, elems);
    for (std::size_t i = 0; i < rq.size(); ++i) {
      err.add(gq[i], rq[i]);
      err.add(gk[i], rk[i]);
      err.add(gv[i], rv[i]);
    }
  }
  // (2) The timed case.
  const std::int64_t elems = units * seq * d;
  const std::int64_t set_bytes = 5 * elems * 2 + 2 * units * seq * 4 + 3 * elems * 4;
  const int sets = rotation_sets(set_bytes, env.l2_bytes, env.settings.quick);
  std::vector<AttnSet> all;
  for (int s = 0; s < sets; ++s) {
    all.push_back(make_set(env, elems, units * seq, tag, s));
    fwd(env, all.back(), seq, units, scale);
  }
  Measurement r;
  r.kind = "attention";
  r.name = a.name;
  r.dtype = "bf16";
  r.impl = "clustercost naive FlashAttention-2-algorithm backward (preprocess, dQ, dK/dV kernels; warp per row, CUDA cores, no tensor cores)";
  r.shape = sh;
  r.flops = FlopCount(2.5 * attention_flops(sh));  // FlashAttention's backward convention
  r.bytes = Bytes(static_cast<double>(set_bytes));
  r.samples = time_on_stream(env, [&](int i) { bwd(env, all[static_cast<std::size_t>(i % sets)], seq, units, scale); });
  CC_CHECK(cudaStreamSynchronize(env.stream.get()));
  for (int s = 0; s < std::min(sets, env.calls()); ++s) {
    const AttnSet& t = all[static_cast<std::size_t>(s)];
    const std::int64_t u = sample_indices(units, 1, seed_for(tag, s, 8)).front();
    const std::int64_t off = u * seq * d;
    const auto q = host_bf16(t.in(0), off, seq * d), k = host_bf16(t.in(1), off, seq * d);
    const auto v = host_bf16(t.in(2), off, seq * d), o = host_bf16(t.in(3), off, seq * d);
    const auto dout = host_bf16(t.in(4), off, seq * d);
    const auto dot = [&](const std::vector<double>& x, std::int64_t i, const std::vector<double>& y, std::int64_t j) {
      double s2 = 0;
      for (std::int64_t c = 0; c < d; ++c) s2 += x[static_cast<std::size_t>(i * d + c)] * y[static_cast<std::size_t>(j * d + c)];
      return s2;
    };
    // dQ on sampled query rows.
    for (const std::int64_t i : sample_indices(seq, 3, seed_for(tag, s, 9))) {
      const auto p = prob_row(q, k, i, d, scale);
      const double di = dot(dout, i, o, i);
      const auto got = host_f32(t.f(7), off + i * d, d);
      std::vector<double> want(static_cast<std::size_t>(d), 0.0);
      for (std::int64_t j = 0; j <= i; ++j) {
        const double ds = p[static_cast<std::size_t>(j)] * (dot(dout, i, v, j) - di);
        for (std::int64_t c = 0; c < d; ++c) want[static_cast<std::size_t>(c)] += ds * k[static_cast<std::size_t>(j * d + c)];
      }
      for (std::int64_t c = 0; c < d; ++c) err.add(got[static_cast<std::size_t>(c)], want[static_cast<std::size_t>(c)] * scale);
    }
    // dK, dV on the last two key rows (queries i ≥ j: the last rows only).
    const std::int64_t j0 = std::max<std::int64_t>(0, seq - 2);
    for (std::int64_t j = j0; j < seq; ++j) {
      std::vector<double> wk(static_cast<std::size_t>(d), 0.0), wv(wk.size(), 0.0);
      for (std::int64_t i = j; i < seq; ++i) {
        const double p = prob_row(q, k, i, d, scale)[static_cast<std::size_t>(j)];
        const double ds = p * (dot(dout, i, v, j) - dot(dout, i, o, i));
        for (std::int64_t c = 0; c < d; ++c) {
          wk[static_cast<std::size_t>(c)] += ds * q[static_cast<std::size_t>(i * d + c)] * scale;
          wv[static_cast<std::size_t>(c)] += p * dout[static_cast<std::size_t>(i * d + c)];
        }
      }
      const auto gk = host_f32(t.f(8), off + j * d, d), gv = host_f32(t.f(9), off + j * d, d);
      for (std::int64_t c = 0; c < d; ++c) {
        err.add(gk[static_cast<std::size_t>(c)], wk[static_cast<std::size_t>(c)]);
        err.add(gv[static_cast<std::size_t>(c)], wv[static_cast<std::size_t>(c)]);
      }
    }
  }
  finish_record(r, err.rel_error(), env.log);
  doc.records.push_back(std::move(r));
}

}  // namespace clustercost::probe::cuda
