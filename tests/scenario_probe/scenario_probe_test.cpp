// probe --scenario (sim/program/probe_plan.hpp, the CPU twin), calibrate of every kernel_cost
// parameter (hardware/efficiency/calibration.hpp) and the per-op error after calibration.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

#include "hardware/efficiency/calibration.hpp"
#include "hardware/efficiency/kernel_cost.hpp"
#include "hardware/probe/probe.hpp"
#include "hardware/probe/scenario_ops.hpp"
#include "sim/program/probe_plan.hpp"
#include "tests/common/sanitizer.hpp"
#include "tests/common/shipped_data.hpp"
#include "tests/scenario_probe/run_cpu_plan.hpp"
#include "tests/common/test_gpus.hpp"

using namespace clustercost;

namespace {

/// Distinct compute op names of the layers the plan takes (one of each kind) and stage 0's
/// per-step ops: what the cost model prices for the scenario.
std::set<std::string> program_compute_ops(const Scenario& s) {
  const StepProgram prog = build_step_program(s);
  std::set<std::string> out;
  std::set<LayerKind> seen;
  for (const LayerProgram& lp : prog.layers) {
    if (!seen.insert(lp.kind).second) continue;
    for (const Op& op : lp.ops)
      if (!op.is_collective()) out.insert(op.name);
  }
  for (const Op& op : prog.stages.front().step_ops)
    if (!op.is_collective()) out.insert(op.name);
  return out;
}

std::set<std::string> plan_ops(const probe::ScenarioProbePlan& p) {
  std::set<std::string> out;
  for (const auto& op : p.ops) out.insert(op.name);
  return out;
}

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("cc-scenario-probe-" + std::to_string(::getpid()) + "-" + name);
}

/// Runs the CPU twin of `probe --scenario --quick` on one thread; returns the measurements.
Measurements probe_cpu(const Scenario& s, const std::string& tag, std::string* log_out = nullptr) {
  ProbePlanOptions po;
  po.device = "cpu";
  po.quick = true;
  po.scenario_file = s.file;
  const probe::ScenarioProbePlan plan = scenario_probe_plan(s, po);
  return test::run_cpu_plan(plan, temp_file(tag + ".json"), log_out);
}

}  // namespace

TEST(ScenarioProbePlan, OpListEqualsTheOpProgramsComputeOps) {
  for (const char* name : {"llama3-70b-h100.json", "deepseek-v3-h800.json", "mixtral-8x7b-h20.json"}) {
    const Scenario s = test::load_shipped(name);
    for (const char* device : {"cpu", "cuda"}) {
      ProbePlanOptions po;
      po.device = device;
      po.quick = true;
      const auto plan = scenario_probe_plan(s, po);
      EXPECT_EQ(plan_ops(plan), program_compute_ops(s)) << name << " " << device;
      const std::set<std::string> listed(plan.scenario.ops.begin(), plan.scenario.ops.end());
      EXPECT_EQ(listed, program_compute_ops(s)) << name;
      // Every op class the program prices is measured: GEMM roles, attention directions,
      // memory classes.
      std::set<std::string> classes, want;
      for (const auto& op : plan.ops)
        classes.insert(op.kind + "/" + op.info.role + "/" + op.info.memory_class +
                       (op.info.backward ? "/bwd" : ""));
      const StepProgram prog = build_step_program(s);
      for (const LayerProgram& lp : prog.layers)
        for (const Op& op : lp.ops) {
          if (op.is_collective()) continue;
          const KernelDesc& k = op.kernel;
          const std::string kind = k.op_class == OpClass::Gemm ? "gemm"
                                   : k.op_class == OpClass::GroupedGemm ? "grouped_gemm"
                                   : k.op_class == OpClass::Attention ? "attention" : "memory";
          const bool gemm = kind == "gemm" || kind == "grouped_gemm";
          want.insert(kind + "/" + (gemm ? gemm_role_name(k.role) : "") + "/" +
                      (kind == "memory" ? k.memory_class : "") + (k.backward ? "/bwd" : ""));
        }
      for (const auto& c : want) EXPECT_TRUE(classes.count(c)) << name << ": class " << c << " not in the plan";
    }
  }
}

