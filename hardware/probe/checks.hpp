#pragma once
/// Reference checks. Every timed kernel's output is compared, on sampled entries, with an
/// independent recomputation in (long) double precision from the exact inputs it consumed.
///
/// The error of a check is max|got − ref| / rms(ref) over the sampled entries. Normalising by the
/// RMS of the reference (not by each entry, nor by Σ|a·b|) keeps the measure meaningful for
/// sums with random signs: a correct result is off by a few rounding units of the output format,
/// a wrong one (bad index, transposed operand, stale buffer) by O(1). A non-finite output gives
/// an infinite error. Header-only: the CUDA part uses it from host code.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string_view>
#include <vector>

#include "hardware/probe/data_gen.hpp"
#include "hardware/probe/measurement.hpp"

namespace clustercost::probe {

class ErrorAccumulator {
 public:
  void add(double got, double ref) {
    const double d = std::fabs(got - ref);
    if (!std::isfinite(d)) {
      non_finite_ = true;
    } else {
      max_abs_diff_ = std::max(max_abs_diff_, d);
    }
    sum_sq_ref_ += ref * ref;
    ++count_;
  }
  void merge(const ErrorAccumulator& o) {
    max_abs_diff_ = std::max(max_abs_diff_, o.max_abs_diff_);
    sum_sq_ref_ += o.sum_sq_ref_;
    count_ += o.count_;
    non_finite_ = non_finite_ || o.non_finite_;
  }
  /// Infinite when nothing was compared or an output was NaN/inf: an unchecked result never
  /// passes.
  double rel_error() const {
    if (non_finite_ || count_ == 0) return std::numeric_limits<double>::infinity();
    const double rms = std::sqrt(sum_sq_ref_ / static_cast<double>(count_));
    if (max_abs_diff_ == 0.0) return 0.0;
    return max_abs_diff_ / std::max(rms, std::numeric_limits<double>::min());
  }
  std::int64_t count() const { return count_; }

 private:
  double max_abs_diff_ = 0.0;
  double sum_sq_ref_ = 0.0;
  std::int64_t count_ = 0;
  bool non_finite_ = false;
};

/// Largest acceptable check error for a record kind and dtype. Derivation (README.md, "Checks"):
/// a correct GEMM differs from the reference by accumulation rounding (≈ eps·√k relative to the
/// output's RMS) plus the output rounding (2^-9 for bf16); the bounds below leave a margin of
/// 10–100× over that, while a wrong result scores ~1. FP8 is looser because Hopper FP8 tensor
/// cores accumulate with reduced precision (DeepSeek-V3 report, arXiv:2412.19437 §3.3.2).
/// Data movement and collectives of exact data must be exact up to one rounding of a triad.
inline double check_tolerance(std::string_view kind, std::string_view dtype) {
  const bool movement =
      kind == "memory" || kind == "p2p" || kind == "allreduce" || kind == "alltoall";
  if (kind == "launch") return 0.0;
  if (dtype == "fp64") return movement ? 1e-12 : 1e-10;
  if (dtype == "fp32") return movement ? 1e-6 : 1e-4;
  if (dtype == "bf16") return kind == "attention" ? 3e-2 : 2e-2;
  if (dtype == "fp8") return 5e-2;
  return 0.0;
}

/// Records a check's error, sets ok from the kind/dtype tolerance, and logs one line (flushed,
/// so a long GPU run shows progress). Shared by the CPU and the CUDA probes.
inline void finish_record(Measurement& m, double check_error, std::ostream& log) {
  m.check_rel_error = check_error;
  m.ok = m.check_rel_error <= check_tolerance(m.kind, m.dtype);
  const double t = m.median().value;
  char line[256];
  std::snprintf(line, sizeof line,
                "%-12s %-5s %-28s %10.4f ms %9.3f TFLOP/s %9.2f GB/s  err %.2e %s", m.kind.c_str(),
                m.dtype.c_str(), m.name.c_str(), t * 1e3, t > 0 ? m.flops.value / t / 1e12 : 0.0,
                t > 0 ? m.bytes.value / t / 1e9 : 0.0, m.check_rel_error,
                m.ok ? "ok" : "CHECK FAILED");
  log << line << std::endl;
}

/// `count` distinct indices in [0, n), always including the first and the last (edges are where
/// tiling bugs show), the rest drawn from (seed, i); sorted.
inline std::vector<std::int64_t> sample_indices(std::int64_t n, int count, std::uint64_t seed) {
  std::vector<std::int64_t> r;
  if (n <= 0 || count <= 0) return r;
  if (n <= count) {
    for (std::int64_t i = 0; i < n; ++i) r.push_back(i);
    return r;
  }
  r.push_back(0);
  r.push_back(n - 1);
  const auto attempts = 64u * static_cast<std::uint64_t>(count);
  for (std::uint64_t i = 0; static_cast<int>(r.size()) < count && i < attempts; ++i) {
    const auto v = static_cast<std::int64_t>(random_below(seed, i, static_cast<std::uint64_t>(n)));
    if (std::find(r.begin(), r.end(), v) == r.end()) r.push_back(v);
  }
  std::sort(r.begin(), r.end());
  return r;
}

/// Sampled check of a row-major GEMM C(m×n) = A(m×k)·B(k×n) on the host: rows × cols entries
/// (sample_indices), each recomputed in long double. This is also the test hook: feed it a
/// corrupted C and it must report a large error.
template <class T>
ErrorAccumulator check_gemm_rowmajor(const T* a, const T* b, const T* c, std::int64_t m,
                                     std::int64_t n, std::int64_t k, int rows, int cols,
                                     std::uint64_t seed) {
  ErrorAccumulator acc;
  const auto is = sample_indices(m, rows, seed);
  const auto js = sample_indices(n, cols, seed ^ 0x5bd1e995u);
  for (const std::int64_t i : is) {
    for (const std::int64_t j : js) {
      long double ref = 0.0L;
      for (std::int64_t kk = 0; kk < k; ++kk) {
        ref += static_cast<long double>(a[i * k + kk]) * static_cast<long double>(b[kk * n + j]);
      }
      acc.add(static_cast<double>(c[i * n + j]), static_cast<double>(ref));
    }
  }
  return acc;
}

/// One row of causal attention recomputed in long double: out[d] for query `i` of one head,
/// q/k/v of that head row-major [seq][head_dim] (any element type convertible to double).
template <class GetQ, class GetK, class GetV>
void reference_attention_row(GetQ q, GetK k, GetV v, std::int64_t i, std::int64_t head_dim,
                             double scale, std::vector<long double>& out) {
  std::vector<long double> s(static_cast<std::size_t>(i + 1));
  long double mx = -std::numeric_limits<long double>::infinity();
  for (std::int64_t j = 0; j <= i; ++j) {
    long double dot = 0.0L;
    for (std::int64_t d = 0; d < head_dim; ++d) {
      dot += static_cast<long double>(q(i, d)) * static_cast<long double>(k(j, d));
    }
    s[static_cast<std::size_t>(j)] = dot * scale;
    mx = std::max(mx, s[static_cast<std::size_t>(j)]);
  }
  long double sum = 0.0L;
  for (auto& x : s) {
    x = std::exp(x - mx);
    sum += x;
  }
  out.assign(static_cast<std::size_t>(head_dim), 0.0L);
  for (std::int64_t j = 0; j <= i; ++j) {
    const long double p = s[static_cast<std::size_t>(j)] / sum;
    for (std::int64_t d = 0; d < head_dim; ++d) {
      out[static_cast<std::size_t>(d)] += p * static_cast<long double>(v(j, d));
    }
  }
}

}  // namespace clustercost::probe
