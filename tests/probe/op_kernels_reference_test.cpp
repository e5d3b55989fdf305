// The CPU twin's op kernels (hardware/probe/cpu_op_kernels.hpp) against independent, textbook
// references on small inputs: hand-computed values, and formulas written another way (complex
// rotation for RoPE, tanh for the sigmoid, the log-sum-exp for the loss, a brute-force nearest
// e4m3 value for the FP8 casts). The probe's own check compares each kernel with the same row
// function in double; this is what catches a wrong formula in that function.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <numeric>
#include <vector>

#include "hardware/probe/cpu_op_kernels.hpp"
#include "hardware/probe/numeric_formats.hpp"

using namespace clustercost::probe;

namespace {

std::vector<float> sample_row(int n, std::uint64_t seed) {
  std::vector<float> x(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = random_value(seed, static_cast<std::uint64_t>(i));
  return x;
}

/// The e4m3 value nearest to v by enumerating all finite codes (ties: the even code, i.e. the
/// one whose last mantissa bit is 0); saturating at ±448.
float nearest_e4m3(double v) {
  double best = 0;
  double best_d = INFINITY;
  int best_code = 0;
  for (int code = 0; code < 256; ++code) {
    if ((code & 0x7F) == 0x7F) continue;  // NaN
    const double c = e4m3_bits_to_float(static_cast<std::uint8_t>(code));
    const double d = std::fabs(c - v);
    if (d < best_d || (d == best_d && (code & 1) == 0 && (best_code & 1) == 1)) {
      best = c;
      best_d = d;
      best_code = code;
    }
  }
  return static_cast<float>(std::clamp(best, -448.0, 448.0));
}

}  // namespace

TEST(OpKernelReference, RmsNormMatchesTheDefinition) {
  // Hand value: x = (3, 4), rms = √12.5.
  const float x2[2] = {3, 4}, w2[2] = {1, 2};
  float y2[2];
  norm_row(x2, w2, y2, 2);
  EXPECT_NEAR(y2[0], 3 / std::sqrt(12.5 + 1e-6), 1e-6);
  EXPECT_NEAR(y2[1], 2 * 4 / std::sqrt(12.5 + 1e-6), 1e-6);
  // Property: the output divided by the weights has unit mean square.
  const int n = 96;
  const auto x = sample_row(n, 1), w = sample_row(n, 2);
  std::vector<float> y(static_cast<std::size_t>(n));
  norm_row(x.data(), w.data(), y.data(), n);
  long double ms = 0;
  for (int i = 0; i < n; ++i) ms += static_cast<long double>(x[static_cast<std::size_t>(i)]) * x[static_cast<std::size_t>(i)];
  const long double rms = std::sqrt(ms / n + 1e-6L);
  long double unit = 0;
  for (int i = 0; i < n; ++i) {
    const auto u = static_cast<std::size_t>(i);
    EXPECT_NEAR(y[u], static_cast<double>(x[u] / rms * w[u]), 1e-6) << i;
    unit += std::pow(static_cast<long double>(y[u]) / w[u], 2);
  }
  EXPECT_NEAR(static_cast<double>(unit / n), 1.0, 1e-4);
}

TEST(OpKernelReference, RopeRotatesPairsAsComplexNumbers) {
  // (1, 0) by 90°: (0, 1).
  const float x0[2] = {1, 0}, cs0[2] = {0, 1};
  float y0[2];
  rope_row(x0, cs0, y0, 2);
  EXPECT_NEAR(y0[0], 0, 1e-7);
  EXPECT_NEAR(y0[1], 1, 1e-7);
  const int n = 65;  // odd: the last element passes through
  const auto x = sample_row(n, 3);
  std::vector<float> cs(static_cast<std::size_t>(n)), y(static_cast<std::size_t>(n));
  std::vector<double> angle(static_cast<std::size_t>(n / 2));
  for (int p = 0; p < n / 2; ++p) {
    angle[static_cast<std::size_t>(p)] = 0.37 * p - 2.0;
    cs[static_cast<std::size_t>(2 * p)] = static_cast<float>(std::cos(angle[static_cast<std::size_t>(p)]));
    cs[static_cast<std::size_t>(2 * p + 1)] = static_cast<float>(std::sin(angle[static_cast<std::size_t>(p)]));
  }
  rope_row(x.data(), cs.data(), y.data(), n);
  for (int p = 0; p < n / 2; ++p) {
    const auto i = static_cast<std::size_t>(2 * p);
    const std::complex<double> z(x[i], x[i + 1]);
    const std::complex<double> r = z * std::polar(1.0, angle[static_cast<std::size_t>(p)]);
    EXPECT_NEAR(y[i], r.real(), 2e-7) << p;
    EXPECT_NEAR(y[i + 1], r.imag(), 2e-7) << p;
    EXPECT_NEAR(std::hypot(y[i], y[i + 1]), std::abs(z), 2e-7) << "a rotation keeps the norm";
  }
  EXPECT_EQ(y[static_cast<std::size_t>(n - 1)], x[static_cast<std::size_t>(n - 1)]);
}

TEST(OpKernelReference, SwigluIsSiluOfTheGateTimesTheUp) {
  const float g0[3] = {0, 20, -20}, u0[3] = {5, 2, 2};
  float y0[3];
  swiglu_row(g0, u0, y0, 3);
  EXPECT_EQ(y0[0], 0.0f);                 // silu(0) = 0
  EXPECT_NEAR(y0[1], 40.0f, 1e-5);        // silu(g) → g for large g
  EXPECT_NEAR(y0[2], 0.0f, 1e-6);         // → 0 for very negative g
  const int n = 64;
  const auto g = sample_row(n, 4), u = sample_row(n, 5);
  std::vector<float> y(static_cast<std::size_t>(n));
  swiglu_row(g.data(), u.data(), y.data(), n);
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double sig = 0.5 * (1 + std::tanh(0.5 * g[i]));  // σ(g) written with tanh
    EXPECT_NEAR(y[i], g[i] * sig * u[i], 1e-7) << i;
  }
}

