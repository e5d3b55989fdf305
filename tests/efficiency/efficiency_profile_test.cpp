#include <gtest/gtest.h>

#include "tests/common/kernel_cost_of.hpp"
#include "tests/common/shipped_data.hpp"
#include "tests/common/test_gpus.hpp"

#include <cstdlib>
#include <filesystem>

#include "hardware/efficiency/kernel_cost.hpp"
#include "hardware/efficiency/efficiency_profile.hpp"

using namespace clustercost;

namespace {

using clustercost::test::kernel_cost_of;

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
  EXPECT_NEAR(fit.params.efficiency, p.fit["efficiency"].get<double>(), 1e-3);
  EXPECT_NEAR(fit.params.overhead_us, p.gemm.at("fp8").overhead_us, 0.05);
  EXPECT_LT(fit.rms_relative_error, 0.10);
  // In a training step (DeepSeek's profile) the same kernels run below their standalone rate.
  EXPECT_LT(p.gemm.at("fp8").efficiency, fit.params.efficiency);
  EXPECT_LT(p.gemm.at("fp8").wgrad_efficiency, p.gemm.at("fp8").efficiency);
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
  Seconds t = kernel_cost_of(g, p, OpClass::Gemm, big, w, Bytes(1e6), "bf16");
  EXPECT_NEAR(t.value, w.value / (989e12 * 0.8), 1e-12);
  // Memory-bound: a tiny GEMM moving many bytes takes bytes / (HBM × efficiency).
  Seconds tm = kernel_cost_of(g, p, OpClass::Memory, {}, FlopCount(0), Bytes(3.35e9), "bf16");
  EXPECT_NEAR(tm.value, 1.0 / 0.9 * 1e-3, 1e-9);
  // Reserving SMs for communication slows compute in proportion.
  Seconds slow = kernel_cost_of(g, p, OpClass::Gemm, big, w, Bytes(1e6), "bf16", 112.0 / 132.0);
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

namespace {

/// A serial-form (CPU) GEMM entry with round parameters; rows split over the "SMs" (threads).
GemmEfficiency serial_gemm(double efficiency, double packing_gbps, double overhead_us) {
  GemmEfficiency g;
  g.efficiency = efficiency;
  g.packing_gbps = packing_gbps;
  g.overhead_us = overhead_us;
  g.form = GemmForm::Serial;
  g.tile_m = 1;
  g.tile_n = 1 << 30;
  return g;
}

}  // namespace

TEST(EfficiencyProfile, SerialFormAddsArithmeticPackingOfKxNAndFixedTime) {
  GpuSpec g = hopper();
  g.fp32_tflops.value = 0.1;
  g.sms.value = 2;  // two threads: rows are split over them
  EfficiencyProfile p;
  p.gemm["fp32"] = serial_gemm(0.5, 2.0, 3.0);
  p.launch_overhead_us = 1.0;
  const GemmShape s{17, 4096, 2048, 1};  // 17 rows on 2 threads: 9 rows' time
  const FlopCount w(2.0 * 17 * 4096 * 2048);
  const double q = 17.0 / 18.0;
  const double want = w.value / (0.1e12 * 0.5 * q) + 4096.0 * 2048 * 4 / 2e9 + 4e-6;
  // The op's `bytes` do not enter the serial form: the k×n operand does.
  for (double bytes : {0.0, 1e9}) {
    const Seconds t = kernel_cost_of(g, p, OpClass::Gemm, s, w, Bytes(bytes), "fp32");
    EXPECT_NEAR(t.value, want, want * 1e-12);
  }
  // fp64 operands are twice the bytes; grouped GEMMs pack the k×n operand of every group.
  EXPECT_DOUBLE_EQ(packed_operand_bytes(s, "fp64"), 4096.0 * 2048 * 8);
  EXPECT_DOUBLE_EQ(packed_operand_bytes({16, 1024, 512, 4}, "fp32"), 4.0 * 1024 * 512 * 4);
  // packing_gbps 0: no packing term.
  p.gemm["fp32"].packing_gbps = 0;
  const Seconds t0 = kernel_cost_of(g, p, OpClass::Gemm, s, w, Bytes(1e9), "fp32");
  EXPECT_NEAR(t0.value, w.value / (0.1e12 * 0.5 * q) + 4e-6, 1e-15);
}

TEST(EfficiencyProfile, SerialFitRecoversKnownParametersUnderBounds) {
  const double peak = 0.05;  // TFLOP/s
  const auto sample = [&](const GemmEfficiency& g, GemmShape s) {
    const double w = 2 * s.m * s.n * s.k * s.groups;
    const double t = w / (peak * 1e12 * g.efficiency) +
                     packed_operand_bytes(s, "fp64") / (g.packing_gbps * 1e9) + g.overhead_us * 1e-6;
    return GemmSample{s, "fp64", Seconds(t), ""};
  };
  const GemmEfficiency truth = serial_gemm(0.62, 1.7, 40.0);
  std::vector<GemmSample> samples;
  for (GemmShape s : std::vector<GemmShape>{{128, 128, 128, 1},
                                            {256, 256, 256, 1},
                                            {512, 512, 512, 1},
                                            {16, 7168, 2048, 1},
                                            {48, 8192, 1024, 1},
                                            {16, 1024, 512, 4}})
    samples.push_back(sample(truth, s));
  const GemmFit f = fit_gemm_serial(samples, peak, 1, 1, 1 << 30);
  EXPECT_EQ(f.samples, 6);
  EXPECT_EQ(f.params.form, GemmForm::Serial);
  EXPECT_NEAR(f.params.efficiency, truth.efficiency, truth.efficiency * 0.02);
  EXPECT_NEAR(f.params.packing_gbps, truth.packing_gbps, truth.packing_gbps * 0.02);
  EXPECT_NEAR(f.params.overhead_us, truth.overhead_us, truth.overhead_us * 0.02);
  EXPECT_LT(f.rms_relative_error, 1e-9);

  // Data without a packing cost or a fixed time give those terms exactly zero, not negative.
  std::vector<GemmSample> pure;
  for (const auto& s : samples) {
    const double w = 2 * s.shape.m * s.shape.n * s.shape.k * s.shape.groups;
    pure.push_back({s.shape, "fp64", Seconds(w / (peak * 1e12 * 0.7)), ""});
  }
  const GemmFit fp = fit_gemm_serial(pure, peak, 1, 1, 1 << 30);
  EXPECT_NEAR(fp.params.efficiency, 0.7, 1e-9);
  EXPECT_EQ(fp.params.packing_gbps, 0.0);
  EXPECT_EQ(fp.params.overhead_us, 0.0);

  // Faster than the peak: the efficiency stays at its bound, 1.
  std::vector<GemmSample> fast = pure;
  for (auto& s : fast) s.time = Seconds(s.time.value * 0.5);
  EXPECT_DOUBLE_EQ(fit_gemm_serial(fast, peak, 1, 1, 1 << 30).params.efficiency, 1.0);
  EXPECT_EQ(fit_gemm_serial({}, peak, 1, 1, 1 << 30).samples, 0);
}

TEST(EfficiencyProfile, SerialFormRoundTripsAndRooflineProfilesKeepTheirKeys) {
  EfficiencyProfile p;
  p.gpu = "cpu";
  p.gemm["fp64"] = serial_gemm(0.9, 1.25, 7.5);
  p.gemm["fp32"] = GemmEfficiency{};
  const Json j = efficiency_profile_to_json(p);
  EXPECT_EQ(j["gemm"]["fp64"]["form"], "serial");
  EXPECT_FALSE(j["gemm"]["fp32"].contains("form"));
  EXPECT_FALSE(j["gemm"]["fp32"].contains("packing_gbps"));
  const EfficiencyProfile back = parse_efficiency_profile(j, "round-trip");
  EXPECT_EQ(back.gemm.at("fp64").form, GemmForm::Serial);
  EXPECT_DOUBLE_EQ(back.gemm.at("fp64").packing_gbps, 1.25);
  EXPECT_EQ(back.gemm.at("fp64").tile_n, 1 << 30);
  EXPECT_EQ(back.gemm.at("fp32").form, GemmForm::Roofline);
  // Every shipped profile loads in the roofline form and writes no serial-form key.
  for (const auto& e : std::filesystem::directory_iterator(data_dir() / "hardware/profiles")) {
    if (e.path().extension() != ".json") continue;
    const EfficiencyProfile s = load_efficiency_profile(e.path());
    const Json out = efficiency_profile_to_json(s);
    for (const auto& [prec, g] : s.gemm) {
      EXPECT_EQ(g.form, GemmForm::Roofline) << e.path();
      EXPECT_FALSE(out["gemm"][prec].contains("form")) << e.path();
    }
  }
  Json bad = j;
  bad["gemm"]["fp64"]["form"] = "pipelined";
  try {
    parse_efficiency_profile(bad, "p.json");
    ADD_FAILURE() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "gemm.fp64.form");
  }
  bad = j;
  bad["gemm"]["fp64"]["packing_gbps"] = -1;
  EXPECT_THROW(parse_efficiency_profile(bad, "p.json"), InputError);
}
