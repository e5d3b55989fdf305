// DeepSeek-V3 (MoE, MLA, MTP, FP8 with 1×128 tile-wise scales) on the CPU twin of
// `probe --scenario --quick`: the FP8 GEMMs are skipped with the message, every other op class is
// measured and its result checked (Measurement::ok: the sampled check against a host reference
// within check_tolerance).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

#include "hardware/efficiency/calibration.hpp"
#include "hardware/probe/probe.hpp"
#include "hardware/probe/scenario_ops.hpp"
#include "sim/program/probe_plan.hpp"
#include "tests/common/shipped_data.hpp"
#include "tests/scenario_probe/run_cpu_plan.hpp"

using namespace clustercost;

namespace {

probe::ScenarioProbePlan quick_cpu_plan(const Scenario& s) {
  ProbePlanOptions po;
  po.device = "cpu";
  po.quick = true;
  po.scenario_file = s.file;
  return scenario_probe_plan(s, po);
}

Measurements run_plan(const probe::ScenarioProbePlan& plan, const std::string& tag,
                      std::string* log_out) {
  return test::run_cpu_plan(plan,
                            std::filesystem::temp_directory_path() /
                                ("cc-dsv3-twin-" + std::to_string(::getpid()) + "-" + tag + ".json"),
                            log_out);
}

/// The records of scenario ops whose implementation names `impl` (the CPU twin's kernel name).
std::vector<const MeasurementRecord*> with_impl(const Measurements& m, const std::string& impl) {
  std::vector<const MeasurementRecord*> out;
  for (const auto& r : m.records)
    if (r.op && r.impl.find(impl) != std::string::npos) out.push_back(&r);
  return out;
}

}  // namespace

TEST(DeepSeekCpuTwin, MeasuresAndChecksEveryNonFp8OpClass) {
  const Scenario s = test::load_shipped("deepseek-v3-h800.json");
  const probe::ScenarioProbePlan plan = quick_cpu_plan(s);
  std::string log;
  const Measurements m = run_plan(plan, "main", &log);
  ASSERT_TRUE(m.scenario);

  // Every record's result was checked against its reference and passed.
  for (const auto& r : m.records) EXPECT_TRUE(r.ok) << r.name << " " << r.impl << " " << r.shape.dump() ;

  // FP8 GEMMs (dense and grouped) are skipped, with the reason, in the file and in the log.
  int fp8_gemms = 0;
  for (const auto& op : plan.ops)
    if ((op.kind == "gemm" || op.kind == "grouped_gemm") && op.info.op_dtype == "fp8") ++fp8_gemms;
  ASSERT_GT(fp8_gemms, 0);
  int skipped_fp8 = 0;
  for (const auto& sk : m.skipped)
    if (sk.find("FP8 GEMM not supported on this device (cpu: no FP8 arithmetic); not measured") !=
        std::string::npos)
      ++skipped_fp8;
  EXPECT_EQ(skipped_fp8, fp8_gemms);
  EXPECT_NE(log.find("probe: skipped moe.experts.up_gate (forward, fprop): FP8 GEMM not supported"),
            std::string::npos)
      << log;

  // Every op of the plan is measured or listed as skipped: nothing silently dropped.
  std::set<std::string> accounted, want;
  for (const auto& r : m.records)
    if (r.op) accounted.insert(r.name);
  for (const auto& sk : m.skipped) accounted.insert(sk.substr(0, sk.find(' ')));
  for (const auto& op : plan.ops) want.insert(op.name);
  EXPECT_EQ(accounted, want);

  // The DeepSeek-specific kernels ran.
  const auto tile = with_impl(m, "fp8 quantise, 1x128 tile-wise scales");
  EXPECT_GT(tile.size(), 10u) << "tile-wise FP8 casts of every FP8 GEMM input";
  for (const auto* r : tile) EXPECT_EQ(r->op->memory_class, "fp8_cast") << r->name;
  std::map<std::string, const MeasurementRecord*> by_name;
  for (const auto& r : m.records)
    if (r.op) by_name[r.name + "/" + r.op->pass] = &r;
  const auto expect_impl = [&](const std::string& key, const std::string& impl) {
    const auto it = by_name.find(key);
    ASSERT_NE(it, by_name.end()) << key << " not measured";
    EXPECT_NE(it->second->impl.find(impl), std::string::npos) << key << ": " << it->second->impl;
    EXPECT_TRUE(it->second->ok) << key;
    EXPECT_GT(it->second->time.value, 0.0) << key;
  };
  expect_impl("moe.permute/forward", "permute (row gather)");
  expect_impl("moe.unpermute/forward", "unpermute (weighted top-k combine)");
  expect_impl("moe.score/forward", "router sigmoid scores");
  expect_impl("moe.topk/forward", "router top-k");
  expect_impl("moe.experts.act/forward", "swiglu");
  // Backward memory ops run backward kernels: SwiGLU's dg/du, RMSNorm's dx and dw.
  expect_impl("moe.experts.act.bwd/input_grad", "swiglu backward (dgate, dup)");
  expect_impl("mtp.norm_h.bwd/input_grad", "rmsnorm backward (dx, and dw reduced over the rows)");
  // MTP: its embedding, norms, MoE routing and loss.
  expect_impl("mtp.embed.lookup/forward", "embedding lookup");
  expect_impl("mtp.norm_h/forward", "rmsnorm");
  expect_impl("mtp.moe.topk/forward", "router top-k");
  expect_impl("mtp.loss/forward", "cross-entropy forward");
  expect_impl("mtp.loss.bwd/input_grad", "cross-entropy gradient");
  // MTP's BF16 GEMMs (projection, head) and its attention ran.
  EXPECT_TRUE(by_name.count("mtp.proj/forward"));
  EXPECT_TRUE(by_name.count("mtp.lm_head/forward"));
  EXPECT_TRUE(by_name.count("mtp.attn.core/forward"));
  EXPECT_TRUE(by_name.count("mtp.attn.core.bwd/input_grad"));
  std::set<std::string> layers;
  for (const auto& r : m.records)
    if (r.op) layers.insert(r.op->layer);
  EXPECT_TRUE(layers.count("mtp")) << "MTP ops are measured as their own layer kind";
  EXPECT_TRUE(layers.count("moe"));
}

