#include <gtest/gtest.h>

#include "tests/common/shipped_data.hpp"
#include "tests/common/test_gpus.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "hardware/efficiency/calibration.hpp"
#include "hardware/probe/probe.hpp"

using namespace clustercost;

namespace {

std::filesystem::path data_dir() { return test::data_root(); }

using test::hopper;

/// The profile the synthetic measurements are generated from.
EfficiencyProfile truth() {
  EfficiencyProfile p;
  p.gpu = "test-hopper";
  p.gemm["bf16"] = GemmEfficiency{0.71, 6.0, 128, 128, ""};
  p.gemm["fp8"] = GemmEfficiency{0.58, 9.0, 128, 128, ""};
  p.memory.efficiency = 0.86;
  p.attention.forward = 0.47;
  p.launch_overhead_us = 2.5;
  return p;
}

Json device_block() {
  return {{"kind", "cuda"}, {"name", "Test Hopper"}, {"sms", 132}, {"clock_mhz", 1980},
          {"memory_gib", 80}, {"driver", "d"}, {"runtime", "r"}, {"compiler", "c"},
          {"gemm_backend", "synthetic"}, {"date", "2026-01-02T03:04:05Z"}, {"host", "h"},
          {"l2_bytes", 52428800}};
}

Json record(const std::string& kind, const std::string& name, const std::string& dtype,
            Json shape, double flops, double bytes, Seconds t) {
  return {{"kind", kind}, {"name", name}, {"dtype", dtype}, {"shape", std::move(shape)},
          {"time_s", t.value}, {"times_s", {t.value}}, {"flops", flops}, {"bytes", bytes},
          {"check_rel_error", 0.0}, {"ok", true}, {"impl", "synthetic"}};
}

/// Measurements generated with kernel_time from truth(): GEMMs of several sizes (including one
/// with a partial last wave and a grouped one), copy/triad, attention, launch.
Json synthetic_doc() {
  const GpuSpec g = hopper();
  const EfficiencyProfile p = truth();
  Json recs = Json::array();
  const std::vector<std::array<double, 3>> shapes = {
      {1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 4096, 4096}, {8192, 8192, 8192},
      {4096, 7168, 2048}, {1536, 4096, 7168}, {16384, 16384, 16384}};
  for (const std::string dtype : {"bf16", "fp8"}) {
    const double in = dtype == "fp8" ? 1 : 2;
    for (const auto& s : shapes) {
      GemmShape sh{s[0], s[1], s[2], 1};
      const double flops = 2 * s[0] * s[1] * s[2];
      const double bytes = (s[0] * s[2] + s[2] * s[1]) * in + s[0] * s[1] * 2;
      Seconds t = kernel_time(g, p, OpClass::Gemm, sh, FlopCount(flops), Bytes(bytes), dtype, false);
      recs.push_back(record("gemm", "sq", dtype, {{"m", s[0]}, {"n", s[1]}, {"k", s[2]}}, flops,
                            bytes, t));
    }
  }
  {  // grouped: 8 groups of uneven rows, mean 4096
    std::vector<std::int64_t> gm = {3072, 5120, 4096, 4096, 2048, 6144, 4096, 4096};
    GemmShape sh{4096, 4096, 7168, 8};
    const double flops = 2.0 * 32768 * 4096 * 7168;
    const double bytes = (32768.0 * 7168 + 8.0 * 7168 * 4096) * 2 + 32768.0 * 4096 * 2;
    Seconds t = kernel_time(g, p, OpClass::GroupedGemm, sh, FlopCount(flops), Bytes(bytes), "bf16",
                            false);
    recs.push_back(record("grouped_gemm", "moe", "bf16",
                          {{"m", 32768}, {"n", 4096}, {"k", 7168}, {"groups", 8}, {"group_m", gm}},
                          flops, bytes, t));
  }
  for (const std::string name : {"copy", "triad"}) {
    const double size = 1 << 30, bytes = (name == "copy" ? 2 : 3) * size;
    Seconds t = kernel_time(g, p, OpClass::Memory, {}, FlopCount(0), Bytes(bytes), "bf16", false);
    recs.push_back(record("memory", name, "bf16", {{"bytes", size}}, 0, bytes, t));
  }
  {
    const double flops = 4.0 * 8192 * 8192 * 128 * 16 / 2, bytes = 4.0 * 16 * 8192 * 128 * 2;
    Seconds t = kernel_time(g, p, OpClass::Attention, {}, FlopCount(flops), Bytes(bytes), "bf16",
                            false);
    recs.push_back(record("attention", "fa", "bf16",
                          {{"seq", 8192}, {"heads", 16}, {"head_dim", 128}, {"batch", 1},
                           {"causal", true}},
                          flops, bytes, t));
  }
  recs.push_back(record("launch", "empty_kernel_back_to_back", "fp32", {{"calls", 100}}, 0, 0,
                        Seconds(p.launch_overhead_us * 1e-6)));
  return {{"schema", "clustercost.measurements/1"}, {"device", device_block()},
          {"settings", {{"quick", false}}}, {"records", recs}, {"skipped", Json::array()}};
}

void expect_within(double got, double want, double rel, const std::string& what) {
  EXPECT_NEAR(got, want, std::abs(want) * rel) << what;
}

}  // namespace

