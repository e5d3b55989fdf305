// The op-level DES (sim/workload/op_sim.hpp): checks of issue 15.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "sim/step/analytical_step.hpp"
#include "sim/workload/des_step.hpp"
#include "sim/workload/trace.hpp"
#include "tests/common/shipped_data.hpp"

using namespace clustercost;

namespace {

Scenario load(const std::string& name, std::vector<std::string> sets = {}) {
  return test::load_shipped(name, sets);
}

/// Llama 3 70B on 64 H100 (TP8, PP4, DP2), 1F1B: small enough to simulate every GPU.
std::vector<std::string> llama64(std::vector<std::string> sets = {}) {
  for (const char* s : {"cluster.gpus=64", "training.global_batch=32", "parallelism.schedule=1f1b",
                        "parallelism.vpp=1"})
    sets.insert(sets.begin(), s);
  return sets;
}

double path_total(const StepResult& r) {
  double t = 0;
  for (const auto& c : r.critical_path) t += c.time.value;
  return t;
}

}  // namespace

TEST(OpDes, ComputeOnlyStepIsCriticalComputePlusBubble) {
  // Near-infinite bandwidth: the step is the critical rank's compute, optimizer and bubble.
  const Scenario s = load("llama3-70b-h100.json",
                          test::compute_only({"parallelism.schedule=1f1b", "parallelism.vpp=1"}));
  const DesStep d = simulate_step_des_detailed(s);
  const StepResult& r = d.result;
  const double p = s.parallelism.pp, m = static_cast<double>(s.micro_batches());
  const double step = r.step_time.value;
  const double busy = (r.critical.compute + r.critical.optimizer).value;
  const double bubble = r.critical.bubble.value;
  std::printf("compute-only llama3-70b 1F1B: step %.4f s = compute+opt %.4f + bubble %.4f "
              "(exposed tp %.2e pp %.2e dp %.2e); bubble fraction %.5f, (p-1)/(m+p-1) %.5f\n",
              step, busy, bubble, r.critical.exposed_tp_comm.value,
              r.critical.exposed_pp_comm.value, r.critical.exposed_dp_comm.value, bubble / step,
              (p - 1) / (m + p - 1));
  // The topology keeps its link latencies (a few µs per collective round): the exposed
  // communication left is that latency, a small share of the step.
  const double exposed = (r.critical.exposed_tp_comm + r.critical.exposed_ep_comm +
                          r.critical.exposed_pp_comm + r.critical.exposed_dp_comm).value;
  EXPECT_NEAR(busy + bubble + exposed, step, 1e-6 * step);
  EXPECT_LT(exposed, 0.03 * step);
  // The 1F1B fill and drain of uniform stages; the stages here differ by the embedding and the
  // LM head, so the measured bubble of the busiest stage is compared with the formula over
  // the busiest stage's own per-micro-batch time: (p − 1)·(F + B) / step.
  const double per_mb = r.critical.compute.value / m;
  EXPECT_NEAR(bubble / step, (p - 1) * per_mb / step, 0.2 * (p - 1) * per_mb / step);
  EXPECT_NEAR(path_total(r), step, 1e-6 * step);
}

TEST(OpDes, UniformPipelineBubbleMatchesTheFormula) {
  // Stages of equal cost (a middle stage of Llama: only transformer layers) give the textbook
  // 1F1B bubble (p−1)/(m+p−1) on every stage but the ends; the first stage (embedding) is
  // lighter, the last (LM head) heavier: the middle stages' bubble is the formula's.
  const Scenario s = load("llama3-70b-h100.json",
                          test::compute_only({"parallelism.schedule=1f1b", "parallelism.vpp=1",
                                              "training.global_batch=512"}));
  const DesStep d = simulate_step_des_detailed(s);
  const double p = s.parallelism.pp, m = static_cast<double>(s.micro_batches());
  const auto& mid = d.run.stage_breakdown[1];
  const double step = d.result.step_time.value;
  // The formula counts fill and drain in units of a middle stage's F+B.
  const double per_mb = mid.compute.value / m;
  const double expected = (m + p - 1) * per_mb + mid.optimizer.value;
  std::printf("uniform 1F1B (p %g, m %g): step %.5f s, (m+p-1)(F+B)+opt %.5f s (%+.3f%%)\n", p, m,
              step, expected, 100.0 * (step / expected - 1.0));
  // The last stage is heavier (LM head), so the step is longer than the middle stages' formula
  // by the head's extra work on the critical path: bounded by the heaviest stage's time.
  // Per-micro-batch time of the heaviest stage, its collectives' latencies included.
  const auto& last = d.run.stage_breakdown.back();
  const double upper =
      (m + p - 1) * ((last.compute + last.exposed_tp_comm).value / m) + last.optimizer.value;
  EXPECT_GE(step, expected * 0.99);
  EXPECT_LE(step, upper * 1.01);
}