TEST(ScenarioProbePlan, ScalesDownAndSaysHow) {
  const Scenario s = test::load_shipped("llama3-70b-h100.json");
  ProbePlanOptions po;
  po.device = "cpu";
  po.quick = true;
  const auto plan = scenario_probe_plan(s, po);
  int scaled = 0;
  for (const auto& op : plan.ops) {
    EXPECT_GT(op.info.scale, 0.0);
    EXPECT_LE(op.info.scale, 1.0);
    if (op.info.scale < 1.0) {
      ++scaled;
      EXPECT_FALSE(op.info.scaled.empty()) << op.name;
    }
    // Within the quick CPU budget (3e8 FLOPs), or one row when one row is already beyond it.
    if (op.kind == "gemm" && (op.info.role == "wgrad" ? op.gemm.k : op.gemm.m) > 1) {
      EXPECT_LE(2.0 * op.gemm.m * op.gemm.n * op.gemm.k, 3e8) << op.name;
    }
  }
  EXPECT_GT(scaled, 0);
  // On a GPU the same scenario runs at its real sizes.
  po.device = "cuda";
  for (const auto& op : scenario_probe_plan(s, po).ops) {
    if (op.kind == "gemm") EXPECT_EQ(op.info.scale, 1.0) << op.name;
  }
}

TEST(ScenarioProbePlan, GroupedGemmsGetUnevenSampledRows) {
  const Scenario s = test::load_shipped("deepseek-v3-h800.json");
  ProbePlanOptions po;
  po.device = "cuda";
  const auto plan = scenario_probe_plan(s, po);
  bool found = false;
  for (const auto& op : plan.ops) {
    if (op.kind != "grouped_gemm" || op.info.category == "attention") continue;
    found = true;
    const auto& g = op.grouped.group_m;
    ASSERT_GT(g.size(), 1u);
    EXPECT_NE(*std::min_element(g.begin(), g.end()), *std::max_element(g.begin(), g.end()))
        << op.name << ": sampled routing gives uneven rows";
  }
  EXPECT_TRUE(found);
}

TEST(ScenarioProbeCpu, CalibratedPerOpErrorWithin15PercentAndBetterThanDefault) {
  const Scenario s = test::load_shipped("llama3-70b-h100.json");
  const Measurements m = probe_cpu(s, "llama");
  ASSERT_TRUE(m.scenario);
  EXPECT_EQ(std::set<std::string>(m.scenario->ops.begin(), m.scenario->ops.end()),
            program_compute_ops(s));
  const GpuSpec spec = device_spec_from(m);
  const EfficiencyProfile cal = calibrate(m, spec, "llama.json");
  // Every parameter kernel_cost reads for these ops was fitted.
  ASSERT_TRUE(cal.gemm.count("fp32"));
  EXPECT_GT(cal.gemm.at("fp32").dgrad_efficiency, 0.0);
  EXPECT_GT(cal.gemm.at("fp32").wgrad_efficiency, 0.0);
  EXPECT_FALSE(cal.memory.by_class.empty());
  EXPECT_TRUE(cal.memory.by_class.count("norm"));
  EXPECT_TRUE(cal.attention.by_kernel.count(s.software.attention == "flash2" ? "flash2" : "flash3") ||
              !cal.attention.by_kernel.empty());
  EXPECT_NE(cal.source.find("fnv1a64"), std::string::npos);
  const auto rows = predict_kernels(m, spec, neutral_profile(spec), cal);
  int scenario_rows = 0;
  for (const auto& r : rows) scenario_rows += r.op ? 1 : 0;
  EXPECT_GT(scenario_rows, 20);
  const KernelMape k = kernel_mape(rows);
  std::ostringstream detail;
  for (const auto& r : rows)
    detail << r.kind << " " << r.name << " " << r.measured.value * 1e6 << " us, calibrated "
           << r.error_calibrated * 100 << "%\n";
  // Under ASan the instrumented kernels do not follow the roofline the fit describes (see
  // Calibration.RealCpuQuickProbe): the bounds hold for real builds; the loop still runs.
  if (!clustercost::test::kSanitizedBuild) {
    EXPECT_LE(k.calibrated, 0.15) << detail.str();
    EXPECT_LT(k.calibrated, k.default_profile) << detail.str();
  }
}