TEST(Calibration, RecoversKnownParametersFromSyntheticMeasurements) {
  const Measurements m = parse_measurements(synthetic_doc(), "synthetic.json");
  ASSERT_EQ(m.records.size(), 19u);
  const EfficiencyProfile fitted = calibrate(m, hopper(), "synthetic.json");
  const EfficiencyProfile t = truth();
  for (const std::string dtype : {"bf16", "fp8"}) {
    ASSERT_TRUE(fitted.gemm.count(dtype)) << dtype;
    expect_within(fitted.gemm.at(dtype).efficiency, t.gemm.at(dtype).efficiency, 0.02, dtype);
    expect_within(fitted.gemm.at(dtype).overhead_us, t.gemm.at(dtype).overhead_us, 0.02, dtype);
  }
  expect_within(fitted.memory.efficiency, t.memory.efficiency, 0.02, "memory");
  expect_within(fitted.attention.forward, t.attention.forward, 0.02, "attention");
  expect_within(fitted.launch_overhead_us, t.launch_overhead_us, 0.02, "launch");
  // No collectives measured: the network stays at the defaults.
  EXPECT_DOUBLE_EQ(fitted.network.scale_up, NetworkEfficiency{}.scale_up);
  // Provenance: hash, date, sample counts; the profile round-trips through its JSON format.
  EXPECT_EQ(fitted.fit.at("date"), "2026-01-02T03:04:05Z");
  EXPECT_EQ(fitted.fit.at("measurements_fnv1a64").get<std::string>().size(), 16u);
  EXPECT_EQ(fitted.fit.at("gemm").at("bf16").at("samples"), 8);  // 7 dense + 1 grouped
  EXPECT_LT(fitted.fit.at("gemm").at("bf16").at("rms_relative_error").get<double>(), 1e-6);
  const EfficiencyProfile back =
      parse_efficiency_profile(efficiency_profile_to_json(fitted), "round-trip");
  EXPECT_DOUBLE_EQ(back.gemm.at("fp8").efficiency, fitted.gemm.at("fp8").efficiency);
  // The calibrated profile predicts its own measurements; the neutral one does not.
  const auto rows = predict_kernels(m, hopper(), neutral_profile(hopper()), fitted);
  const KernelMape k = kernel_mape(rows);
  EXPECT_EQ(k.kernels, 19);
  EXPECT_LT(k.calibrated, 0.01);
  EXPECT_GT(k.default_profile, 0.05);
}

TEST(Calibration, ParseErrorsNameTheJsonPath) {
  const auto path_of_error = [](const Json& j) {
    try {
      parse_measurements(j, "m.json");
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), "m.json");
      return e.json_path();
    }
    return std::string("no error");
  };
  Json j = synthetic_doc();
  j["records"][3].erase("time_s");
  EXPECT_EQ(path_of_error(j), "records[3].time_s");
  j = synthetic_doc();
  j["records"][0]["shape"]["m"] = "big";
  EXPECT_EQ(path_of_error(j), "records[0].shape.m");
  j = synthetic_doc();
  j["records"][14]["shape"]["group_m"] = Json::array({1, 2});
  EXPECT_EQ(path_of_error(j), "records[14].shape.group_m");
  j = synthetic_doc();
  j["device"]["kind"] = "tpu";
  EXPECT_EQ(path_of_error(j), "device.kind");
  j = synthetic_doc();
  j["schema"] = "clustercost.measurements/2";
  EXPECT_EQ(path_of_error(j), "schema");
  j = synthetic_doc();
  j["records"][2]["kind"] = "conv";
  EXPECT_EQ(path_of_error(j), "records[2].kind");
  // Extension keys are tolerated at every level.
  j = synthetic_doc();
  j["future"] = 1;
  j["device"]["numa_nodes"] = 2;
  j["records"][0]["power_w"] = 700;
  EXPECT_EQ(path_of_error(j), "no error");
  // A CPU device without a clock cannot give a peak: an error naming device.clock_mhz.
  j = synthetic_doc();
  j["device"]["kind"] = "cpu";
  j["device"].erase("sms");
  j["device"]["cores"] = 4;
  j["device"]["clock_mhz"] = nullptr;
  const Measurements m = parse_measurements(j, "cpu.json");
  try {
    device_spec_from(m);
    ADD_FAILURE() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "device.clock_mhz");
  }
}

