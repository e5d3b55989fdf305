#include <gtest/gtest.h>

#include <cstdlib>

#include "hardware/spec/catalog.hpp"
#include "sim/report/report.hpp"
#include "sim/step/analytical_step.hpp"
#include "tests/common/shipped_data.hpp"

using namespace clustercost;

namespace {
using test::compute_only;
Scenario load(const std::string& name, std::vector<std::string> sets = {}) {
  return test::load_shipped(name, sets);
}
}  // namespace

TEST(AnalyticalStep, OneFOneBBubbleFractionIsPMinus1OverMPlusPMinus1) {
  // Llama 3 70B, 512 H100, TP8 PP4 DP16, 128 micro-batches; then 8 micro-batches.
  for (int batch : {2048, 128}) {
    Scenario s = load("llama3-70b-h100.json",
                      compute_only({"parallelism.schedule=1f1b", "parallelism.vpp=1",
                                    "training.global_batch=" + std::to_string(batch)}));
    StepResult r = simulate_step_analytical(s);
    const double p = 4, m = static_cast<double>(s.micro_batches());
    // The pipeline's pace is its slowest stage's forward + backward per micro-batch (with the
    // latency-only TP collectives that remain when bandwidth is free).
    Seconds pace(0);
    for (const auto& st : r.stages)
      pace = std::max(pace, st.forward + st.backward + st.tp_comm + st.ep_exposed);
    const double frac = r.schedule_bubble / (pace * m + r.schedule_bubble);
    std::printf("1F1B p=%g m=%g: bubble fraction %.5f, formula %.5f\n", p, m, frac,
                (p - 1) / (m + p - 1));
    EXPECT_NEAR(frac, (p - 1) / (m + p - 1), 0.01 * (p - 1) / (m + p - 1));
  }
}

TEST(AnalyticalStep, InterleavingShrinksTheBubbleByVpp) {
  Scenario a = load("llama3-70b-h100.json", compute_only({"parallelism.schedule=1f1b", "parallelism.vpp=1"}));
  Scenario b = load("llama3-70b-h100.json", compute_only({"parallelism.vpp=5"}));
  StepResult ra = simulate_step_analytical(a), rb = simulate_step_analytical(b);
  EXPECT_NEAR(rb.schedule_bubble / ra.schedule_bubble, 1.0 / 5.0, 0.01);
}

TEST(AnalyticalStep, ZeroBubbleAndDualPipeBubblesAreSmallerThan1F1B) {
  std::vector<std::string> base = {"parallelism.pp=16", "parallelism.vpp=1"};
  auto with = [&](const std::string& sched) {
    auto sets = base;
    sets.push_back("parallelism.schedule=" + sched);
    return simulate_step_analytical(load("deepseek-v3-h800.json", compute_only(sets)));
  };
  StepResult one = with("1f1b"), zb = with("zb-h1"), dual = with("dualpipe");
  std::printf("bubble s: 1f1b %.3f, zb-h1 %.3f, dualpipe %.3f\n", one.critical.bubble.value,
              zb.critical.bubble.value, dual.critical.bubble.value);
  EXPECT_LT(zb.schedule_bubble, one.schedule_bubble);
  EXPECT_LT(dual.schedule_bubble, zb.schedule_bubble);
}

TEST(AnalyticalStep, BreakdownAddsUpAndMfuFollowsItsDefinition) {
  Scenario s = load("deepseek-v3-h800.json");
  StepResult r = simulate_step_analytical(s);
  EXPECT_NEAR(r.critical.total().value, r.step_time.value, 1e-9 * r.step_time.value);
  EXPECT_NEAR(r.mean.total().value, r.step_time.value, 1e-6 * r.step_time.value);
  const double tps = s.tokens_per_step() / r.step_time.value / 2048.0;
  EXPECT_NEAR(r.tokens_per_s_per_gpu, tps, 1e-9 * tps);
  EXPECT_NEAR(r.mfu, r.flops_per_token * tps / 989e12, 1e-9);
  EXPECT_GE(r.hfu, r.mfu * 0.999);
  std::printf("DeepSeek-V3/H800 memory per GPU: %.1f GiB of %.1f\n", to_gib(r.memory.total()),
              to_gib(r.memory.capacity));
}

TEST(AnalyticalStep, DenseAndMixtralShippedLayoutsFit) {
  for (const char* name : {"llama3-70b-h100.json", "mixtral-8x7b-h20.json"}) {
    StepResult r = simulate_step_analytical(load(name));
    EXPECT_TRUE(r.memory.fits()) << name << ": " << to_gib(r.memory.total()) << " GiB";
  }
}

TEST(AnalyticalStep, HalvingScaleUpBandwidthNeverSpeedsUp) {
  Scenario s = load("deepseek-v3-h800.json");
  Scenario half = load("deepseek-v3-h800.json", {"cluster.network.scale_up_gbs_uni=100"});
  Scenario h100 = load("deepseek-v3-h800.json", {"cluster.gpu=H100-SXM"});
  double t = simulate_step_analytical(s).step_time.value;
  double th = simulate_step_analytical(half).step_time.value;
  double t100 = simulate_step_analytical(h100).step_time.value;
  std::printf("DeepSeek-V3 step: H800 %.3f s, H800 with half NVLink %.3f s, H100 %.3f s\n", t, th, t100);
  EXPECT_GE(th, t);
  EXPECT_LE(t100, t);
}

