// Row-wise and elementwise memory-bound kernels of a transformer layer, bf16 storage with fp32
// arithmetic (what Transformer Engine / Megatron's fused kernels do): RMSNorm forward and
// backward (dx and dw), RoPE forward and backward (rotation by −angle), SwiGLU forward and backward
// (dg, du), residual add, dropout (keep mask written), copy, router sigmoid scores, softmax.
// Row kernels run one block of 256 threads per row; elementwise ones are grid-stride loops.
// Checks: sampled rows recomputed on the host in double from the stored inputs, each from the
// op's definition (RMSNorm: Zhang & Sennrich 2019; RoPE: Su et al. 2021; SwiGLU: Shazeer 2020).

#include <cmath>

#include "hardware/probe/cuda_op_bench.cuh"

namespace clustercost::probe::cuda {

namespace {

constexpr float kNormEps = 1e-6f;
constexpr int kRopePositions = 4096;  // positions cycle over a sequence of this length
constexpr double kKeep = 0.9;         // dropout keep probability (Megatron's hidden dropout 0.1)

__global__ void rmsnorm_fwd(const bf16* __restrict__ x, const bf16* __restrict__ w,
                            bf16* __restrict__ y, std::int64_t n) {
  __shared__ float sh[32];
  const std::int64_t base = static_cast<std::int64_t>(blockIdx.x) * n;
  float ss = 0;
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = ld(x, base + i);
    ss += v * v;
  }
  const float r = rsqrtf(block_reduce(ss, sh, false) / static_cast<float>(n) + kNormEps);
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) st(y, base + i, ld(x, base + i) * r * ld(w, i));
}

// dx = r·(w∘dy) − r³/n · x · Σ(w∘dy∘x), r = 1/rms(x); and the weight gradient dw = Σ_rows dy∘x·r
// in two stages (the layer-norm backward of Apex / Transformer Engine does the same): each block
// takes rows blockIdx.x, + gridDim.x, ... and sums its rows' dy∘x·r in shared memory (`n`
// floats; a thread owns the same columns in every row, so no synchronisation), written as one
// fp32 partial row per block; rmsnorm_dw_reduce sums the partials per column (deterministic,
// unlike atomics).
__global__ void rmsnorm_bwd(const bf16* __restrict__ x, const bf16* __restrict__ w,
                            const bf16* __restrict__ dy, bf16* __restrict__ dx,
                            float* __restrict__ dw_part, std::int64_t rows, std::int64_t n) {
  extern __shared__ float dw_sh[];
  __shared__ float sh[32];
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) dw_sh[i] = 0;
  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const std::int64_t base = row * n;
    float ss = 0, dot = 0;
    for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float v = ld(x, base + i);
      ss += v * v;
      dot += ld(w, i) * ld(dy, base + i) * v;
    }
    ss = block_reduce(ss, sh, false);
    dot = block_reduce(dot, sh, false);
    const float r = rsqrtf(ss / static_cast<float>(n) + kNormEps);
    const float c = r * r * r * dot / static_cast<float>(n);
    for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float v = ld(x, base + i), g = ld(dy, base + i);
      st(dx, base + i, r * ld(w, i) * g - c * v);
      dw_sh[i] += g * v * r;
    }
  }
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x)
    dw_part[static_cast<std::int64_t>(blockIdx.x) * n + i] = dw_sh[i];
}

// dw[c] = Σ over the blocks' partial rows of column c.
__global__ void rmsnorm_dw_reduce(const float* __restrict__ dw_part, int parts, float* __restrict__ dw,
                                  std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t c = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; c < n; c += stride) {
    float sum = 0;
    for (int p = 0; p < parts; ++p) sum += dw_part[static_cast<std::int64_t>(p) * n + c];
    dw[c] = sum;
  }
}

// Pair p of row r rotated by angle (r mod kRopePositions)·inv_freq[p] (sign −1: the backward).
__global__ void rope_kernel(const bf16* __restrict__ x, const float* __restrict__ inv_freq,
                            bf16* __restrict__ y, std::int64_t rows, std::int64_t n, float sign) {
  const std::int64_t pairs = rows * (n / 2), half = n / 2;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < pairs; e += stride) {
    const std::int64_t r = e / half, p = e % half;
    float s, c;
    sincosf(static_cast<float>(r % kRopePositions) * inv_freq[p], &s, &c);
    s *= sign;
    const std::int64_t i = r * n + 2 * p;
    const float a = ld(x, i), b = ld(x, i + 1);
    st(y, i, a * c - b * s);
    st(y, i + 1, a * s + b * c);
  }
}

