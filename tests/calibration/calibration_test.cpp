#include <gtest/gtest.h>

#include "tests/common/sanitizer.hpp"
#include "tests/common/kernel_cost_of.hpp"
#include "tests/common/shipped_data.hpp"
#include "tests/common/test_gpus.hpp"

#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <tuple>
#include <unistd.h>

#include "hardware/efficiency/kernel_cost.hpp"
#include "hardware/efficiency/calibration.hpp"
#include "hardware/probe/probe.hpp"

using namespace clustercost;

namespace {

using clustercost::test::kernel_cost_of;

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

/// Measurements generated with kernel_cost from truth(): GEMMs of several sizes (including one
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
      Seconds t = kernel_cost_of(g, p, OpClass::Gemm, sh, FlopCount(flops), Bytes(bytes), dtype);
      recs.push_back(record("gemm", "sq", dtype, {{"m", s[0]}, {"n", s[1]}, {"k", s[2]}}, flops,
                            bytes, t));
    }
  }
  {  // grouped: 8 groups of uneven rows, mean 4096
    std::vector<std::int64_t> gm = {3072, 5120, 4096, 4096, 2048, 6144, 4096, 4096};
    GemmShape sh{4096, 4096, 7168, 8};
    const double flops = 2.0 * 32768 * 4096 * 7168;
    const double bytes = (32768.0 * 7168 + 8.0 * 7168 * 4096) * 2 + 32768.0 * 4096 * 2;
    Seconds t = kernel_cost_of(g, p, OpClass::GroupedGemm, sh, FlopCount(flops), Bytes(bytes), "bf16");
    recs.push_back(record("grouped_gemm", "moe", "bf16",
                          {{"m", 32768}, {"n", 4096}, {"k", 7168}, {"groups", 8}, {"group_m", gm}},
                          flops, bytes, t));
  }
  for (const std::string name : {"copy", "triad"}) {
    const double size = 1 << 30, bytes = (name == "copy" ? 2 : 3) * size;
    Seconds t = kernel_cost_of(g, p, OpClass::Memory, {}, FlopCount(0), Bytes(bytes), "bf16");
    recs.push_back(record("memory", name, "bf16", {{"bytes", size}}, 0, bytes, t));
  }
  {
    const double flops = 4.0 * 8192 * 8192 * 128 * 16 / 2, bytes = 4.0 * 16 * 8192 * 128 * 2;
    Seconds t = kernel_cost_of(g, p, OpClass::Attention, {}, FlopCount(flops), Bytes(bytes), "bf16");
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

double g32_grouped(const EfficiencyProfile& p) { return p.gemm.at("fp32").grouped_efficiency; }

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
  // The base parameters from the 7 dense GEMMs; the grouped one fits grouped_efficiency (its
  // truth is the dense figure: the profile has no grouped figure of its own).
  EXPECT_EQ(fitted.fit.at("gemm").at("bf16").at("samples"), 7);
  expect_within(fitted.gemm.at("bf16").grouped_efficiency, t.gemm.at("bf16").efficiency, 0.02,
                "grouped");
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

namespace {

/// A CPU device block: 2 threads at 3000 MHz with AVX2 and FMA, so fp64 peak
/// 2 × 3000 MHz × (4 lanes × 2 × 2 pipes) = 0.096 TFLOP/s and fp32 0.192.
Json cpu_device_block(int threads) {
  return {{"kind", "cpu"}, {"name", "Test CPU"}, {"cores", 8}, {"clock_mhz", 3000},
          {"memory_gib", 16}, {"driver", "d"}, {"runtime", "r"}, {"compiler", "c"},
          {"gemm_backend", "eigen"}, {"date", "2026-02-03T04:05:06Z"}, {"host", "h"},
          {"simd", "avx2 fma"}, {"threads", threads}};
}

/// Measurements of that CPU generated with kernel_cost from a known serial-form profile, the
/// shapes of the quick CPU probe plus a few, and STREAM copy/triad, attention and a wake-up.
Json synthetic_cpu_doc(const EfficiencyProfile& p, int threads, const GpuSpec& spec) {
  Json recs = Json::array();
  const std::vector<std::array<double, 3>> shapes = {
      {128, 128, 128}, {256, 256, 256}, {512, 512, 512}, {16, 7168, 2048}, {48, 8192, 1024},
      {64, 2112, 7168}, {33, 1280, 8192}};
  for (const std::string dtype : {"fp32", "fp64"}) {
    const double el = dtype == "fp64" ? 8 : 4;
    for (const auto& s : shapes) {
      const GemmShape sh{s[0], s[1], s[2], 1};
      const double flops = 2 * s[0] * s[1] * s[2];
      const double bytes = (s[0] * s[2] + s[2] * s[1] + s[0] * s[1]) * el;
      const Seconds t =
          kernel_cost_of(spec, p, OpClass::Gemm, sh, FlopCount(flops), Bytes(bytes), dtype);
      recs.push_back(record("gemm", "g", dtype, {{"m", s[0]}, {"n", s[1]}, {"k", s[2]}}, flops,
                            bytes, t));
    }
  }
  {  // the quick probe's grouped GEMM: 4 experts, 64 tokens
    const std::vector<std::int64_t> gm = {12, 20, 16, 16};
    const GemmShape sh{16, 1024, 512, 4};
    const double flops = 2.0 * 64 * 1024 * 512, bytes = (64.0 * 512 + 4.0 * 512 * 1024 + 64.0 * 1024) * 4;
    const Seconds t = kernel_cost_of(spec, p, OpClass::GroupedGemm, sh, FlopCount(flops), Bytes(bytes),
                                  "fp32");
    recs.push_back(record("grouped_gemm", "moe", "fp32",
                          {{"m", 64}, {"n", 1024}, {"k", 512}, {"groups", 4}, {"group_m", gm}},
                          flops, bytes, t));
  }
  for (const std::string name : {"copy", "triad"}) {
    const double size = 64 << 20, bytes = (name == "copy" ? 2 : 3) * size;
    const Seconds t = kernel_cost_of(spec, p, OpClass::Memory, {}, FlopCount(0), Bytes(bytes), "fp64");
    recs.push_back(record("memory", name, "fp64", {{"bytes", size}}, 0, bytes, t));
  }
  {
    const double flops = 4.0 * 1024 * 1024 * 128 * 4 / 2, bytes = 4.0 * 4 * 1024 * 128 * 4;
    const Seconds t = kernel_cost_of(spec, p, OpClass::Attention, {}, FlopCount(flops), Bytes(bytes),
                                  "fp32");
    recs.push_back(record("attention", "att", "fp32",
                          {{"seq", 1024}, {"heads", 4}, {"head_dim", 128}, {"batch", 1},
                           {"causal", true}},
                          flops, bytes, t));
  }
  recs.push_back(record("launch", "cpu_thread_wake", "fp32", {{"calls", 200}}, 0, 0,
                        Seconds(threads > 1 ? p.launch_overhead_us * 1e-6 : 6e-6)));
  return {{"schema", "clustercost.measurements/1"}, {"device", cpu_device_block(threads)},
          {"settings", {{"quick", false}}}, {"records", recs}};
}

EfficiencyProfile cpu_truth(double launch_us) {
  EfficiencyProfile p;
  p.gpu = "cpu";
  for (const auto& [dtype, e, gbps, t0] :
       {std::tuple{"fp32", 0.64, 2.9, 12.0}, std::tuple{"fp64", 0.81, 1.1, 30.0}}) {
    GemmEfficiency g;
    g.form = GemmForm::Serial;
    g.efficiency = e;
    g.packing_gbps = gbps;
    g.overhead_us = t0;
    g.tile_m = 1;
    g.tile_n = 1 << 30;
    p.gemm[dtype] = g;
  }
  p.memory.efficiency = 0.93;
  p.attention.forward = 0.21;
  p.launch_overhead_us = launch_us;
  return p;
}

}  // namespace

// The "recovers known parameters within 2%", for the CPU (serial) form: measurements
// generated from a known profile on a CPU whose kernels ran on 2 threads (so they paid the
// wake-up) and on 1 thread (no wake-up: the profile charges none).
TEST(Calibration, RecoversKnownCpuParametersFromSyntheticMeasurements) {
  for (const int threads : {2, 1}) {
    SCOPED_TRACE(threads);
    const EfficiencyProfile t = cpu_truth(threads > 1 ? 8.0 : 0.0);
    const Json dev = cpu_device_block(threads);
    // The spec the generator prices with is the one calibrate derives from the device block
    // (the synthetic kernels are slower than the peak, so no clock raise).
    const GpuSpec spec = device_spec_from(parse_measurements(
        {{"schema", "clustercost.measurements/1"}, {"device", dev}, {"records", Json::array()}},
        "dev.json"));
    EXPECT_NEAR(*spec.peak_tflops("fp64"), threads * 3000e6 * 16 / 1e12, 1e-12);
    GpuSpec priced = spec;
    priced.hbm_tbps.value = 0.02;  // 20 GB/s DRAM, of which copy and triad reach 0.93
    const Measurements m = parse_measurements(synthetic_cpu_doc(t, threads, priced), "cpu.json");
    const GpuSpec derived_spec = device_spec_from(m);
    EXPECT_DOUBLE_EQ(*derived_spec.peak_tflops("fp64"), *spec.peak_tflops("fp64"));
    // The CPU's nominal bandwidth is the best measured copy (launch included): 0.93 × 20 GB/s.
    EXPECT_NEAR(derived_spec.hbm_tbps.get(), 0.0186, 0.0186 * 2e-3);
    const EfficiencyProfile fitted = calibrate(m, derived_spec, "cpu.json");
    for (const std::string dtype : {"fp32", "fp64"}) {
      SCOPED_TRACE(dtype);
      ASSERT_TRUE(fitted.gemm.count(dtype));
      const GemmEfficiency& g = fitted.gemm.at(dtype);
      const GemmEfficiency& w = t.gemm.at(dtype);
      EXPECT_EQ(g.form, GemmForm::Serial);
      expect_within(g.efficiency, w.efficiency, 0.02, "efficiency");
      expect_within(g.packing_gbps, w.packing_gbps, 0.02, "packing");
      expect_within(g.overhead_us, w.overhead_us, 0.02, "overhead");
    }
    // 7 dense GEMMs for the base parameters, the grouped one for grouped_efficiency.
    EXPECT_EQ(fitted.fit.at("gemm").at("fp32").at("samples"), 7);
    expect_within(g32_grouped(fitted), t.gemm.at("fp32").efficiency, 0.02, "grouped");
    expect_within(fitted.attention.forward, t.attention.forward, 0.02, "attention");
    // Copy and triad both ran at the best copy's bandwidth: efficiency 1 of it.
    EXPECT_NEAR(fitted.memory.efficiency, 1.0, 1e-9);
    EXPECT_DOUBLE_EQ(fitted.launch_overhead_us, t.launch_overhead_us);
    if (threads == 1) {
      EXPECT_NEAR(fitted.fit.at("launch").at("measured_thread_wake_us").get<double>(), 6.0, 1e-9);
    }
    const auto rows = predict_kernels(m, derived_spec, neutral_profile(derived_spec), fitted);
    // 15 GEMMs, 2 memory, 1 attention, and the wake-up only when kernels paid it.
    EXPECT_EQ(rows.size(), threads > 1 ? 19u : 18u);
    const KernelMape k = kernel_mape(rows);
    // Not exactly 0 with 2 threads: the nominal bandwidth includes the copy's wake-up (0.1%).
    EXPECT_LT(k.calibrated, 1e-3);
    EXPECT_GT(k.default_profile, 0.10);
    const auto by_kind = kernel_mape_by_kind(rows);
    EXPECT_EQ(by_kind.at("gemm").kernels, 14);
    EXPECT_EQ(by_kind.at("grouped_gemm").kernels, 1);
    EXPECT_EQ(by_kind.count("launch"), threads > 1 ? 1u : 0u);
  }
}

// The clock a VM reports can be below the turbo clock the cores run at; a GEMM faster than the
// nominal peak raises the clock (for both dtypes) to the lowest that explains it.
TEST(Calibration, CpuClockIsRaisedWhenAGemmBeatsTheNominalPeak) {
  Json doc = {{"schema", "clustercost.measurements/1"}, {"device", cpu_device_block(1)},
              {"records", Json::array()}};
  const double flops = 2.0 * 256 * 256 * 256;
  // Nominal fp32 peak: 1 thread × 3000 MHz × 32 FLOPs/cycle (8 lanes × FMA × 2 pipes) = 96
  // GFLOP/s; this GEMM ran at 120.
  doc["records"].push_back(record("gemm", "sq", "fp32", {{"m", 256}, {"n", 256}, {"k", 256}},
                                  flops, 1e6, Seconds(flops / 120e9)));
  GpuSpec s = device_spec_from(parse_measurements(doc, "fast.json"));
  EXPECT_NEAR(*s.peak_tflops("fp32"), 0.120, 1e-12);
  EXPECT_NEAR(*s.peak_tflops("fp64"), 0.060, 1e-12);
  EXPECT_NE(s.fp32_tflops.source.find("raised"), std::string::npos) << s.fp32_tflops.source;
  // A slower one leaves the nominal peak.
  doc["records"][0]["time_s"] = flops / 80e9;
  s = device_spec_from(parse_measurements(doc, "slow.json"));
  EXPECT_NEAR(*s.peak_tflops("fp32"), 0.096, 1e-12);
}

// Issue 5: after calibrating on the CPU quick probe, the per-kernel MAPE of validate (in-sample:
// the profile is fitted on the same measurements, as `validate --measurements m.json --profile
// p.json` does) is at most 15% and below the neutral profile's. The probe's samples are CPU
// time of the busiest worker, taken round-robin, so load on the machine does not stretch some
// kernels and not others (cpu_probe.cpp). Observed on a 2-core VM under a load of ~9 (parallel
// builds): calibrated 2-6%, neutral 23-31%, over 14 kernels.
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
  EXPECT_GE(k.kernels, 12);
  // Under ASan every load and store is instrumented: the kernels no longer follow the roofline
  // the fit describes (a 2-core run measured calibrated MAPE 21%), so the accuracy bounds hold
  // for real builds only; the probe, the fit and the checks below still run under the sanitizer.
  if (!clustercost::test::kSanitizedBuild) {
    EXPECT_LE(k.calibrated, 0.15);
    EXPECT_LT(k.calibrated, k.default_profile);
  }
  for (const auto& r : rows) {
    EXPECT_TRUE(std::isfinite(r.predicted_calibrated.value)) << r.name;
    EXPECT_GT(r.predicted_calibrated.value, 0.0) << r.name;
  }
  // The CPU GEMMs were fitted in the serial form, with every term physical.
  for (const std::string dtype : {"fp32", "fp64"}) {
    ASSERT_TRUE(cal.gemm.count(dtype)) << dtype;
    const GemmEfficiency& g = cal.gemm.at(dtype);
    EXPECT_EQ(g.form, GemmForm::Serial);
    EXPECT_GT(g.efficiency, 0.0);
    EXPECT_LE(g.efficiency, 1.0);
    EXPECT_GE(g.packing_gbps, 0.0);
    EXPECT_GE(g.overhead_us, 0.0);
  }
}
