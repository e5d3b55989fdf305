#pragma once
/// CPU twins of the memory-bound kernels of a training step (the op classes of the op program,
/// sim/program/op_program.hpp), for `probe --scenario`: RMSNorm and SwiGLU (forward and
/// backward), RoPE (its backward is the forward with the sine negated), dropout, residual
/// add, softmax, copy, FP8 quantisation (1×128 tile-wise scales, or one per-tensor scale with a
/// transposed copy: the cast-transpose of delayed scaling), MoE permute / unpermute / router
/// scores / top-k, embedding lookup, softmax cross-entropy (forward and gradient), and Adam; plus
/// the backward of causal attention. Storage is fp32 (FP8 outputs are e4m3 bytes).
///
/// Each row function is a template on the arithmetic type: the timed kernel instantiates it with
/// double arithmetic stored to fp32 buffers; the check recomputes sampled rows from the same
/// inputs through the same formula written to double (so a wrong index, a stale buffer or a row
/// skipped by the thread split shows as O(1) error, rounding as ~1e-7). Header-only.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "hardware/probe/data_gen.hpp"
#include "hardware/probe/mem_kernel.hpp"
#include "hardware/probe/numeric_formats.hpp"

namespace clustercost::probe {


/// e4m3 encoding (round to nearest even, saturating at ±448: Transformer Engine and DeepSeek
/// scale into range first, so saturation only guards rounding at the edge). The inverse of
/// e4m3_bits_to_float (numeric_formats.hpp): normals 2^(e−7)·(1 + q/8), e in 1..15, subnormals
/// q·2^−9; std::nearbyint rounds half to even in the default rounding mode.
inline std::uint8_t float_to_e4m3_bits(float f) {
  const std::uint8_t sign = std::signbit(f) ? 0x80u : 0u;
  const float a = std::fabs(f);
  if (!(a == a)) return 0x7Fu;  // NaN
  if (a >= 448.0f) return static_cast<std::uint8_t>(sign | 0x7Eu);
  if (a < 0.015625f) {  // below the smallest normal 2^-6: multiples of 2^-9 (8 is 2^-6, code 8)
    return static_cast<std::uint8_t>(sign | static_cast<int>(std::nearbyint(a * 512.0f)));
  }
  int e2 = 0;
  const float mant = std::frexp(a, &e2);  // a = mant·2^e2, mant in [0.5, 1)
  int exponent = e2 - 1 + 7;              // biased exponent of 1.xxx·2^(e2−1)
  int q = static_cast<int>(std::nearbyint((mant * 2.0f - 1.0f) * 8.0f));
  if (q == 8) {
    q = 0;
    ++exponent;
  }
  const int code = std::min(0x7E, (exponent << 3) | q);
  return static_cast<std::uint8_t>(sign | code);
}

/// Keep probability of the dropout twin (Megatron's hidden dropout 0.1).
inline constexpr double kDropoutKeep = 0.9;
/// Adam hyper-parameters of the twin (values do not change the traffic).
inline constexpr double kAdamLr = 1e-4, kAdamB1 = 0.9, kAdamB2 = 0.95, kAdamEps = 1e-8;

/// y = x / rms(x) · w (RMSNorm, eps 1e-6).
template <class Out>
void norm_row(const float* x, const float* w, Out* y, std::int64_t n) {
  double ss = 0;
  for (std::int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + 1e-6);
  for (std::int64_t i = 0; i < n; ++i) y[i] = static_cast<Out>(x[i] * inv * w[i]);
}

/// RMSNorm backward of one row (y = x·r·w, r = 1/rms(x), eps 1e-6; Zhang & Sennrich 2019):
/// dx = r·(w∘dy) − r³/n · x · Σ(w∘dy∘x), the formula of the CUDA kernel (cuda_norm_act_ops.cu).
/// The row's share of the weight gradient, dw += dy∘x·r, is added to `dw_acc` when it is not
/// null (the timed twin gives each thread its own partial, reduced once per call).
template <class Out>
void rmsnorm_backward_row(const float* x, const float* w, const float* dy, Out* dx, double* dw_acc,
                          std::int64_t n) {
  double ss = 0, dot = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    ss += static_cast<double>(x[i]) * x[i];
    dot += static_cast<double>(w[i]) * dy[i] * x[i];
  }
  const double r = 1.0 / std::sqrt(ss / static_cast<double>(n) + 1e-6);
  const double c = r * r * r * dot / static_cast<double>(n);
  for (std::int64_t i = 0; i < n; ++i)
    dx[i] = static_cast<Out>(r * w[i] * dy[i] - c * x[i]);
  if (dw_acc)
    for (std::int64_t i = 0; i < n; ++i) dw_acc[i] += static_cast<double>(dy[i]) * x[i] * r;
}