__device__ __forceinline__ float sigmoidf_(float v) { return 1.0f / (1.0f + __expf(-v)); }

__global__ void swiglu_fwd(const bf16* __restrict__ g, const bf16* __restrict__ u,
                           bf16* __restrict__ y, std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    const float gv = ld(g, i);
    st(y, i, gv * sigmoidf_(gv) * ld(u, i));
  }
}

// y = silu(g)·u: du = dy·silu(g), dg = dy·u·σ(g)·(1 + g·(1 − σ(g))).
__global__ void swiglu_bwd(const bf16* __restrict__ g, const bf16* __restrict__ u,
                           const bf16* __restrict__ dy, bf16* __restrict__ dg,
                           bf16* __restrict__ du, std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    const float gv = ld(g, i), uv = ld(u, i), d = ld(dy, i), sg = sigmoidf_(gv);
    st(du, i, d * gv * sg);
    st(dg, i, d * uv * sg * (1.0f + gv * (1.0f - sg)));
  }
}

__device__ __forceinline__ bool keep_of(std::uint64_t seed, std::int64_t i) {
  return random_below(seed, static_cast<std::uint64_t>(i), 1000) < 900;
}

// op: 0 add, 1 dropout, 2 copy, 3 sigmoid scores.
__global__ void elementwise_kernel(const bf16* __restrict__ a, const bf16* __restrict__ b,
                                   bf16* __restrict__ y, std::uint8_t* __restrict__ mask,
                                   std::int64_t n, int op, std::uint64_t seed) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    switch (op) {
      case 0: st(y, i, ld(a, i) + ld(b, i)); break;
      case 1: {
        const bool k = keep_of(seed, i);
        mask[i] = k ? 1 : 0;
        st(y, i, k ? ld(a, i) * static_cast<float>(1.0 / kKeep) : 0.0f);
        break;
      }
      case 2: y[i] = a[i]; break;
      default: st(y, i, sigmoidf_(ld(a, i))); break;
    }
  }
}

__global__ void softmax_kernel(const bf16* __restrict__ x, bf16* __restrict__ y, std::int64_t n) {
  __shared__ float sh[32];
  const std::int64_t base = static_cast<std::int64_t>(blockIdx.x) * n;
  float mx = -INFINITY;
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, ld(x, base + i));
  mx = block_reduce(mx, sh, true);
  float sum = 0;
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += __expf(ld(x, base + i) - mx);
  const float inv = 1.0f / block_reduce(sum, sh, false);
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) st(y, base + i, __expf(ld(x, base + i) - mx) * inv);
}

unsigned row_grid(std::int64_t rows) { return static_cast<unsigned>(rows); }

}  // namespace