TEST(OpDes, ReducedAndFullSimulationGiveTheSameStep) {
  const Scenario reduced = load("llama3-70b-h100.json", llama64());
  const Scenario full = load("llama3-70b-h100.json", llama64({"simulation.ranks=all"}));
  const DesStep a = simulate_step_des_detailed(reduced), b = simulate_step_des_detailed(full);
  std::printf("llama3-70b on 64 GPUs: reduced (%lld GPUs) %.6f s, %llu events; all (%lld GPUs) "
              "%.6f s, %llu events\n",
              static_cast<long long>(a.result.simulated_gpus), a.result.step_time.value,
              static_cast<unsigned long long>(a.run.events),
              static_cast<long long>(b.result.simulated_gpus), b.result.step_time.value,
              static_cast<unsigned long long>(b.run.events));
  EXPECT_EQ(a.result.simulated_gpus, 4);
  EXPECT_EQ(b.result.simulated_gpus, 64);
  EXPECT_NEAR(a.result.step_time.value, b.result.step_time.value, 1e-6 * b.result.step_time.value);
  bool said = false;
  for (const auto& w : a.result.warnings) said |= w.find("simulated 4 GPUs") != std::string::npos;
  EXPECT_TRUE(said);
}

TEST(OpDes, ResultsCarryCriticalPathLinksAndMemory) {
  const DesStep d = simulate_step_des_detailed(load("llama3-70b-h100.json"));
  const StepResult& r = d.result;
  EXPECT_NEAR(path_total(r), r.step_time.value, 1e-6 * r.step_time.value);
  std::map<std::string, double> path;
  for (const auto& c : r.critical_path) path[c.category] = c.time.value;
  EXPECT_GT(path["gemm"], 0.0);
  EXPECT_GT(path["attention"], 0.0);
  EXPECT_GT(path["memory-bound"], 0.0);
  ASSERT_FALSE(r.link_use.empty());
  for (std::size_t k = 1; k < r.link_use.size(); ++k)
    EXPECT_GE(r.link_use[k - 1].bytes.value, r.link_use[k].bytes.value);
  for (const auto& l : r.link_use) {
    EXPECT_FALSE(l.name.empty());
    EXPECT_LE(l.peak_utilisation, 1.0 + 1e-9);
    EXPECT_LE(l.mean_utilisation, l.peak_utilisation + 1e-9);
  }
  ASSERT_EQ(r.gpu_memory.size(), 4u);
  // 1F1B-like schedules keep the most micro-batches in flight on the first stage.
  EXPECT_GT(r.gpu_memory[0].activations.value, r.gpu_memory[3].activations.value);
  EXPECT_GE(r.memory.activations.value * 1.5, r.gpu_memory[0].activations.value);
}

TEST(OpDes, OversubscribedSpineSlowsTheDes) {
  auto run = [](double oversub) {
    const Scenario s = load("llama3-70b-h100.json",
                            {"cluster.network.topology=fat-tree",
                             "cluster.network.oversubscription=" + std::to_string(oversub),
                             "cluster.network.scale_out_gbps_per_gpu=50"});
    return std::make_pair(simulate_step_analytical(s).step_time.value,
                          simulate_step_des(s).step_time.value);
  };
  const auto [a1, d1] = run(1.0);
  const auto [a8, d8] = run(8.0);
  std::printf("fat-tree 1:1 → 8:1: analytical %.4f → %.4f s (%+.2f%%), des %.4f → %.4f s (%+.2f%%)\n",
              a1, a8, 100 * (a8 / a1 - 1), d1, d8, 100 * (d8 / d1 - 1));
  EXPECT_GT(d8, d1);
}

TEST(OpDes, OneSlowGpuSlowsASynchronousJob) {
  // 64 GPUs as 8 data-parallel replicas of TP8 (no pipeline), synchronised by their gradient
  // reduction: one GPU 20% slower (speed 1/1.2) makes its TP group, its replica and through the
  // DP collectives every replica ~20% slower.
  const std::vector<std::string> dp8 = {"parallelism.pp=1", "training.global_batch=64"};
  const Scenario base = load("llama3-70b-h100.json", llama64(test::compute_only(dp8)));
  std::string factors = "[";
  for (int g = 0; g < 64; ++g) factors += std::string(g ? "," : "") + (g == 9 ? "0.8333333333" : "1");
  factors += "]";
  const Scenario slow = load("llama3-70b-h100.json",
                             llama64(test::compute_only({"parallelism.pp=1",
                                                         "training.global_batch=64",
                                                         "cluster.variation.factors=" + factors,
                                                         "cluster.variation.replicas=1"})));
  const double t0 = simulate_step_des(base).step_time.value;
  const StepResult r = simulate_step_des(slow);
  std::printf("one GPU of 64 at 1/1.2 speed: step %.4f → %.4f s (%+.2f%%)\n", t0,
              r.step_time.value, 100 * (r.step_time.value / t0 - 1));
  EXPECT_NEAR(r.step_time.value / t0, 1.2, 0.03);
}