/// Rotary embedding of pairs (x[2i], x[2i+1]) by the angle whose (cos, sin) sit in cs[2i], cs[2i+1].
template <class Out>
void rope_row(const float* x, const float* cs, Out* y, std::int64_t n) {
  for (std::int64_t i = 0; i + 1 < n; i += 2) {
    const double c = cs[i], s = cs[i + 1];
    y[i] = static_cast<Out>(static_cast<double>(x[i]) * c - static_cast<double>(x[i + 1]) * s);
    y[i + 1] = static_cast<Out>(static_cast<double>(x[i]) * s + static_cast<double>(x[i + 1]) * c);
  }
  if (n % 2) y[n - 1] = static_cast<Out>(x[n - 1]);
}

/// SwiGLU: silu(g) · u.
template <class Out>
void swiglu_row(const float* g, const float* u, Out* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const double gv = g[i];
    y[i] = static_cast<Out>(gv / (1.0 + std::exp(-gv)) * u[i]);
  }
}

/// SwiGLU backward (y = silu(g)·u, silu(g) = g·σ(g)): du = dy·silu(g),
/// dg = dy·u·silu'(g) with silu'(g) = σ(g)·(1 + g·(1 − σ(g))), the CUDA kernel's formula.
template <class Out>
void swiglu_backward_row(const float* g, const float* u, const float* dy, Out* dg, Out* du,
                         std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const double gv = g[i], sg = 1.0 / (1.0 + std::exp(-gv)), d = dy[i];
    du[i] = static_cast<Out>(d * gv * sg);
    dg[i] = static_cast<Out>(d * u[i] * sg * (1.0 + gv * (1.0 - sg)));
  }
}

/// Whether element `i` of row `row` is kept: a hash of its position (reproducible by the check).
inline bool dropout_keep(std::uint64_t seed, std::int64_t row, std::int64_t n, std::int64_t i) {
  return random_below(seed, static_cast<std::uint64_t>(row * n + i), 1000) < 900;
}

template <class Out>
void dropout_row(const float* x, Out* y, std::uint8_t* mask, std::uint64_t seed, std::int64_t row,
                 std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const bool keep = dropout_keep(seed, row, n, i);
    if (mask) mask[i] = keep ? 1 : 0;
    y[i] = static_cast<Out>(keep ? x[i] / kDropoutKeep : 0.0);
  }
}

template <class Out>
void add_row(const float* a, const float* b, Out* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = static_cast<Out>(static_cast<double>(a[i]) + b[i]);
}

template <class Out>
void softmax_row(const float* x, Out* y, std::int64_t n) {
  double mx = -std::numeric_limits<double>::infinity();
  for (std::int64_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(x[i]));
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
  for (std::int64_t i = 0; i < n; ++i) y[i] = static_cast<Out>(std::exp(x[i] - mx) / sum);
}

/// Router scores: sigmoid (DeepSeek-V3's score function).
template <class Out>
void score_row(const float* x, Out* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = static_cast<Out>(1.0 / (1.0 + std::exp(-static_cast<double>(x[i]))));
}

/// Top-k of a row of scores: indices (descending score, ties to the lower index) and values.
template <class Out>
void topk_row(const float* x, std::int64_t n, int k, std::int32_t* idx, Out* val) {
  for (int j = 0; j < k; ++j) {
    std::int64_t best = -1;
    for (std::int64_t i = 0; i < n; ++i) {
      bool taken = false;
      for (int t = 0; t < j; ++t) taken = taken || idx[t] == i;
      if (!taken && (best < 0 || x[i] > x[best])) best = i;
    }
    idx[j] = static_cast<std::int32_t>(best);
    val[j] = static_cast<Out>(x[best]);
  }
}

/// Unpermute (combine): y = Σ_j w_j · x[idx_j] over the token's top-k copies.
template <class Out>
void unpermute_row(const float* x, const std::int32_t* idx, const float* w, int k, Out* y,
                   std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int j = 0; j < k; ++j) s += static_cast<double>(w[j]) * x[static_cast<std::int64_t>(idx[j]) * n + i];
    y[i] = static_cast<Out>(s);
  }
}

/// Cross-entropy of one row of logits against `target`: the loss (forward) ...
inline double cross_entropy_row(const float* x, std::int64_t n, std::int64_t target) {
  double mx = -std::numeric_limits<double>::infinity();
  for (std::int64_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(x[i]));
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
  return std::log(sum) + mx - x[target];
}
/// ... and its gradient, softmax − one-hot.
template <class Out>
void cross_entropy_grad_row(const float* x, std::int64_t n, std::int64_t target, Out* g) {
  double mx = -std::numeric_limits<double>::infinity();
  for (std::int64_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(x[i]));
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
  for (std::int64_t i = 0; i < n; ++i)
    g[i] = static_cast<Out>(std::exp(x[i] - mx) / sum - (i == target ? 1.0 : 0.0));
}