TEST(ScenarioProbeCpu, Fp8OnADeviceWithoutFp8SaysSoAndMeasuresTheRest) {
  // Llama 3 70B in FP8 (Transformer Engine's delayed scaling): the FP8 GEMMs cannot run on the
  // CPU twin, the rest (casts, norms, attention, the BF16 LM head, the optimizer) can.
  const Scenario s = test::load_shipped("llama3-70b-h100.json", {"training.precision=fp8"});
  std::string log;
  const Measurements m = probe_cpu(s, "fp8", &log);
  int fp8_skipped = 0;
  for (const auto& sk : m.skipped)
    if (sk.find("FP8 GEMM not supported on this device") != std::string::npos) ++fp8_skipped;
  EXPECT_GT(fp8_skipped, 0);
  EXPECT_NE(log.find("FP8 GEMM not supported on this device (cpu: no FP8 arithmetic)"), std::string::npos);
  // The rest is measured: the FP8 casts, attention, norms, the optimizer.
  std::set<std::string> classes;
  for (const auto& r : m.records)
    if (r.op) classes.insert(r.kind + "/" + r.op->memory_class);
  EXPECT_TRUE(classes.count("memory/fp8_cast"));
  EXPECT_TRUE(classes.count("memory/norm"));
  EXPECT_TRUE(classes.count("memory/optimizer"));
  EXPECT_TRUE(classes.count("attention/"));
  // Every compute op is either measured or listed as not measured with the reason.
  std::set<std::string> accounted;
  for (const auto& r : m.records)
    if (r.op) accounted.insert(r.name);
  for (const auto& sk : m.skipped) accounted.insert(sk.substr(0, sk.find(' ')));
  EXPECT_EQ(accounted, program_compute_ops(s));
  for (const auto& r : m.records) EXPECT_TRUE(r.ok) << r.name;
}

TEST(ScenarioCalibration, SyntheticMeasurementsFromKnownParametersAreRecoveredWithin2Percent) {
  // A Hopper-like device from the catalogue; measurements generated by kernel_cost itself.
  const GpuSpec g = test::hopper();
  EfficiencyProfile truth;
  truth.gpu = g.name;
  truth.gemm["bf16"].efficiency = 0.71;
  truth.gemm["bf16"].overhead_us = 6.0;
  truth.gemm["bf16"].dgrad_efficiency = 0.64;
  truth.gemm["bf16"].wgrad_efficiency = 0.52;
  truth.gemm["bf16"].grouped_efficiency = 0.60;
  truth.memory.efficiency = 0.86;
  truth.memory.by_class = {{"norm", 0.55}, {"fp8_cast", 0.62}, {"routing", 0.33}};
  truth.attention.by_kernel["flash3"] = {0.58, 0.41, ""};
  truth.launch_overhead_us = 2.5;
  Json recs = Json::array();
  const auto add = [&](const std::string& kind, const std::string& name, Json shape,
                       const KernelDesc& k, Json op) {
    const double t = kernel_cost(g, truth, k).value;
    Json r = {{"kind", kind}, {"name", name}, {"dtype", k.precision}, {"shape", shape},
              {"time_s", t}, {"times_s", {t}}, {"flops", k.flops.value}, {"bytes", k.bytes.value},
              {"check_rel_error", 0.0}, {"ok", true}};
    if (!op.is_null()) r["op"] = op;
    recs.push_back(r);
  };
  int i = 0;
  for (double n : {2048.0, 4096.0, 8192.0, 16384.0}) {
    for (const char* role : {"fprop", "dgrad", "wgrad"}) {
      KernelDesc k;
      k.op_class = OpClass::Gemm;
      k.role = std::string(role) == "fprop" ? GemmRole::Fprop
               : std::string(role) == "dgrad" ? GemmRole::Dgrad : GemmRole::Wgrad;
      k.precision = "bf16";
      k.shape = GemmShape{n, n, n, 1};
      k.flops = FlopCount(2 * n * n * n);
      k.bytes = Bytes(3 * n * n * 2);
      add("gemm", "g" + std::to_string(i++), {{"m", n}, {"n", n}, {"k", n}}, k,
          {{"role", role}, {"pass", "forward"}, {"kernels", 1}});
    }
    KernelDesc k;
    k.op_class = OpClass::GroupedGemm;
    k.precision = "bf16";
    k.shape = GemmShape{n / 4, 4096, 7168, 4};
    k.flops = FlopCount(2 * n * 4096 * 7168);
    k.bytes = Bytes(4 * 4096 * 7168 * 2 + n * (4096 + 7168) * 2);
    const std::int64_t gm = static_cast<std::int64_t>(n / 4);
    add("grouped_gemm", "e" + std::to_string(i++),
        {{"m", 4 * gm}, {"n", 4096}, {"k", 7168}, {"groups", 4}, {"group_m", {gm, gm, gm, gm}}}, k,
        {{"role", "fprop"}, {"kernels", 1}});
  }
  for (double b : {1e5, 1e6, 1e7, 1e8, 1e9}) {
    for (const char* cls : {"norm", "fp8_cast", "routing"}) {
      KernelDesc k;
      k.op_class = OpClass::Memory;
      k.memory_class = cls;
      k.bytes = Bytes(b);
      k.kernels = 2;
      add("memory", std::string(cls) + std::to_string(i++), {{"bytes", static_cast<std::int64_t>(b)}}, k,
          {{"memory_class", cls}, {"kernels", 2}});
    }
    KernelDesc c;
    c.op_class = OpClass::Memory;
    c.bytes = Bytes(b * 10);
    add("memory", "copy", {{"bytes", static_cast<std::int64_t>(b * 5)}}, c, nullptr);
  }
  for (int seq : {2048, 4096, 8192}) {
    for (bool bwd : {false, true}) {
      KernelDesc k;
      k.op_class = OpClass::Attention;
      k.attention_kernel = "flash3";
      k.backward = bwd;
      k.kernels = bwd ? 3 : 1;
      k.flops = FlopCount(2.0 * 64 * seq * static_cast<double>(seq) * 128 * (bwd ? 2.5 : 1.0));
      k.bytes = Bytes(4.0 * 64 * seq * 128 * 2);
      add("attention", "a" + std::to_string(i++),
          {{"seq", seq}, {"heads", 64}, {"head_dim", 128}, {"batch", 1}}, k,
          {{"attention_kernel", "flash3"}, {"backward", bwd}, {"kernels", bwd ? 3 : 1}});
    }
  }
  recs.push_back({{"kind", "launch"}, {"name", "launch_back_to_back"}, {"dtype", "fp32"},
                  {"shape", {{"calls", 1000}}}, {"time_s", 2.5e-6}, {"times_s", {2.5e-6}},
                  {"flops", 0}, {"bytes", 0}, {"check_rel_error", 0}, {"ok", true}});
  const Json doc = {{"schema", "clustercost.measurements/1"},
                    {"device", {{"kind", "cuda"}, {"name", "NVIDIA H100 80GB HBM3"}, {"sms", 132},
                                {"clock_mhz", 1980}, {"memory_gib", 80}, {"driver", "d"},
                                {"runtime", "r"}, {"compiler", "c"}, {"gemm_backend", "synthetic"},
                                {"date", "2026-01-02T03:04:05Z"}, {"host", "h"}}},
                    {"records", recs}};
  const Measurements m = parse_measurements(doc, "synthetic.json");
  const EfficiencyProfile p = calibrate(m, g, "synthetic.json");
  const auto near = [](double got, double want, const char* what) {
    EXPECT_NEAR(got, want, 0.02 * want) << what;
  };
  near(p.launch_overhead_us, 2.5, "launch");
  near(p.memory.efficiency, 0.86, "memory");
  const GemmEfficiency& e = p.gemm.at("bf16");
  near(e.efficiency, 0.71, "gemm fprop");
  near(e.overhead_us + 2.5, 6.0 + 2.5, "gemm fixed time");
  near(e.dgrad_efficiency, 0.64, "dgrad");
  near(e.wgrad_efficiency, 0.52, "wgrad");
  near(e.grouped_efficiency, 0.60, "grouped");
  near(p.memory.by_class.at("norm"), 0.55, "norm");
  near(p.memory.by_class.at("fp8_cast"), 0.62, "fp8_cast");
  near(p.memory.by_class.at("routing"), 0.33, "routing");
  near(p.attention.by_kernel.at("flash3").forward, 0.58, "flash3 forward");
  near(p.attention.by_kernel.at("flash3").backward, 0.41, "flash3 backward");
}