TEST(OpDes, StragglersCostMoreAsTheClusterGrows) {
  // The same per-replica work on 2 and 8 data-parallel replicas, per-GPU speed spread 5%: the
  // step waits for the slowest GPU, and the slowest of more draws is slower.
  auto slowdown = [](int gpus) {
    const std::vector<std::string> sets = test::compute_only(
        {"cluster.gpus=" + std::to_string(gpus), "training.global_batch=" + std::to_string(gpus / 2),
         "parallelism.schedule=1f1b", "parallelism.vpp=1"});
    std::vector<std::string> var = sets;
    var.push_back("cluster.variation.compute_spread=0.05");
    var.push_back("cluster.variation.replicas=1");
    const double t0 = simulate_step_des(load("llama3-70b-h100.json", sets)).step_time.value;
    const double t1 = simulate_step_des(load("llama3-70b-h100.json", var)).step_time.value;
    return t1 / t0 - 1.0;
  };
  const double small = slowdown(64), large = slowdown(256);
  std::printf("5%% speed spread: 64 GPUs %+.2f%%, 256 GPUs %+.2f%%\n", 100 * small, 100 * large);
  EXPECT_GT(large, small);
}

TEST(OpDes, VariationReportsPercentilesAndIsDeterministic) {
  const Scenario s = load("llama3-70b-h100.json",
                          llama64({"cluster.variation.compute_spread=0.03",
                                   "cluster.variation.step_jitter=0.02",
                                   "cluster.variation.replicas=5", "simulation.seed=7"}));
  const StepResult a = simulate_step_des(s), b = simulate_step_des(s);
  ASSERT_EQ(a.variation_step_times.size(), 5u);
  EXPECT_EQ(a.variation_step_times, b.variation_step_times);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_LE(a.step_time_p50.value, a.step_time_p90.value);
  EXPECT_EQ(a.simulated_gpus, 64);
}

TEST(OpDes, SixtyFourGpuTraceHasEveryGpuAndFlowEvents) {
  const Scenario s = load("llama3-70b-h100.json", llama64({"simulation.ranks=all"}));
  DesOptions o;
  o.record_tasks = true;
  const DesStep d = simulate_step_des_detailed(s, o);
  const nlohmann::json doc = nlohmann::json::parse(build_chrome_trace(d).dump());
  std::set<int> processes, with_slices;
  std::size_t flows_s = 0, flows_f = 0;
  std::set<std::string> names;
  for (const auto& e : doc.at("traceEvents")) {
    // Trace Event Format: every event has ph, pid; X has name, ts, dur ≥ 0, tid.
    const std::string ph = e.at("ph");
    if (ph == "M" && e.at("name") == "process_name") processes.insert(e.at("pid").get<int>());
    if (ph == "X") {
      EXPECT_GE(e.at("dur").get<double>(), 0.0);
      EXPECT_TRUE(e.contains("ts") && e.contains("tid") && e.contains("name"));
      with_slices.insert(e.at("pid").get<int>());
      names.insert(e.at("name").get<std::string>());
    }
    flows_s += ph == "s";
    flows_f += ph == "f";
  }
  EXPECT_EQ(processes.size(), 64u);
  EXPECT_EQ(with_slices.size(), 64u);
  EXPECT_GT(flows_s, 0u);
  EXPECT_EQ(flows_s, flows_f);
  EXPECT_TRUE(names.count("optimizer.adam"));
  bool op_named = false;
  for (const auto& n : names) op_named |= n.rfind("attn.", 0) == 0 || n.find(".qkv") != std::string::npos;
  EXPECT_TRUE(op_named);
  // --ranks: keep two GPUs.
  TraceOptions two;
  two.ranks = {0, 9};
  const nlohmann::json sub = nlohmann::json::parse(build_chrome_trace(d, two).dump());
  std::set<int> pids;
  for (const auto& e : sub.at("traceEvents")) pids.insert(e.at("pid").get<int>());
  EXPECT_EQ(pids, (std::set<int>{0, 9}));
}

TEST(OpDes, MtNlgPerGpuThroughputFallsWithGpuCount) {
  // MT-NLG 530B at a fixed global batch (published E3: 126 / 121 / 113 TFLOP/s per GPU at
  // 2,240 / 2,800 / 3,360 GPUs): more data-parallel replicas, fewer micro-batches each, a
  // larger pipeline bubble share and larger DP groups.
  std::vector<double> tflops;
  for (int gpus : {2240, 2800, 3360}) {
    const Scenario s = load("published/mtnlg-e3.json", {"cluster.gpus=" + std::to_string(gpus)});
    const StepResult r = simulate_step_des(s);
    const double peak = s.gpu.peak_tflops("bf16").value_or(0);
    tflops.push_back(r.hfu * peak);
    std::printf("MT-NLG on %d A100: %.1f TFLOP/s per GPU (hfu %.3f), step %.2f s, bubble %.2f s\n",
                gpus, r.hfu * peak, r.hfu, r.step_time.value, r.critical.bubble.value);
  }
  // Ours: the bubble share grows with fewer micro-batches per replica; over the whole range
  // per-GPU throughput falls.
  EXPECT_GT(tflops[0], tflops[2]);
}