/// Adam (bias correction folded into the step size): p' = p − lr·m'/(√v' + eps).
template <class Out>
void adam_row(const float* p, const float* g, const float* m, const float* v, Out* p2, Out* m2,
              Out* v2, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const double mi = kAdamB1 * m[i] + (1 - kAdamB1) * g[i];
    const double vi = kAdamB2 * std::fabs(v[i]) + (1 - kAdamB2) * static_cast<double>(g[i]) * g[i];
    m2[i] = static_cast<Out>(mi);
    v2[i] = static_cast<Out>(vi);
    p2[i] = static_cast<Out>(p[i] - kAdamLr * mi / (std::sqrt(vi) + kAdamEps));
  }
}

/// Largest |x| of a range.
inline float amax_of(const float* x, std::int64_t n) {
  float a = 0;
  for (std::int64_t i = 0; i < n; ++i) a = std::max(a, std::fabs(x[i]));
  return a;
}

/// FP8 scale mapping amax to the largest finite e4m3 value (448).
inline float fp8_scale(float amax) { return amax > 0 ? 448.0f / amax : 1.0f; }

/// One row of DeepSeek-V3's activation quantisation (arXiv:2412.19437 §3.3.2: one scale per
/// 1×128 tile of a token's channels): per tile, scale = 448 / amax(tile), q = e4m3(x · scale);
/// `inv_scales` gets 1 / scale per tile (what the FP8 GEMM multiplies back), the last tile may
/// be shorter than 128.
inline void cast_tilewise_row(const float* x, std::int64_t w, std::uint8_t* q, float* inv_scales) {
  for (std::int64_t c0 = 0, t = 0; c0 < w; c0 += 128, ++t) {
    const std::int64_t c1 = std::min(w, c0 + 128);
    const float sc = fp8_scale(amax_of(x + c0, c1 - c0));
    inv_scales[t] = 1.0f / sc;
    for (std::int64_t c = c0; c < c1; ++c) q[c] = float_to_e4m3_bits(x[c] * sc);
  }
}

/// Causal attention backward of one head (layout [seq][d]): recomputes the probabilities, then
/// dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ∘ (dP − rowsum(dO ∘ O)), dQ = dS·K·scale, dK = dSᵀ·Q·scale
/// (FlashAttention-2's backward, Dao 2023, arXiv 2307.08691 Alg. 2, without tiling: 2.5× the
/// forward's FLOPs). T is the arithmetic type (float: the timed twin, double: the check).
template <class T>
void attention_backward_head(const float* q, const float* k, const float* v, const float* dout,
                             T* dq, T* dk, T* dv, std::int64_t seq, std::int64_t d) {
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d)));
  std::fill(dq, dq + seq * d, T(0));
  std::fill(dk, dk + seq * d, T(0));
  std::fill(dv, dv + seq * d, T(0));
  std::vector<T> p(static_cast<std::size_t>(seq)), dp(static_cast<std::size_t>(seq));
  for (std::int64_t i = 0; i < seq; ++i) {
    const float* qi = q + i * d;
    const float* doi = dout + i * d;
    T mx = -std::numeric_limits<T>::infinity();
    for (std::int64_t j = 0; j <= i; ++j) {
      T s = 0;
      for (std::int64_t t = 0; t < d; ++t) s += static_cast<T>(qi[t]) * k[j * d + t];
      p[static_cast<std::size_t>(j)] = s * scale;
      mx = std::max(mx, p[static_cast<std::size_t>(j)]);
    }
    T sum = 0;
    for (std::int64_t j = 0; j <= i; ++j) {
      p[static_cast<std::size_t>(j)] = std::exp(p[static_cast<std::size_t>(j)] - mx);
      sum += p[static_cast<std::size_t>(j)];
    }
    T dsum = 0;  // rowsum(dO ∘ O) = Σ_j p_ij · (dO_i · V_j)
    for (std::int64_t j = 0; j <= i; ++j) {
      p[static_cast<std::size_t>(j)] /= sum;
      T s = 0;
      for (std::int64_t t = 0; t < d; ++t) s += static_cast<T>(doi[t]) * v[j * d + t];
      dp[static_cast<std::size_t>(j)] = s;
      dsum += p[static_cast<std::size_t>(j)] * s;
    }
    for (std::int64_t j = 0; j <= i; ++j) {
      const T pij = p[static_cast<std::size_t>(j)];
      const T ds = pij * (dp[static_cast<std::size_t>(j)] - dsum) * scale;
      for (std::int64_t t = 0; t < d; ++t) {
        dv[j * d + t] += pij * static_cast<T>(doi[t]);
        dq[i * d + t] += ds * static_cast<T>(k[j * d + t]);
        dk[j * d + t] += ds * static_cast<T>(qi[t]);
      }
    }
  }
}

}  // namespace clustercost::probe