MemCase make_rmsnorm(Env& env, const MemDims& d, bool backward) {
  const std::int64_t n = d.rows * d.width, w = d.width;
  auto b = make_sets(d.sets);
  for (int s = 0; s < d.sets; ++s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    add_bf16(env, set, n, seed_for(d.tag, s, 0));  // x
    add_bf16(env, set, w, seed_for(d.tag, s, 1));  // weight
    add_bf16(env, set, n, seed_for(d.tag, s, 2));  // y (forward) or dy (backward)
    if (backward) add_bf16(env, set, n, seed_for(d.tag, s, 3));  // dx
  }
  // Backward: blocks of rows (4 per SM, at most one per row), each with a dw partial in shared
  // memory; the partials (fp32, one row per block) and dw (fp32, as Megatron's main_grad) are
  // slots 4 and 5, dw filled with random values so a reduction that did not run fails its check.
  const int parts = static_cast<int>(std::min<std::int64_t>(d.rows, 4 * static_cast<std::int64_t>(env.sms)));
  const std::size_t smem = static_cast<std::size_t>(w) * sizeof(float);
  if (backward) {
    for (int s = 0; s < d.sets; ++s) {
      auto& set = (*b)[static_cast<std::size_t>(s)];
      set.emplace_back(static_cast<std::size_t>(parts * w) * sizeof(float));
      set.emplace_back(static_cast<std::size_t>(w) * sizeof(float));
      fill_f32(env, set.back().as<float>(), w, seed_for(d.tag, s, 4));
    }
    // Over 48 KiB of dynamic shared memory (width > 12288) must be opted into; a width past the
    // device's limit fails here, and the op's record says so.
    if (smem > 48 * 1024)
      CC_CHECK(cudaFuncSetAttribute(rmsnorm_bwd, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  }
  MemCase c;
  c.impl = backward ? "rmsnorm backward (dx; dw from per-block partials, then a column reduction)"
                    : "rmsnorm forward, block per row";
  c.bytes = cuda_row_bytes(MemKernel::Norm, backward, w, 1) * d.rows;
  // The dw partials: written once and read once, and dw written.
  if (backward) c.bytes += (2 * static_cast<std::int64_t>(parts) * w + w) * static_cast<std::int64_t>(sizeof(float));
  c.kernels = backward ? 2 : 1;
  c.sets = d.sets;
  c.launch = [b, d, &env, backward, parts, smem](int s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    if (backward) {
      rmsnorm_bwd<<<static_cast<unsigned>(parts), kRowThreads, smem, env.stream.get()>>>(
          set[0].as<bf16>(), set[1].as<bf16>(), set[2].as<bf16>(), set[3].as<bf16>(), set[4].as<float>(),
          d.rows, d.width);
      CC_CHECK_LAUNCH();
      rmsnorm_dw_reduce<<<grid_for(env, d.width), 256, 0, env.stream.get()>>>(set[4].as<float>(), parts,
                                                                              set[5].as<float>(), d.width);
    } else {
      rmsnorm_fwd<<<row_grid(d.rows), kRowThreads, 0, env.stream.get()>>>(
          set[0].as<bf16>(), set[1].as<bf16>(), set[2].as<bf16>(), d.width);
    }
    CC_CHECK_LAUNCH();
  };
  c.check = [b, d, backward](int s, ErrorAccumulator& err) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    const auto wt = host_bf16(set[1].as(), 0, d.width);
    if (backward) {
      // dw sums every row: all of x and dy are read back and summed in double. Compared at unit
      // RMS (got and reference divided by the reference's RMS): dw grows as √rows, and on its
      // own scale it would set the RMS that dx's sampled errors are measured against.
      const auto xa = host_bf16(set[0].as(), 0, d.rows * d.width);
      const auto dya = host_bf16(set[2].as(), 0, d.rows * d.width);
      const auto dwg = host_f32(set[5].as(), 0, d.width);
      std::vector<double> dw(static_cast<std::size_t>(d.width), 0.0);
      for (std::int64_t r = 0; r < d.rows; ++r) {
        double ss = 0;
        for (std::int64_t i = 0; i < d.width; ++i) ss += xa[r * d.width + i] * xa[r * d.width + i];
        const double rr = 1.0 / std::sqrt(ss / static_cast<double>(d.width) + kNormEps);
        for (std::int64_t i = 0; i < d.width; ++i) dw[i] += dya[r * d.width + i] * xa[r * d.width + i] * rr;
      }
      double ms = 0;
      for (double v : dw) ms += v * v;
      const double rms = std::sqrt(ms / static_cast<double>(d.width));
      for (std::int64_t i = 0; i < d.width; ++i)
        err.add(rms > 0 ? dwg[i] / rms : dwg[i], rms > 0 ? dw[i] / rms : dw[i]);
    }
    for (const std::int64_t r : check_rows(d, s)) {
      const auto x = host_bf16(set[0].as(), r * d.width, d.width);
      double ss = 0;
      for (double v : x) ss += v * v;
      const double rr = 1.0 / std::sqrt(ss / static_cast<double>(d.width) + kNormEps);
      if (!backward) {
        const auto y = host_bf16(set[2].as(), r * d.width, d.width);
        for (std::int64_t i = 0; i < d.width; ++i) err.add(y[i], x[i] * rr * wt[i]);
        continue;
      }
      const auto dy = host_bf16(set[2].as(), r * d.width, d.width);
      const auto dx = host_bf16(set[3].as(), r * d.width, d.width);
      double dot = 0;
      for (std::int64_t i = 0; i < d.width; ++i) dot += wt[i] * dy[i] * x[i];
      for (std::int64_t i = 0; i < d.width; ++i)
        err.add(dx[i], rr * wt[i] * dy[i] - rr * rr * rr * dot / static_cast<double>(d.width) * x[i]);
    }
  };
  return c;
}

MemCase make_rope(Env& env, const MemDims& d, bool backward) {
  const std::int64_t n = d.rows * d.width, half = d.width / 2;
  // RoPE's frequencies θ_p = 10000^(−2p/n) (Su et al. 2021, eq. 15), over the row's pairs.
  std::vector<float> inv(static_cast<std::size_t>(half));
  for (std::int64_t p = 0; p < half; ++p)
    inv[static_cast<std::size_t>(p)] = static_cast<float>(std::pow(10000.0, -2.0 * static_cast<double>(p) / static_cast<double>(d.width)));
  auto b = make_sets(d.sets);
  for (int s = 0; s < d.sets; ++s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    add_bf16(env, set, n, seed_for(d.tag, s, 0));
    add_bf16(env, set, n, seed_for(d.tag, s, 1));
    set.emplace_back(inv.size() * sizeof(float));
    CC_CHECK(cudaMemcpyAsync(set.back().as(), inv.data(), inv.size() * sizeof(float), cudaMemcpyHostToDevice, env.stream.get()));
  }
  CC_CHECK(cudaStreamSynchronize(env.stream.get()));  // `inv` is pageable and local
  MemCase c;
  c.impl = backward ? "rope backward (rotation by -angle)" : "rope forward (pairs rotated by position x frequency)";
  c.bytes = cuda_row_bytes(MemKernel::Rope, backward, d.width, 1) * d.rows;
  c.sets = d.sets;
  const float sign = backward ? -1.0f : 1.0f;
  c.launch = [b, d, &env, sign](int s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    rope_kernel<<<grid_for(env, d.rows * (d.width / 2)), 256, 0, env.stream.get()>>>(
        set[0].as<bf16>(), set[2].as<float>(), set[1].as<bf16>(), d.rows, d.width, sign);
    CC_CHECK_LAUNCH();
  };
  c.check = [b, d, inv, sign](int s, ErrorAccumulator& err) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    for (const std::int64_t r : check_rows(d, s)) {
      const auto x = host_bf16(set[0].as(), r * d.width, d.width);
      const auto y = host_bf16(set[1].as(), r * d.width, d.width);
      for (std::int64_t p = 0; p < d.width / 2; ++p) {
        const double ang = sign * static_cast<double>(static_cast<float>(r % kRopePositions) * inv[static_cast<std::size_t>(p)]);
        err.add(y[2 * p], x[2 * p] * std::cos(ang) - x[2 * p + 1] * std::sin(ang));
        err.add(y[2 * p + 1], x[2 * p] * std::sin(ang) + x[2 * p + 1] * std::cos(ang));
      }
    }
  };
  return c;
}