/// ∂/∂v_j of L = Σ_i dy_i · f(v)_i by central differences, f the forward row function (in
/// double); the step is what float storage of v ± h actually holds.
template <class Forward>
std::vector<double> numerical_gradient(std::vector<float> v, const std::vector<float>& dy, Forward f) {
  const auto loss = [&](const std::vector<float>& at) {
    std::vector<double> y(dy.size());
    f(at, y.data());
    double l = 0;
    for (std::size_t i = 0; i < y.size(); ++i) l += dy[i] * y[i];
    return l;
  };
  std::vector<double> grad(v.size());
  for (std::size_t j = 0; j < v.size(); ++j) {
    const float v0 = v[j];
    v[j] = v0 + 1e-3f;
    const double up = loss(v), hi = v[j];
    v[j] = v0 - 1e-3f;
    const double down = loss(v), lo = v[j];
    v[j] = v0;
    grad[j] = (up - down) / (hi - lo);
  }
  return grad;
}

TEST(OpKernelReference, RmsNormBackwardIsTheGradientOfTheForward) {
  const int n = 48;
  const auto x = sample_row(n, 11), w = sample_row(n, 12), dy = sample_row(n, 13);
  std::vector<double> dx(static_cast<std::size_t>(n)), dw(static_cast<std::size_t>(n), 0.5);
  rmsnorm_backward_row(x.data(), w.data(), dy.data(), dx.data(), dw.data(), n);
  const auto gx = numerical_gradient(x, dy, [&](const std::vector<float>& at, double* y) {
    norm_row(at.data(), w.data(), y, n);
  });
  const auto gw = numerical_gradient(w, dy, [&](const std::vector<float>& at, double* y) {
    norm_row(x.data(), at.data(), y, n);
  });
  for (std::size_t i = 0; i < dx.size(); ++i) {
    EXPECT_NEAR(dx[i], gx[i], 1e-5 * (1 + std::fabs(gx[i]))) << i;
    EXPECT_NEAR(dw[i] - 0.5, gw[i], 1e-5 * (1 + std::fabs(gw[i]))) << i;  // added to what was there
  }
  // Without a partial to add to, dx alone (the check's call), into float storage.
  std::vector<float> dxf(static_cast<std::size_t>(n));
  rmsnorm_backward_row(x.data(), w.data(), dy.data(), dxf.data(), static_cast<double*>(nullptr), n);
  for (std::size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dxf[i], dx[i], 1e-6 * (1 + std::fabs(dx[i]))) << i;
}