TEST(Calibration, DeviceSpecFromCatalogueAndCpuBlock) {
  const Catalog catalog = Catalog::load(data_dir() / "hardware/catalog");
  Json j = synthetic_doc();
  j["device"]["name"] = "NVIDIA H200";
  GpuSpec s = device_spec_from(parse_measurements(j, "h200.json"), &catalog);
  EXPECT_EQ(s.name, "H200-SXM");
  EXPECT_EQ(s.sms.get(), 132);
  ASSERT_NE(match_catalog_gpu(catalog, "NVIDIA A100-SXM4-80GB"), nullptr);
  EXPECT_EQ(match_catalog_gpu(catalog, "NVIDIA A100-SXM4-80GB")->name, "A100-80G-SXM");
  EXPECT_EQ(match_catalog_gpu(catalog, "Some Unknown Accelerator"), nullptr);

  // CPU: 2 threads × 3000 MHz × (512/64 lanes × 2 FMA × 2 pipes) = 0.192 TFLOP/s fp64.
  j["device"] = {{"kind", "cpu"}, {"name", "x"}, {"cores", 8}, {"clock_mhz", 3000},
                 {"memory_gib", 16}, {"driver", "d"}, {"runtime", "r"}, {"compiler", "c"},
                 {"gemm_backend", "eigen"}, {"date", "2026"}, {"host", "h"},
                 {"simd", "avx512f avx2 fma"}, {"threads", 2}};
  s = device_spec_from(parse_measurements(j, "cpu.json"), &catalog);
  EXPECT_NEAR(*s.peak_tflops("fp64"), 0.192, 1e-9);
  EXPECT_NEAR(*s.peak_tflops("fp32"), 0.384, 1e-9);
  EXPECT_EQ(s.sms.get(), 2);
  // The nominal bandwidth is the best measured copy: 2 GiB in the synthetic copy's time.
  const Measurements m = parse_measurements(j, "cpu.json");
  double best = 0;
  for (const auto& r : m.records)
    if (r.kind == "memory") best = std::max(best, r.bytes.value / r.time.value);
  EXPECT_NEAR(s.hbm_tbps.get() * 1e12, best, best * 1e-12);
}

TEST(Calibration, RealCpuQuickProbe) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("clustercost-calib-" + std::to_string(::getpid()) + ".json");
  ProbeOptions o;
  o.device = "cpu";
  o.quick = true;
  o.output_path = file.string();
  std::ostringstream log;
  ASSERT_EQ(run_probe(o, log), kProbeOk) << log.str();
  const Measurements m = load_measurements(file);
  std::filesystem::remove(file);
  const GpuSpec spec = device_spec_from(m);
  const EfficiencyProfile cal = calibrate(m, spec, file.string());
  const auto rows = predict_kernels(m, spec, neutral_profile(spec), cal);
  const KernelMape k = kernel_mape(rows);
  for (const auto& r : rows)
    std::cout << r.kind << " " << r.name << " " << r.dtype << " measured " << r.measured.value
              << " s, default " << r.error_default * 100 << "%, calibrated "
              << r.error_calibrated * 100 << "%\n";
  std::cout << "CPU kernels: " << k.kernels << ", MAPE default (neutral) "
            << k.default_profile * 100 << "%, calibrated " << k.calibrated * 100 << "%\n";
  EXPECT_GE(k.kernels, 10);
  EXPECT_LT(k.calibrated, k.default_profile);
  // KNOWN GAP (issue 5 stays open): the 15% MAPE target is not asserted. Timings of real CPU
  // kernels taken while ctest runs other tests beside this one are too noisy to pin (copy and
  // triad of the same array size were seen 4× apart), and CPU GEMM efficiency varies by shape
  // (M = 16 layers run at a fraction of the square ones) beyond one efficiency and one fixed
  // time per dtype. The synthetic test above pins the fit itself.
  for (const auto& r : rows) {
    EXPECT_TRUE(std::isfinite(r.predicted_calibrated.value)) << r.name;
    EXPECT_GT(r.predicted_calibrated.value, 0.0) << r.name;
  }
}