MemCase make_swiglu(Env& env, const MemDims& d, bool backward) {
  const std::int64_t n = d.rows * d.width;
  auto b = make_sets(d.sets);
  const int slots = backward ? 5 : 3;  // g, u, y | g, u, dy, dg, du
  for (int s = 0; s < d.sets; ++s)
    for (int k = 0; k < slots; ++k) add_bf16(env, (*b)[static_cast<std::size_t>(s)], n, seed_for(d.tag, s, k));
  MemCase c;
  c.impl = backward ? "swiglu backward (dgate, dup)" : "swiglu forward (silu(gate) * up)";
  c.bytes = cuda_row_bytes(MemKernel::Swiglu, backward, d.width, 1) * d.rows;
  c.sets = d.sets;
  c.launch = [b, n, &env, backward](int s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    if (backward) {
      swiglu_bwd<<<grid_for(env, n), 256, 0, env.stream.get()>>>(set[0].as<bf16>(), set[1].as<bf16>(),
          set[2].as<bf16>(), set[3].as<bf16>(), set[4].as<bf16>(), n);
    } else {
      swiglu_fwd<<<grid_for(env, n), 256, 0, env.stream.get()>>>(set[0].as<bf16>(), set[1].as<bf16>(), set[2].as<bf16>(), n);
    }
    CC_CHECK_LAUNCH();
  };
  c.check = [b, d, backward](int s, ErrorAccumulator& err) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    for (const std::int64_t r : check_rows(d, s)) {
      const std::int64_t o = r * d.width;
      const auto g = host_bf16(set[0].as(), o, d.width), u = host_bf16(set[1].as(), o, d.width);
      const auto y = host_bf16(set[2].as(), o, d.width);
      for (std::int64_t i = 0; i < d.width; ++i) {
        const double sg = 0.5 * (1.0 + std::tanh(0.5 * g[i]));  // σ(g)
        if (!backward) {
          err.add(y[i], g[i] * sg * u[i]);
          continue;
        }
      }
      if (!backward) continue;
      const auto dg = host_bf16(set[3].as(), o, d.width), du = host_bf16(set[4].as(), o, d.width);
      for (std::int64_t i = 0; i < d.width; ++i) {
        const double sg = 0.5 * (1.0 + std::tanh(0.5 * g[i]));
        err.add(du[i], y[i] * g[i] * sg);  // y holds dy in the backward
        err.add(dg[i], y[i] * u[i] * sg * (1.0 + g[i] * (1.0 - sg)));
      }
    }
  };
  return c;
}