TEST(OpKernelReference, SwigluBackwardIsTheGradientOfTheForward) {
  const int n = 64;
  const auto g = sample_row(n, 14), u = sample_row(n, 15), dy = sample_row(n, 16);
  std::vector<double> dg(static_cast<std::size_t>(n)), du(static_cast<std::size_t>(n));
  swiglu_backward_row(g.data(), u.data(), dy.data(), dg.data(), du.data(), n);
  // Elementwise: one perturbation per element moves only that element's output.
  const auto ng = numerical_gradient(g, dy, [&](const std::vector<float>& at, double* y) {
    swiglu_row(at.data(), u.data(), y, n);
  });
  const auto nu = numerical_gradient(u, dy, [&](const std::vector<float>& at, double* y) {
    swiglu_row(g.data(), at.data(), y, n);
  });
  for (std::size_t i = 0; i < dg.size(); ++i) {
    EXPECT_NEAR(dg[i], ng[i], 1e-5 * (1 + std::fabs(ng[i]))) << i;
    EXPECT_NEAR(du[i], nu[i], 1e-5 * (1 + std::fabs(nu[i]))) << i;
  }
  // Hand values: at g = 0, σ = 1/2: dg = dy·u/2, du = 0.
  const float g0[1] = {0}, u0[1] = {3}, d0[1] = {2};
  double dg0 = 0, du0 = 1;
  swiglu_backward_row(g0, u0, d0, &dg0, &du0, 1);
  EXPECT_DOUBLE_EQ(dg0, 3.0);
  EXPECT_DOUBLE_EQ(du0, 0.0);
}

TEST(OpKernelReference, SoftmaxOfLogsIsTheNormalisedValues) {
  const float x0[3] = {0, static_cast<float>(std::log(2.0)), static_cast<float>(std::log(3.0))};
  float y0[3];
  softmax_row(x0, y0, 3);
  EXPECT_NEAR(y0[0], 1.0 / 6, 1e-7);
  EXPECT_NEAR(y0[1], 2.0 / 6, 1e-7);
  EXPECT_NEAR(y0[2], 3.0 / 6, 1e-7);
  // Large logits: no overflow (the max is subtracted), shift invariance.
  const float big[2] = {1000, 1000 + static_cast<float>(std::log(3.0))};
  float yb[2];
  softmax_row(big, yb, 2);
  const double e = std::exp(static_cast<double>(big[1] - big[0]));  // the stored (rounded) gap
  EXPECT_NEAR(yb[0], 1 / (1 + e), 1e-7);
  EXPECT_NEAR(yb[1], e / (1 + e), 1e-7);
}

TEST(OpKernelReference, CrossEntropyIsMinusLogProbabilityAndItsGradient) {
  const float x0[2] = {0, static_cast<float>(std::log(3.0))};
  EXPECT_NEAR(cross_entropy_row(x0, 2, 1), -std::log(0.75), 1e-7);
  EXPECT_NEAR(cross_entropy_row(x0, 2, 0), -std::log(0.25), 1e-7);
  float g0[2];
  cross_entropy_grad_row(x0, 2, 1, g0);
  EXPECT_NEAR(g0[0], 0.25, 1e-7);
  EXPECT_NEAR(g0[1], -0.25, 1e-7);
  // Against -log softmax on a random row, and the gradient against a central difference of the
  // loss (the definition of a gradient, independent of the softmax − one-hot formula).
  const int n = 50;
  auto x = sample_row(n, 6);
  const std::int64_t target = 17;
  long double se = 0;
  for (float v : x) se += std::exp(static_cast<long double>(v));
  EXPECT_NEAR(cross_entropy_row(x.data(), n, target), static_cast<double>(std::log(se) - x[target]), 1e-9);
  std::vector<double> g(static_cast<std::size_t>(n));
  cross_entropy_grad_row(x.data(), n, target, g.data());
  EXPECT_NEAR(std::accumulate(g.begin(), g.end(), 0.0), 0.0, 1e-12);
  for (int i : {0, 5, 17, 49}) {
    const auto u = static_cast<std::size_t>(i);
    const float h = 1e-2f, keep = x[u];
    x[u] = keep + h;
    const double up = cross_entropy_row(x.data(), n, target);
    x[u] = keep - h;
    const double down = cross_entropy_row(x.data(), n, target);
    x[u] = keep;
    EXPECT_NEAR(g[u], (up - down) / (x[u] + h - (x[u] - h)), 1e-5) << i;
  }
}

TEST(OpKernelReference, AdamIsTheTextbookUpdate) {
  // Kingma & Ba, Algorithm 1 (bias correction folded into the learning rate).
  const float p[3] = {1.0f, -0.5f, 0.25f}, g[3] = {0.1f, -0.2f, 0.0f}, m[3] = {0.01f, 0.02f, -0.03f},
              v[3] = {0.001f, 0.0f, 0.004f};
  double p2[3], m2[3], v2[3];
  adam_row(p, g, m, v, p2, m2, v2, 3);
  for (int i = 0; i < 3; ++i) {
    const double mi = 0.9 * m[i] + 0.1 * g[i];
    const double vi = 0.95 * v[i] + 0.05 * static_cast<double>(g[i]) * g[i];
    EXPECT_NEAR(m2[i], mi, 1e-12) << i;
    EXPECT_NEAR(v2[i], vi, 1e-12) << i;
    EXPECT_NEAR(p2[i], p[i] - 1e-4 * mi / (std::sqrt(vi) + 1e-8), 1e-12) << i;
  }
  // A zero gradient and zero moments leave the parameter unchanged.
  const float z = 0;
  double pz, mz, vz;
  adam_row(&p[0], &z, &z, &z, &pz, &mz, &vz, 1);
  EXPECT_EQ(pz, p[0]);
}