TEST(DeepSeekCpuTwin, GroupedExpertGemmsWithUnevenRowsAndPerTensorCastsRunOnTheTwin) {
  // The CPU twin has no FP8 arithmetic, so DeepSeek's expert GEMMs run when the scenario is
  // trained in BF16; the per-tensor (delayed scaling) cast-transpose when the recipe is changed.
  // Only those ops are taken from the two plans (to keep the test short).
  const Scenario bf16 = test::load_shipped("deepseek-v3-h800.json", {"training.precision=bf16"});
  const Scenario delayed = test::load_shipped("deepseek-v3-h800.json", {"software.fp8_recipe=delayed"});
  probe::ScenarioProbePlan plan = quick_cpu_plan(bf16);
  plan.ops.erase(std::remove_if(plan.ops.begin(), plan.ops.end(),
                                [](const probe::ScenarioOp& op) {
                                  return op.kind != "grouped_gemm" || op.name.rfind("moe.", 0) != 0;
                                }),
                 plan.ops.end());
  ASSERT_FALSE(plan.ops.empty());
  int casts = 0;
  for (const auto& op : quick_cpu_plan(delayed).ops) {
    if (op.info.memory_class != "fp8_cast" || casts >= 3) continue;
    EXPECT_EQ(op.fp8_recipe, "delayed") << op.name;
    plan.ops.push_back(op);
    ++casts;
  }
  ASSERT_EQ(casts, 3);
  plan.skipped.clear();
  const Measurements m = run_plan(plan, "grouped", nullptr);
  int grouped = 0;
  for (const auto& r : m.records) {
    EXPECT_TRUE(r.ok) << r.name ;
    if (r.kind != "grouped_gemm") continue;
    ++grouped;
    const auto rows = r.shape.at("group_m").get<std::vector<std::int64_t>>();
    ASSERT_GT(rows.size(), 1u) << r.name;
    EXPECT_NE(*std::min_element(rows.begin(), rows.end()), *std::max_element(rows.begin(), rows.end()))
        << r.name << ": the sampled routing's uneven rows";
    EXPECT_EQ(r.op->kernels, static_cast<int>(rows.size())) << "one GEMM per expert";
    EXPECT_EQ(r.gemm.groups, static_cast<int>(rows.size()));
  }
  EXPECT_EQ(grouped, 6) << "up_gate and down, forward, dgrad and wgrad";
  EXPECT_EQ(with_impl(m, "fp8 cast-transpose, per-tensor scale").size(), 3u);
  for (const auto* r : with_impl(m, "fp8 cast-transpose, per-tensor scale"))
    EXPECT_EQ(r->op->kernels, 2) << "amax pass, then cast and transposed copy";
}