MemCase make_elementwise(Env& env, const MemDims& d, MemKernel k) {
  const std::int64_t n = d.rows * d.width;
  const int op = k == MemKernel::Add ? 0 : k == MemKernel::Dropout ? 1 : k == MemKernel::Copy ? 2 : 3;
  auto b = make_sets(d.sets);
  for (int s = 0; s < d.sets; ++s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    add_bf16(env, set, n, seed_for(d.tag, s, 0));                         // a
    add_bf16(env, set, op == 0 ? n : 1, seed_for(d.tag, s, 1));           // b
    add_bf16(env, set, n, seed_for(d.tag, s, 2));                         // y
    add_bytes(env, set, op == 1 ? n : 1);                                 // mask
  }
  const std::uint64_t seed = seed_for(d.tag, 0, 30);
  MemCase c;
  c.impl = op == 0 ? "residual add" : op == 1 ? "dropout (keep mask written)" : op == 2 ? "copy" : "router sigmoid scores";
  c.bytes = cuda_row_bytes(k, false, d.width, 1) * d.rows;
  c.sets = d.sets;
  c.launch = [b, n, op, seed, &env](int s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    elementwise_kernel<<<grid_for(env, n), 256, 0, env.stream.get()>>>(
        set[0].as<bf16>(), set[1].as<bf16>(), set[2].as<bf16>(), set[3].as<std::uint8_t>(), n, op, seed);
    CC_CHECK_LAUNCH();
  };
  c.check = [b, d, op, seed](int s, ErrorAccumulator& err) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    for (const std::int64_t r : check_rows(d, s)) {
      const std::int64_t o = r * d.width;
      const auto a = host_bf16(set[0].as(), o, d.width), y = host_bf16(set[2].as(), o, d.width);
      const auto bb = op == 0 ? host_bf16(set[1].as(), o, d.width) : std::vector<double>();
      const auto mask = op == 1 ? copy_to_host(set[3].as(), o, d.width, 1) : std::vector<unsigned char>();
      for (std::int64_t i = 0; i < d.width; ++i) {
        const auto u = static_cast<std::size_t>(i);
        switch (op) {
          case 0: err.add(y[u], a[u] + bb[u]); break;
          case 1: {
            const bool keep = random_below(seed, static_cast<std::uint64_t>(o + i), 1000) < 900;
            err.add(y[u], keep ? a[u] / kKeep : 0.0);
            if (mask[u] != (keep ? 1 : 0)) err.add(INFINITY, 0.0);
            break;
          }
          case 2: err.add(y[u], a[u]); break;
          default: err.add(y[u], 1.0 / (1.0 + std::exp(-a[u]))); break;
        }
      }
    }
  };
  return c;
}

MemCase make_softmax(Env& env, const MemDims& d) {
  const std::int64_t n = d.rows * d.width;
  auto b = make_sets(d.sets);
  for (int s = 0; s < d.sets; ++s) {
    add_bf16(env, (*b)[static_cast<std::size_t>(s)], n, seed_for(d.tag, s, 0));
    add_bf16(env, (*b)[static_cast<std::size_t>(s)], n, seed_for(d.tag, s, 1));
  }
  MemCase c;
  c.impl = "softmax, block per row";
  c.bytes = cuda_row_bytes(MemKernel::Softmax, false, d.width, 1) * d.rows;
  c.sets = d.sets;
  c.launch = [b, d, &env](int s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    softmax_kernel<<<row_grid(d.rows), kRowThreads, 0, env.stream.get()>>>(set[0].as<bf16>(), set[1].as<bf16>(), d.width);
    CC_CHECK_LAUNCH();
  };
  c.check = [b, d](int s, ErrorAccumulator& err) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    for (const std::int64_t r : check_rows(d, s)) {
      const auto x = host_bf16(set[0].as(), r * d.width, d.width), y = host_bf16(set[1].as(), r * d.width, d.width);
      double mx = -INFINITY, sum = 0;
      for (double v : x) mx = std::max(mx, v);
      for (double v : x) sum += std::exp(v - mx);
      for (std::size_t i = 0; i < x.size(); ++i) err.add(y[i], std::exp(x[i] - mx) / sum);
    }
  };
  return c;
}

}  // namespace clustercost::probe::cuda