TEST(AnalyticalStep, RecomputationTradesMemoryForTime) {
  Scenario none = load("llama3-70b-h100.json", {"parallelism.recompute=none"});
  Scenario full = load("llama3-70b-h100.json", {"parallelism.recompute=full"});
  StepResult a = simulate_step_analytical(none), b = simulate_step_analytical(full);
  EXPECT_LT(b.memory.activations, a.memory.activations);
  EXPECT_GT(b.step_time, a.step_time);
  EXPECT_GT(b.hfu, b.mfu * 1.2);  // full recomputation adds a forward: HFU ≈ 4/3 MFU
}

TEST(AnalyticalStep, ZeroShardsOptimizerState) {
  Scenario z0 = load("llama3-70b-h100.json", {"parallelism.zero=0"});
  Scenario z1 = load("llama3-70b-h100.json", {"parallelism.zero=1"});
  Scenario z3 = load("llama3-70b-h100.json", {"parallelism.zero=3"});
  auto m0 = simulate_step_analytical(z0).memory, m1 = simulate_step_analytical(z1).memory,
       m3 = simulate_step_analytical(z3).memory;
  EXPECT_NEAR(m1.optimizer / m0.optimizer, 1.0 / 16.0, 1e-6);  // dp = 16
  EXPECT_LT(m3.weights, m1.weights);
}

TEST(AnalyticalStep, MoreDataParallelGpusFinishSooner) {
  Report a = run_scenario(load("llama3-70b-h100.json"));
  Report b = run_scenario(load("llama3-70b-h100.json", {"cluster.gpus=1024"}));
  EXPECT_LT(b.run.wall_days, a.run.wall_days);
}

TEST(Run, NoFailuresMeansStepsTimesStepTime) {
  Scenario s = load("deepseek-v3-h800.json",
                    {"reliability.gpu_mtbf_hours=1e15", "reliability.checkpoint_write_min=0",
                     "reliability.restart_min=0"});
  Report r = run_scenario(s);
  EXPECT_NEAR(r.run.wall_time.value, r.step.step_time.value * static_cast<double>(r.run.steps),
              1e-6 * r.run.wall_time.value);
  EXPECT_NEAR(r.run.goodput, 1.0, 1e-6);
  EXPECT_NEAR(r.cost.total_usd, r.run.gpu_hours * 2.0, 1e-6 * r.cost.total_usd);
}

TEST(Run, FailuresCostTimeAndImpossibleRatesAreReported) {
  Report base = run_scenario(load("deepseek-v3-h800.json"));
  EXPECT_GT(base.run.interruptions, 1.0);
  EXPECT_LT(base.run.goodput, 1.0);
  EXPECT_THROW(run_scenario(load("deepseek-v3-h800.json", {"reliability.gpu_mtbf_hours=100"})),
               InfeasibleError);
}

TEST(AnalyticalStep, RecomputeModulesTradeActivationsForBackwardTime) {
  Scenario plain = load("deepseek-v3-h800.json", {"parallelism.recompute_modules=[]"});
  Scenario saving = load("deepseek-v3-h800.json");  // layernorm, mla_up_proj, moe_act
  StepResult a = simulate_step_analytical(plain), b = simulate_step_analytical(saving);
  std::printf("DeepSeek-V3/H800 activations: %.1f GiB without, %.1f GiB with recompute modules\n",
              to_gib(a.memory.activations), to_gib(b.memory.activations));
  EXPECT_LT(b.memory.activations.value, 0.8 * a.memory.activations.value);
  EXPECT_GT(b.critical.compute, a.critical.compute);
  EXPECT_GT(b.hfu, a.hfu * (a.step_time / b.step_time));  // recomputed FLOPs count in HFU
}

TEST(AnalyticalStep, Fp8StoresLinearInputsInOneByte) {
  Scenario fp8 = load("deepseek-v3-h800.json");
  Scenario bf16 = load("deepseek-v3-h800.json", {"training.precision=bf16"});
  EXPECT_LT(simulate_step_analytical(fp8).memory.activations,
            simulate_step_analytical(bf16).memory.activations);
}

TEST(AnalyticalStep, DualPipeHoldsPPlusOneStageLoadsAcrossItsTwoStages) {
  // With every stage identical in activations, a DualPipe rank stores (p − r) + (r + 1) = p + 1
  // micro-batch stage-loads (DeepSeek-V3 Table 2), 1F1B's first stage p.
  Scenario dual = load("llama3-70b-h100.json",
                       {"parallelism.schedule=dualpipe", "parallelism.vpp=1"});
  Scenario one = load("llama3-70b-h100.json", {"parallelism.schedule=1f1b", "parallelism.vpp=1"});
  StepResult d = simulate_step_analytical(dual), o = simulate_step_analytical(one);
  // Rank 1 of DualPipe holds only transformer layers (no embedding, no head): compare it with
  // 1F1B's stage 1, which holds p − 1 = 3 loads of the same stage.
  EXPECT_GT(d.memory.activations, o.memory.activations);
}