TEST(OpKernelReference, E4m3EncodingIsTheNearestCode) {
  // Hand values (FP8 formats paper, arXiv:2209.05433 Table 1): 448 the largest, 2^-9 the
  // smallest subnormal, 1.0 = 0x38.
  EXPECT_EQ(float_to_e4m3_bits(1.0f), 0x38);
  EXPECT_EQ(float_to_e4m3_bits(448.0f), 0x7E);
  EXPECT_EQ(float_to_e4m3_bits(1e6f), 0x7E);  // saturates
  EXPECT_EQ(float_to_e4m3_bits(-448.0f), 0xFE);
  EXPECT_EQ(float_to_e4m3_bits(std::ldexp(1.0f, -9)), 0x01);
  for (int i = -3000; i <= 3000; ++i) {
    const float v = static_cast<float>(i) * 0.1537f;
    EXPECT_EQ(e4m3_bits_to_float(float_to_e4m3_bits(v)), nearest_e4m3(v)) << v;
  }
  for (int i = 1; i < 400; ++i) {
    const float v = std::ldexp(static_cast<float>(i), -12);  // subnormal and small normal range
    EXPECT_EQ(e4m3_bits_to_float(float_to_e4m3_bits(v)), nearest_e4m3(v)) << v;
  }
}

TEST(OpKernelReference, TilewiseCastHasOneScalePer128ChannelsAndTheNearestValues) {
  const int w = 300;  // two full tiles and a short one of 44
  auto x = sample_row(w, 7);
  x[5] = 3.0f;  // tile 0's amax
  for (int i = 128; i < 256; ++i) x[static_cast<std::size_t>(i)] *= 0.25f;
  x[140] = -0.5f;  // tile 1's amax (its other values are now within ±0.25)
  std::vector<std::uint8_t> q(static_cast<std::size_t>(w));
  std::vector<float> inv(3, -1.0f);
  cast_tilewise_row(x.data(), w, q.data(), inv.data());
  for (int t = 0; t < 3; ++t) {
    const int c0 = 128 * t, c1 = std::min(w, c0 + 128);
    float amax = 0;
    for (int c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(x[static_cast<std::size_t>(c)]));
    if (t == 0) {
      EXPECT_EQ(amax, 3.0f);
    }
    EXPECT_FLOAT_EQ(inv[static_cast<std::size_t>(t)], amax / 448.0f) << "tile " << t;
    const float scale = 448.0f / amax;
    for (int c = c0; c < c1; ++c) {
      const auto u = static_cast<std::size_t>(c);
      EXPECT_EQ(e4m3_bits_to_float(q[u]), nearest_e4m3(static_cast<double>(x[u] * scale))) << c;
    }
    // The tile's largest magnitude maps to ±448 exactly.
    bool has_448 = false;
    for (int c = c0; c < c1; ++c) has_448 = has_448 || std::fabs(e4m3_bits_to_float(q[static_cast<std::size_t>(c)])) == 448.0f;
    EXPECT_TRUE(has_448) << "tile " << t;
  }
}

TEST(OpKernelReference, TopkAndUnpermuteAgainstSortingAndAHandSum) {
  const int n = 40, k = 6;
  const auto x = sample_row(n, 8);
  std::int32_t idx[k];
  float val[k];
  topk_row(x.data(), n, k, idx, val);
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return x[static_cast<std::size_t>(a)] > x[static_cast<std::size_t>(b)]; });
  for (int j = 0; j < k; ++j) {
    EXPECT_EQ(idx[j], order[static_cast<std::size_t>(j)]) << j;
    EXPECT_EQ(val[j], x[static_cast<std::size_t>(order[static_cast<std::size_t>(j)])]) << j;
  }
  // Unpermute: token rows 2 and 0 of a 3×2 table with weights 0.25 and 2.
  const float table[6] = {1, 2, 3, 4, 5, 6};
  const std::int32_t ids[2] = {2, 0};
  const float wts[2] = {0.25f, 2.0f};
  float y[2];
  unpermute_row(table, ids, wts, 2, y, 2);
  EXPECT_FLOAT_EQ(y[0], 0.25f * 5 + 2 * 1);
  EXPECT_FLOAT_EQ(y[1], 0.25f * 6 + 2 * 2);
}
