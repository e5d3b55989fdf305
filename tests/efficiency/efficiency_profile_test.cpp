#include <gtest/gtest.h>

#include "tests/common/shipped_data.hpp"
#include "tests/common/test_gpus.hpp"

#include <cstdlib>
#include <filesystem>

#include "hardware/efficiency/efficiency_profile.hpp"

using namespace clustercost;

namespace {
std::filesystem::path data_dir() { return test::data_root(); }

using test::hopper;
}  // namespace

TEST(EfficiencyProfile, ShippedProfilesParseAndStayInRange) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(data_dir() / "hardware/profiles")) {
    if (e.path().extension() != ".json") continue;
    EfficiencyProfile p = load_efficiency_profile(e.path());
    EXPECT_EQ(p.gpu + ".json", e.path().filename().string());
    ASSERT_TRUE(p.gemm.count("bf16"));
    for (const auto& [prec, g] : p.gemm) {
      EXPECT_GT(g.efficiency, 0.3) << p.gpu << " " << prec;
      EXPECT_LE(g.efficiency, 1.0);
      EXPECT_FALSE(g.source.empty()) << p.gpu << " " << prec << " has no source";
    }
    EXPECT_FALSE(p.attention.source.empty());
    EXPECT_FALSE(p.memory.source.empty());
    EXPECT_FALSE(p.network.source.empty());
    ++n;
  }
  EXPECT_GE(n, 11);
}

// The shipped H800 FP8 parameters are not hand-set: refitting the recorded published samples
// with the library's own least squares gives them back.
TEST(EfficiencyProfile, H800Fp8FitIsReproducibleFromRecordedSamples) {
  EfficiencyProfile p = load_efficiency_profile(data_dir() / "hardware/profiles/H800-SXM.json");
  ASSERT_TRUE(p.fit.is_object());
  std::vector<GemmSample> samples;
  for (const auto& s : p.fit["samples"]) {
    GemmSample g;
    g.shape = {s["m"].get<double>(), s["n"].get<double>(), s["k"].get<double>(), 1};
    g.precision = "fp8";
    g.time = Seconds(2.0 * g.shape.m * g.shape.n * g.shape.k / (s["tflops"].get<double>() * 1e12));
    samples.push_back(g);
  }
  GemmFit fit = fit_gemm_efficiency(samples, 1979, 132);
  std::printf("H800 FP8 fit: e = %.4f, t0 = %.2f us, RMS relative error %.1f%% over %d GEMMs\n",
              fit.params.efficiency, fit.params.overhead_us, 100 * fit.rms_relative_error,
              fit.samples);
  EXPECT_NEAR(fit.params.efficiency, p.gemm.at("fp8").efficiency, 1e-3);
  EXPECT_NEAR(fit.params.overhead_us, p.gemm.at("fp8").overhead_us, 0.05);
  EXPECT_LT(fit.rms_relative_error, 0.10);
}

TEST(EfficiencyProfile, FitRecoversKnownParameters) {
  std::vector<GemmSample> samples;
  const double e = 0.72, t0 = 15e-6;
  for (double m : {1024.0, 2048.0, 4096.0, 8192.0})
    for (double n : {2048.0, 7168.0})
      for (double k : {1024.0, 7168.0}) {
        double q = wave_quantisation(m, n, 1, 128, 128, 132);
        double w = 2 * m * n * k;
        samples.push_back({{m, n, k, 1}, "bf16", Seconds(w / (989e12 * e * q) + t0), ""});
      }
  GemmFit fit = fit_gemm_efficiency(samples, 989, 132);
  EXPECT_NEAR(fit.params.efficiency, e, e * 0.02);
  EXPECT_NEAR(fit.params.overhead_us, 15.0, 15.0 * 0.02);
  EXPECT_LT(fit.rms_relative_error, 1e-9);
}

TEST(EfficiencyProfile, WaveQuantisation) {
  EXPECT_DOUBLE_EQ(wave_quantisation(128 * 12, 128 * 11, 1, 128, 128, 132), 1.0);  // 132 tiles
  EXPECT_NEAR(wave_quantisation(128 * 133, 128, 1, 128, 128, 132), 133.0 / 264.0, 1e-12);
  EXPECT_NEAR(wave_quantisation(64, 128 * 56, 1, 128, 128, 132), 56.0 / 132.0, 1e-12);
}

TEST(EfficiencyProfile, KernelTimeIsRooflineOfComputeAndMemory) {
  GpuSpec g = hopper();
  EfficiencyProfile p;
  p.gemm["bf16"] = {0.8, 0.0, 128, 128, ""};
  p.memory.efficiency = 0.9;
  GemmShape big{128 * 12, 128 * 11, 8192, 1};  // exactly one wave
  FlopCount w(2 * big.m * big.n * big.k);
  Seconds t = kernel_time(g, p, OpClass::Gemm, big, w, Bytes(1e6), "bf16", false);
  EXPECT_NEAR(t.value, w.value / (989e12 * 0.8), 1e-12);
  // Memory-bound: a tiny GEMM moving many bytes takes bytes / (HBM × efficiency).
  Seconds tm = kernel_time(g, p, OpClass::Memory, {}, FlopCount(0), Bytes(3.35e9), "bf16", false);
  EXPECT_NEAR(tm.value, 1.0 / 0.9 * 1e-3, 1e-9);
  // Reserving SMs for communication slows compute in proportion.
  Seconds slow = kernel_time(g, p, OpClass::Gemm, big, w, Bytes(1e6), "bf16", false, 112.0 / 132.0);
  EXPECT_NEAR(slow.value / t.value, 132.0 / 112.0, 1e-9);
}

TEST(EfficiencyProfile, BadProfileNamesPath) {
  Json j = Json::parse(R"({"gpu": "X", "gemm": {"bf16": {"efficiency": 1.7}}})");
  try {
    parse_efficiency_profile(j, "p.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "gemm.bf16.efficiency");
  }
  Json k = Json::parse(R"({"gpu": "X", "gemm": {"bf16": {}}, "memroy": {}})");
  EXPECT_THROW(parse_efficiency_profile(k, "p.json"), InputError);
}
