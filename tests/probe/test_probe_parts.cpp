// Unit tests of the probe's parts: reference checks (and that they catch wrong results), the
// CPU kernels against them, input generation, shapes, rotation and the JSON writer.

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>
#include <thread>

#include "hardware/probe/checks.hpp"
#include "hardware/probe/cpu_kernels.hpp"
#include "hardware/probe/data_gen.hpp"
#include "hardware/probe/json_writer.hpp"
#include "hardware/probe/measurement.hpp"
#include "hardware/probe/numeric_formats.hpp"
#include "hardware/probe/rotation.hpp"
#include "hardware/probe/shapes.hpp"
#include "hardware/probe/system_info.hpp"

using namespace clustercost::probe;

namespace {

template <class T>
struct Gemm {
  std::int64_t m, n, k;
  AlignedBuffer<T> a, b, c;
  Gemm(std::int64_t m_, std::int64_t n_, std::int64_t k_, WorkerPool& pool)
      : m(m_), n(n_), k(k_), a(m_ * k_), b(k_ * n_), c(m_ * n_) {
    fill_random(a.data(), m * k, 1, pool);
    fill_random(b.data(), k * n, 2, pool);
    fill_random(c.data(), m * n, 3, pool);  // garbage the GEMM must overwrite
  }
  double error(int rows = 8, int cols = 8) const {
    return check_gemm_rowmajor(a.data(), b.data(), c.data(), m, n, k, rows, cols, 7).rel_error();
  }
};

// ------------------------------------------------------------------ checks catch wrong results

TEST(ProbeChecks, GemmCheckPassesACorrectResultAndCatchesCorruptions) {
  WorkerPool pool(1);
  Gemm<float> g(64, 96, 200, pool);
  gemm(GemmBackend::kBlocked, g.a.data(), g.b.data(), g.c.data(), g.m, g.n, g.k, pool);
  const double tol = check_tolerance("gemm", "fp32");
  EXPECT_LE(g.error(), tol);

  // One wrong entry at a position every check samples (the corners).
  const float saved = g.c[0];
  g.c[0] += 1.0f;
  EXPECT_GT(g.error(), 100 * tol);
  g.c[0] = saved;
  g.c[g.m * g.n - 1] *= -1.0f;
  EXPECT_GT(g.error(), 100 * tol);
  g.c[g.m * g.n - 1] *= -1.0f;
  EXPECT_LE(g.error(), tol);

  // A 1% scale error everywhere (e.g. a wrong alpha).
  for (std::int64_t i = 0; i < g.m * g.n; ++i) g.c[i] *= 1.01f;
  EXPECT_GT(g.error(), tol);

  // A NaN never passes.
  g.c[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isinf(g.error()));
}

TEST(ProbeChecks, GemmCheckCatchesATransposedOperand) {
  WorkerPool pool(1);
  Gemm<double> g(48, 48, 48, pool);
  // C = A·Bᵀ instead of A·B: values of the right magnitude, wrong everywhere.
  for (std::int64_t i = 0; i < g.m; ++i) {
    for (std::int64_t j = 0; j < g.n; ++j) {
      double s = 0;
      for (std::int64_t kk = 0; kk < g.k; ++kk) s += g.a[i * g.k + kk] * g.b[j * g.n + kk];
      g.c[i * g.n + j] = s;
    }
  }
  EXPECT_GT(g.error(), 0.1);
}

TEST(ProbeChecks, UnfilledOutputIsCaught) {
  WorkerPool pool(1);
  Gemm<float> g(16, 16, 16, pool);  // c holds random data, no GEMM ran
  EXPECT_GT(g.error(), 0.1);
}

TEST(ProbeChecks, EmptyComparisonNeverPasses) {
  ErrorAccumulator none;
  EXPECT_TRUE(std::isinf(none.rel_error()));
  ErrorAccumulator exact;
  exact.add(2.0, 2.0);
  EXPECT_EQ(exact.rel_error(), 0.0);
}

TEST(ProbeChecks, TolerancesAreOrderedByPrecision) {
  EXPECT_LT(check_tolerance("gemm", "fp64"), check_tolerance("gemm", "fp32"));
  EXPECT_LT(check_tolerance("gemm", "fp32"), check_tolerance("gemm", "bf16"));
  EXPECT_LT(check_tolerance("gemm", "bf16"), check_tolerance("gemm", "fp8"));
  EXPECT_LT(check_tolerance("memory", "fp32"), check_tolerance("gemm", "fp32"));
  EXPECT_EQ(check_tolerance("launch", "fp32"), 0.0);
}

TEST(ProbeChecks, SampleIndicesIncludeBothEndsAndAreDistinct) {
  const auto s = sample_indices(1000, 16, 42);
  ASSERT_EQ(s.size(), 16u);
  EXPECT_EQ(s.front(), 0);
  EXPECT_EQ(s.back(), 999);
  EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
  EXPECT_EQ(std::set<std::int64_t>(s.begin(), s.end()).size(), s.size());
  EXPECT_EQ(sample_indices(5, 16, 1), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(sample_indices(0, 4, 1).empty());
}

// ------------------------------------------------------------------ CPU kernels

class GemmBackends : public ::testing::TestWithParam<std::tuple<GemmBackend, int>> {};

TEST_P(GemmBackends, OddShapesWithEdgeTilesAreCorrect) {
  const auto [backend, threads] = GetParam();
  if (backend == GemmBackend::kEigen && !eigen_available()) GTEST_SKIP() << "built without Eigen";
  WorkerPool pool(threads);
  for (const auto& [m, n, k] : std::vector<std::tuple<int, int, int>>{
           {1, 1, 1}, {37, 71, 129}, {4, 64, 256}, {5, 300, 257}, {130, 7, 3}}) {
    Gemm<float> f(m, n, k, pool);
    gemm(backend, f.a.data(), f.b.data(), f.c.data(), f.m, f.n, f.k, pool);
    EXPECT_LE(f.error(16, 16), check_tolerance("gemm", "fp32")) << m << "x" << n << "x" << k;
    Gemm<double> d(m, n, k, pool);
    gemm(backend, d.a.data(), d.b.data(), d.c.data(), d.m, d.n, d.k, pool);
    EXPECT_LE(d.error(16, 16), check_tolerance("gemm", "fp64")) << m << "x" << n << "x" << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Probe, GemmBackends,
                         ::testing::Combine(::testing::Values(GemmBackend::kBlocked,
                                                              GemmBackend::kEigen),
                                            ::testing::Values(1, 3)));

TEST(ProbeCpuKernels, StreamCopyAndTriad) {
  WorkerPool pool(2);
  const std::int64_t n = 1001;
  AlignedBuffer<double> a(n), b(n), c(n);
  fill_random(b.data(), n, 5, pool);
  fill_random(c.data(), n, 6, pool);
  stream_copy(b.data(), a.data(), n, pool);
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(a[i], b[i]);
  stream_triad(a.data(), b.data(), c.data(), 3.0, n, pool);
  for (std::int64_t i = 0; i < n; ++i) ASSERT_DOUBLE_EQ(a[i], b[i] + 3.0 * c[i]);
}

TEST(ProbeCpuKernels, CausalAttentionMatchesTheReferenceAndIgnoresTheFuture) {
  WorkerPool pool(2);
  const std::int64_t batch = 2, heads = 3, seq = 40, d = 16, elems = batch * heads * seq * d;
  AlignedBuffer<float> q(elems), k(elems), v(elems), o(elems);
  fill_random(q.data(), elems, 1, pool);
  fill_random(k.data(), elems, 2, pool);
  fill_random(v.data(), elems, 3, pool);
  attention_causal(q.data(), k.data(), v.data(), o.data(), batch, heads, seq, d, pool);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  ErrorAccumulator err;
  std::vector<long double> ref;
  for (std::int64_t u = 0; u < batch * heads; ++u) {
    const std::int64_t base = u * seq * d;
    const auto at = [&](const AlignedBuffer<float>& x) {
      return [&x, base](std::int64_t i, std::int64_t j) { return x[base + i * d + j]; };
    };
    for (std::int64_t i = 0; i < seq; ++i) {
      reference_attention_row(at(q), at(k), at(v), i, d, scale, ref);
      for (std::int64_t j = 0; j < d; ++j)
        err.add(o[base + i * d + j], static_cast<double>(ref[j]));
    }
  }
  EXPECT_LE(err.rel_error(), check_tolerance("attention", "fp32"));
  // Row 0 attends only to key 0: its output is v[0] exactly (up to rounding).
  for (std::int64_t j = 0; j < d; ++j) EXPECT_NEAR(o[j], v[j], 1e-6);
  // Changing the last key must not change any earlier row (causality).
  const std::vector<float> before(o.data(), o.data() + seq * d);
  for (std::int64_t j = 0; j < d; ++j) k[(seq - 1) * d + j] += 1.0f;
  attention_causal(q.data(), k.data(), v.data(), o.data(), batch, heads, seq, d, pool);
  for (std::int64_t i = 0; i < (seq - 1) * d; ++i)
    ASSERT_EQ(o[i], before[static_cast<std::size_t>(i)]);
}

TEST(ProbeCpuKernels, WorkerPoolRunsEveryIndexAndPropagatesExceptions) {
  WorkerPool pool(4);
  EXPECT_EQ(pool.size(), 4);
  for (int round = 0; round < 50; ++round) {
    std::vector<int> hits(4, 0);
    pool.run([&](int t, int nt) {
      ASSERT_EQ(nt, 4);
      hits[static_cast<std::size_t>(t)] += 1;
    });
    EXPECT_EQ(hits, (std::vector<int>{1, 1, 1, 1}));
  }
  EXPECT_THROW(pool.run([](int t, int) {
    if (t == 2) throw std::runtime_error("worker failed");
  }),
               std::runtime_error);
  int calls = 0;
  pool.run([&](int t, int) {
    if (t == 0) ++calls;
  });
  EXPECT_EQ(calls, 1);  // still usable after an exception
}

// The probe's kernel samples: the CPU time of the busiest thread inside run(), which counts
// work and not waiting (time the OS gives other processes is waiting too).
TEST(ProbeCpuKernels, WorkerPoolCountsCpuTimeOfTheBusiestThread) {
  WorkerPool pool(2);
  const auto spin = [](double seconds) {
    const double t0 = thread_cpu_seconds();
    volatile double x = 0;
    while (thread_cpu_seconds() - t0 < seconds) x = x + 1;
  };
  pool.reset_cpu_time();
  EXPECT_EQ(pool.busiest_cpu_seconds(), 0.0);
  pool.run([&](int t, int) { spin(t == 1 ? 0.03 : 0.01); });
  const double busy = pool.busiest_cpu_seconds();
  EXPECT_GE(busy, 0.03);
  EXPECT_LT(busy, 0.2);
  pool.run([&](int, int) { spin(0.01); });  // accumulates until reset
  EXPECT_GE(pool.busiest_cpu_seconds(), busy + 0.01);
  pool.reset_cpu_time();
  pool.run([](int, int) { std::this_thread::sleep_for(std::chrono::milliseconds(60)); });
  EXPECT_LT(pool.busiest_cpu_seconds(), 0.03);  // sleeping is not work
  WorkerPool one(1);  // the caller alone, without a parked worker
  one.reset_cpu_time();
  one.run([&](int, int) { spin(0.01); });
  EXPECT_GE(one.busiest_cpu_seconds(), 0.01);
}

TEST(ProbeCpuKernels, SplitRangeCoversEverythingOnce) {
  for (const std::int64_t n : {0, 1, 7, 100}) {
    std::int64_t next = 0;
    for (int i = 0; i < 3; ++i) {
      const auto [b, e] = split_range(n, 3, i);
      EXPECT_EQ(b, next);
      EXPECT_GE(e, b);
      next = e;
    }
    EXPECT_EQ(next, n);
  }
}

// ------------------------------------------------------------------ inputs, shapes, rotation

TEST(ProbeInputs, RandomValuesAreNonZeroBoundedAndDeterministic) {
  int negative = 0;
  for (std::uint64_t i = 0; i < 100000; ++i) {
    const float v = random_value(9, i);
    ASSERT_GE(std::fabs(v), 0.25f);
    ASSERT_LT(std::fabs(v), 1.0f);
    negative += v < 0;
    ASSERT_EQ(v, random_value(9, i));
  }
  EXPECT_GT(negative, 45000);
  EXPECT_LT(negative, 55000);
  EXPECT_NE(random_value(1, 0), random_value(2, 0));
  EXPECT_NE(seed_for("a", 0, 0), seed_for("a", 1, 0));
  EXPECT_NE(seed_for("a", 0, 0), seed_for("a", 0, 1));
  EXPECT_NE(seed_for("a", 0, 0), seed_for("b", 0, 0));
}

TEST(ProbeInputs, NumericFormatsDecodeKnownValues) {
  EXPECT_EQ(e4m3_bits_to_float(0x00), 0.0f);
  EXPECT_EQ(e4m3_bits_to_float(0x38), 1.0f);
  EXPECT_EQ(e4m3_bits_to_float(0xB8), -1.0f);
  EXPECT_EQ(e4m3_bits_to_float(0x7E), 448.0f);
  EXPECT_EQ(e4m3_bits_to_float(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(e4m3_bits_to_float(0x30), 0.5f);
  EXPECT_EQ(e4m3_bits_to_float(0x3C), 1.5f);
  EXPECT_TRUE(std::isnan(e4m3_bits_to_float(0x7F)));
  EXPECT_EQ(bf16_bits_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bf16_bits_to_float(float_to_bf16_bits(0.25f)), 0.25f);
  // Round to nearest even: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 and goes to 1.
  EXPECT_EQ(bf16_bits_to_float(float_to_bf16_bits(1.0f + std::ldexp(1.0f, -8))), 1.0f);
  EXPECT_EQ(bf16_bits_to_float(float_to_bf16_bits(1.0f + 3 * std::ldexp(1.0f, -8))),
            1.0f + std::ldexp(1.0f, -6));
  EXPECT_TRUE(std::isnan(bf16_bits_to_float(float_to_bf16_bits(std::nanf("")))));
}

TEST(ProbeShapes, UnevenSplitSumsToTotalInMultiples) {
  const auto s = uneven_split(32768, 8, 11, 128);
  ASSERT_EQ(s.size(), 8u);
  EXPECT_EQ(std::accumulate(s.begin(), s.end(), std::int64_t{0}), 32768);
  for (const auto g : s) {
    EXPECT_GE(g, 128);
    EXPECT_EQ(g % 128, 0);
  }
  EXPECT_GT(*std::max_element(s.begin(), s.end()), *std::min_element(s.begin(), s.end()));
  EXPECT_EQ(s, uneven_split(32768, 8, 11, 128));
  EXPECT_EQ(uneven_split(4, 4, 3, 1), (std::vector<std::int64_t>{1, 1, 1, 1}));
  EXPECT_THROW(uneven_split(100, 8, 1, 128), std::invalid_argument);
  EXPECT_THROW(uneven_split(130, 1, 1, 128), std::invalid_argument);
}

TEST(ProbeShapes, SweepsIncludeModelLayerShapes) {
  const auto has = [](const std::vector<NamedGemm>& v, const std::string& name, std::int64_t n,
                      std::int64_t k) {
    return std::any_of(v.begin(), v.end(), [&](const NamedGemm& g) {
      return g.name == name && g.shape.n == n && g.shape.k == k;
    });
  };
  const auto gpu = gpu_gemm_shapes(false);
  EXPECT_TRUE(has(gpu, "dsv3_expert_down", 7168, 2048));
  EXPECT_TRUE(has(gpu, "dsv3_o_proj", 7168, 16384));
  EXPECT_TRUE(has(gpu, "llama3_70b_gate_up_tp8", 7168, 8192));
  EXPECT_TRUE(has(gpu, "llama3_70b_down_tp8", 8192, 3584));
  EXPECT_TRUE(has(cpu_gemm_shapes(true), "dsv3_expert_down", 7168, 2048));
  for (const auto& g : gpu) {
    // cuBLASLt FP8 needs dimensions that are multiples of 16.
    EXPECT_EQ(g.shape.m % 16, 0) << g.name;
    EXPECT_EQ(g.shape.n % 16, 0) << g.name;
    EXPECT_EQ(g.shape.k % 16, 0) << g.name;
  }
  for (const auto& a : gpu_attention_shapes(false)) {
    EXPECT_EQ(a.shape.seq % 64, 0);
    EXPECT_EQ(a.shape.head_dim, 128);
  }
  EXPECT_DOUBLE_EQ(attention_flops(AttentionShape{1024, 2, 64, 3, true}),
                   4.0 * 1024 * 1024 * 64 * 2 * 3 / 2);
  EXPECT_DOUBLE_EQ(attention_flops(AttentionShape{1024, 2, 64, 3, false}),
                   4.0 * 1024 * 1024 * 64 * 2 * 3);
}

TEST(ProbeRotation, SetsExceedTheCacheUnlessASetAlreadyDoes) {
  const std::int64_t cache = 32ll << 20;
  const int small = rotation_sets(1 << 20, cache, false);
  EXPECT_GE(static_cast<double>(small) * (1 << 20), 1.25 * cache);
  EXPECT_EQ(rotation_sets(cache, cache, false), 2);
  EXPECT_EQ(rotation_sets(4 * cache, cache, false), 1);
  EXPECT_EQ(rotation_sets(1 << 20, cache, true), 2);
  EXPECT_LE(static_cast<std::int64_t>(rotation_sets(1 << 10, 64ll << 30, false)) * (1 << 10),
            kMaxRotationBytes);
}

TEST(ProbeSystem, ParsesSysfsCacheSizes) {
  EXPECT_EQ(parse_cache_size("48K"), 48 * 1024);
  EXPECT_EQ(parse_cache_size("300M\n"), 300ll << 20);
  EXPECT_EQ(parse_cache_size("1G"), 1ll << 30);
  EXPECT_EQ(parse_cache_size("4096"), 4096);
  EXPECT_EQ(parse_cache_size("abc"), 0);
  EXPECT_EQ(parse_cache_size(""), 0);
}

// ------------------------------------------------------------------ JSON

TEST(ProbeJson, WriterEscapesAndParsesBack) {
  std::ostringstream out;
  JsonWriter w(out);
  w.begin_object();
  w.field("quote", "a\"b\\c\n\t\x01");
  w.field("utf8", "caf\xC3\xA9");
  w.field("bad_utf8", "x\xFFy");
  w.field("nan", std::numeric_limits<double>::quiet_NaN());
  w.field("inf", std::numeric_limits<double>::infinity());
  w.field("pi", 3.141592653589793);
  w.field("big", std::int64_t{9007199254740993});
  w.key("list");
  w.begin_array(true);
  w.value(1e-300);
  w.value(true);
  w.null();
  w.end_array();
  w.key("empty");
  w.begin_object();
  w.end_object();
  w.end_object();
  ASSERT_TRUE(w.complete());
  const auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j.at("quote"), "a\"b\\c\n\t\x01");
  EXPECT_EQ(j.at("utf8"), "caf\xC3\xA9");
  EXPECT_EQ(j.at("bad_utf8"), "x\xEF\xBF\xBDy");
  EXPECT_TRUE(j.at("nan").is_null());
  EXPECT_TRUE(j.at("inf").is_null());
  EXPECT_EQ(j.at("pi").get<double>(), 3.141592653589793);  // shortest form reads back exactly
  EXPECT_EQ(j.at("big").get<std::int64_t>(), 9007199254740993);
  EXPECT_EQ(j.at("list")[0].get<double>(), 1e-300);
  EXPECT_TRUE(j.at("empty").empty());
}

TEST(ProbeJson, WriterRejectsMisuse) {
  std::ostringstream out;
  JsonWriter w(out);
  w.begin_object();
  EXPECT_THROW(w.value(1), std::logic_error);  // value without key
  EXPECT_THROW(w.end_array(), std::logic_error);
}

TEST(ProbeJson, MeasurementsDocumentHasContractKeys) {
  MeasurementDoc doc;
  doc.device.kind = "cuda";
  doc.device.name = "Test GPU";
  doc.device.compute_units = 132;
  doc.device.clock_mhz = 1980.0;
  Measurement m;
  m.kind = "allreduce";
  m.name = "x";
  m.dtype = "fp32";
  m.shape = BytesShape{1 << 20, 8};
  m.samples = {clustercost::Seconds(2e-3), clustercost::Seconds(1e-3), clustercost::Seconds(3e-3)};
  m.bytes = clustercost::Bytes(1e6);
  m.busbw_factor = 2.0 * 7 / 8;
  doc.records.push_back(m);
  std::ostringstream out;
  write_measurements_json(doc, out);
  const auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j.at("schema"), "clustercost.measurements/1");
  EXPECT_EQ(j.at("device").at("sms"), 132);
  EXPECT_FALSE(j.at("device").contains("cores"));
  const auto& r = j.at("records")[0];
  EXPECT_EQ(r.at("time_s").get<double>(), 2e-3);  // the median
  EXPECT_EQ(r.at("shape").at("ranks"), 8);
  EXPECT_DOUBLE_EQ(r.at("achieved_gbps").get<double>(), 1e6 / 2e-3 / 1e9);
  EXPECT_DOUBLE_EQ(r.at("busbw_gbps").get<double>(), 1e6 / 2e-3 / 1e9 * 2.0 * 7 / 8);
  EXPECT_TRUE(r.at("achieved_tflops").get<double>() == 0.0);
  EXPECT_FALSE(j.contains("errors"));
  EXPECT_TRUE(doc.all_ok());

  doc.errors.push_back("gemm: CUDA error");
  EXPECT_FALSE(doc.all_ok());
  std::ostringstream out2;
  write_measurements_json(doc, out2);
  EXPECT_EQ(nlohmann::json::parse(out2.str()).at("errors")[0], "gemm: CUDA error");
  doc.errors.clear();
  doc.records[0].ok = false;
  EXPECT_FALSE(doc.all_ok());
}

}  // namespace