TEST(ScenarioProbePlanFile, RoundTripsAndTheShippedPlansMatchTheirScenarios) {
  // The plans gpu-check runs with the probe alone (hardware/probe/plans/) are what
  // `clustercost probe --scenario S --device cuda --write-plan` writes today.
  for (const char* name : {"deepseek-v3-h800", "llama3-70b-h100"}) {
    const Scenario s = test::load_shipped(std::string(name) + ".json");
    ProbePlanOptions po;
    po.device = "cuda";
    po.scenario_file = std::string("scenarios/") + name + ".json";
    const std::string text = probe::write_scenario_plan(scenario_probe_plan(s, po));
    const probe::ScenarioProbePlan back = probe::parse_scenario_plan(text, name);
    EXPECT_EQ(probe::write_scenario_plan(back), text) << name;
    const auto shipped = test::data_root() / "hardware" / "probe" / "plans" / (std::string(name) + ".plan");
    std::ifstream in(shipped);
    ASSERT_TRUE(in) << shipped << " is missing: write it with clustercost probe --scenario "
                    << po.scenario_file << " --device cuda --write-plan " << shipped;
    const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(file, text) << shipped << " is stale: rewrite it with clustercost probe --scenario "
                          << po.scenario_file << " --device cuda --write-plan " << shipped;
  }
  EXPECT_THROW(probe::parse_scenario_plan("not a plan\n", "x.plan"), std::runtime_error);
  EXPECT_THROW(probe::parse_scenario_plan(std::string(probe::kScenarioPlanFormat) + "\nop kind=gemm name=a m=0\n", "x.plan"),
               std::runtime_error);
}
