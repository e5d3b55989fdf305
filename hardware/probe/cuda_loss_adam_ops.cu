// Softmax cross-entropy over a vocabulary shard (one block per token: max, then Σexp, by block
// reductions) — the loss (forward) and its gradient softmax − one-hot written in bf16 (backward)
// — and Adam over fp32 master weights and moments (Megatron's distributed optimizer keeps
// them in fp32; Kingma & Ba 2015, Algorithm 1, bias correction folded into the learning rate).
// Checks: sampled rows against host log-sum-exp and softmax in double; Adam's three outputs
// against the textbook update from the stored inputs.

#include <cmath>

#include "hardware/probe/cpu_op_kernels.hpp"
#include "hardware/probe/cuda_op_bench.cuh"

namespace clustercost::probe::cuda {

namespace {

__global__ void cross_entropy_kernel(const bf16* __restrict__ x, const std::int32_t* __restrict__ target,
                                     float* __restrict__ loss, bf16* __restrict__ grad, std::int64_t n) {
  __shared__ float sh[32];
  const std::int64_t r = blockIdx.x, base = r * n;
  float mx = -INFINITY;
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, ld(x, base + i));
  mx = block_reduce(mx, sh, true);
  float sum = 0;
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += __expf(ld(x, base + i) - mx);
  sum = block_reduce(sum, sh, false);
  const std::int64_t t = target[r];
  if (grad == nullptr) {
    if (threadIdx.x == 0) loss[r] = logf(sum) + mx - ld(x, base + t);
    return;
  }
  const float inv = 1.0f / sum;
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x)
    st(grad, base + i, __expf(ld(x, base + i) - mx) * inv - (i == t ? 1.0f : 0.0f));
}

__global__ void adam_kernel(const float* __restrict__ p, const float* __restrict__ g,
                            const float* __restrict__ m, const float* __restrict__ v,
                            float* __restrict__ p2, float* __restrict__ m2, float* __restrict__ v2,
                            std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const float b1 = static_cast<float>(kAdamB1), b2 = static_cast<float>(kAdamB2);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    const float gi = g[i];
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * fabsf(v[i]) + (1.0f - b2) * gi * gi;
    m2[i] = mi;
    v2[i] = vi;
    p2[i] = p[i] - static_cast<float>(kAdamLr) * mi / (sqrtf(vi) + static_cast<float>(kAdamEps));
  }
}

}  // namespace

MemCase make_cross_entropy(Env& env, const MemDims& d, bool backward) {
  auto b = make_sets(d.sets);
  for (int s = 0; s < d.sets; ++s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    add_bf16(env, set, d.rows * d.width, seed_for(d.tag, s, 0));               // logits
    add_f32(env, set, d.rows, seed_for(d.tag, s, 1));                          // loss
    add_bf16(env, set, backward ? d.rows * d.width : 1, seed_for(d.tag, s, 2));  // gradient
    std::vector<std::int32_t> t(static_cast<std::size_t>(d.rows));
    for (std::int64_t r = 0; r < d.rows; ++r)
      t[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(random_below(seed_for(d.tag, s, 22), static_cast<std::uint64_t>(r), static_cast<std::uint64_t>(d.width)));
    set.emplace_back(t.size() * 4);
    CC_CHECK(cudaMemcpyAsync(set.back().as(), t.data(), t.size() * 4, cudaMemcpyHostToDevice, env.stream.get()));
    CC_CHECK(cudaStreamSynchronize(env.stream.get()));
  }
  MemCase c;
  c.impl = backward ? "cross-entropy gradient (softmax - one-hot), block per token"
                    : "cross-entropy loss (log-sum-exp), block per token";
  c.bytes = cuda_row_bytes(backward ? MemKernel::LossBackward : MemKernel::LossForward, backward, d.width, 1) * d.rows;
  c.sets = d.sets;
  c.launch = [b, d, backward, &env](int s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    cross_entropy_kernel<<<static_cast<unsigned>(d.rows), kRowThreads, 0, env.stream.get()>>>(
        set[0].as<bf16>(), set[3].as<std::int32_t>(), set[1].as<float>(),
        backward ? set[2].as<bf16>() : nullptr, d.width);
    CC_CHECK_LAUNCH();
  };
  c.check = [b, d, backward](int s, ErrorAccumulator& err) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    for (const std::int64_t r : check_rows(d, s)) {
      const auto x = host_bf16(set[0].as(), r * d.width, d.width);
      const std::int32_t t = host_i32(set[3].as(), r, 1)[0];
      double mx = -INFINITY, sum = 0;
      for (double v : x) mx = std::max(mx, v);
      for (double v : x) sum += std::exp(v - mx);
      if (!backward) {
        err.add(host_f32(set[1].as(), r, 1)[0], std::log(sum) + mx - x[static_cast<std::size_t>(t)]);
        continue;
      }
      // Compared as the softmax (the target's −1 would set the RMS the error is measured
      // against); the target's entry on its own, to bf16 rounding of a value near −1.
      const auto g = host_bf16(set[2].as(), r * d.width, d.width);
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double p = std::exp(x[i] - mx) / sum;
        if (static_cast<std::int32_t>(i) == t) {
          if (std::fabs(g[i] - (p - 1.0)) > 1.0 / 128) err.add(INFINITY, 0.0);
          continue;
        }
        err.add(g[i], p);
      }
    }
  };
  return c;
}

MemCase make_adam(Env& env, const MemDims& d) {
  const std::int64_t n = d.rows * d.width;
  auto b = make_sets(d.sets);
  for (int s = 0; s < d.sets; ++s)
    for (int k = 0; k < 7; ++k) add_f32(env, (*b)[static_cast<std::size_t>(s)], n, seed_for(d.tag, s, k));
  MemCase c;
  c.dtype = "fp32";
  c.impl = "adam (fp32 params and moments), grid-stride";
  c.bytes = cuda_row_bytes(MemKernel::Adam, false, d.width, 1) * d.rows;
  c.sets = d.sets;
  c.launch = [b, n, &env](int s) {
    auto& t = (*b)[static_cast<std::size_t>(s)];
    adam_kernel<<<grid_for(env, n), 256, 0, env.stream.get()>>>(t[0].as<float>(), t[1].as<float>(),
        t[2].as<float>(), t[3].as<float>(), t[4].as<float>(), t[5].as<float>(), t[6].as<float>(), n);
    CC_CHECK_LAUNCH();
  };
  c.check = [b, d](int s, ErrorAccumulator& err) {
    auto& t = (*b)[static_cast<std::size_t>(s)];
    for (const std::int64_t r : check_rows(d, s)) {
      const std::int64_t o = r * d.width;
      std::vector<std::vector<double>> a;
      for (int k = 0; k < 7; ++k) a.push_back(host_f32(t[static_cast<std::size_t>(k)].as(), o, d.width));
      for (std::size_t i = 0; i < a[0].size(); ++i) {
        const double m = kAdamB1 * a[2][i] + (1 - kAdamB1) * a[1][i];
        const double v = kAdamB2 * std::fabs(a[3][i]) + (1 - kAdamB2) * a[1][i] * a[1][i];
        err.add(a[4][i], a[0][i] - kAdamLr * m / (std::sqrt(v) + kAdamEps));
        err.add(a[5][i], m);
        err.add(a[6][i], v);
      }
    }
  };
  return c;
}

}  // namespace clustercost::probe::cuda
