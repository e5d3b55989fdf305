// Expert-parallel traffic in the step models (issue 4): sampled routing priced on the topology.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "sim/step/analytical_step.hpp"
#include "sim/workload/des_step.hpp"
#include "tests/common/shipped_data.hpp"

namespace clustercost {
namespace {

using test::load_shipped;

TEST(MoeStep, DeepSeekReportsNodeLimitedHierarchicalTraffic) {
  const Scenario s = load_shipped("deepseek-v3-h800.json");
  const StepResult r = simulate_step_des(s);
  const MoeSummary& m = r.moe;
  EXPECT_EQ(m.method, "flow");
  EXPECT_EQ(m.all_to_all, "hierarchical");  // the default with node_limit
  EXPECT_EQ(m.ep, 64);
  EXPECT_EQ(m.moe_layers, 58);
  EXPECT_EQ(m.sampled_layers, 4);
  ASSERT_EQ(m.layers.size(), 4u);
  EXPECT_GE(m.max_rank_tokens, m.mean_rank_tokens);
  EXPECT_GT(m.dispatch.value, 0);
  EXPECT_GT(m.combine.value, 0);
  EXPECT_FALSE(m.hottest_link.empty());
  EXPECT_EQ(m.traffic_bytes.size(), 64u * 64u);
  EXPECT_EQ(m.dropped_tokens_per_step, 0);  // no capacity factor: nothing dropped
  // Uniform routing, 4 of 8 nodes: a token reaches min(D, 4) ≈ 4 nodes, 7/8 of them remote
  // (≈ 3.5 crossings), each one FP8 token with its scales.
  const double token = 7168 * (1 + 4.0 / 128);
  EXPECT_LE(m.cross_node_bytes_per_token, 4.0 * token);
  EXPECT_NEAR(m.cross_node_bytes_per_token / token, 7.0 / 8.0 * 4.0, 0.1);
}

TEST(MoeStep, NodeLimitCutsScaleOutTraffic) {
  const Scenario limited = load_shipped("deepseek-v3-h800.json");
  // No limit: the same scenario with routing free over the 8 nodes of an EP group.
  Json doc = load_json_file(test::data_dirs().scenarios() / "deepseek-v3-h800.json");
  doc["moe_routing"].erase("node_limit");
  const Scenario free = parse_scenario(doc, "deepseek-v3-h800.json", test::shipped_catalog(),
                                       test::data_dirs());
  const StepResult a = simulate_step_des(limited), b = simulate_step_des(free);
  std::printf("scale-out bytes per token: node_limit 4 %.0f, none %.0f\n",
              a.moe.cross_node_bytes_per_token, b.moe.cross_node_bytes_per_token);
  EXPECT_LT(a.moe.cross_node_bytes_per_token, b.moe.cross_node_bytes_per_token);
}

TEST(MoeStep, ZipfSkewRaisesTheBusiestRankAndTheStepTime) {
  double last_tokens = 0, last_step = 0;
  std::printf("%6s %14s %12s %10s\n", "zipf s", "busiest/mean", "imbalance", "step s");
  for (const char* sv : {"0", "0.5", "1", "1.5"}) {
    const Scenario s = load_shipped(
        "deepseek-v3-h800.json",
        {"moe_routing.imbalance={\"kind\":\"zipf\",\"s\":" + std::string(sv) + "}"});
    const StepResult r = simulate_step_des(s);
    std::printf("%6s %14.3f %10.2f ms %10.3f\n", sv, r.moe.max_rank_tokens / r.moe.mean_rank_tokens,
                r.moe.expert_imbalance_per_layer.value * 1e3, r.step_time.value);
    EXPECT_GT(r.moe.max_rank_tokens, last_tokens) << "s = " << sv;
    EXPECT_GT(r.step_time.value, last_step) << "s = " << sv;
    last_tokens = r.moe.max_rank_tokens;
    last_step = r.step_time.value;
  }
}

TEST(MoeStep, AnalyticalAndDesAgreeOnUniformRouting) {
  const Scenario s = load_shipped("deepseek-v3-h800.json", {"simulation.fidelity=analytical"});
  const StepResult a = simulate_step_analytical(s);
  EXPECT_EQ(a.moe.method, "alpha-beta");  // sampled routing on the topology's routes
  const StepResult d = simulate_step_des(s);
  // Same layer costs; the DES adds its measured arrangement in time. The analytical model takes
  // DualPipe to hide every EP all-to-all; the op-level DES exposes what the paired chunk's
  // compute does not cover (and the bubble that adds).
  const double explained = a.step_time.value + d.critical.exposed_ep_comm.value +
                           std::max(0.0, (d.critical.bubble - a.critical.bubble).value);
  std::printf("deepseek-v3 uniform routing: analytical %.3f s, des %.3f s (exposed ep %.3f s)\n",
              a.step_time.value, d.step_time.value, d.critical.exposed_ep_comm.value);
  // The exposure partly overlaps the bubble it causes, so it bounds the difference from above.
  EXPECT_GE(d.step_time.value, 0.97 * a.step_time.value);
  EXPECT_LE(d.step_time.value, 1.03 * explained);
  // Skewed routing makes the analytical model sample too (α-β on the same routes).
  const Scenario z = load_shipped("deepseek-v3-h800.json",
                                  {"moe_routing.imbalance={\"kind\":\"zipf\",\"s\":1}"});
  EXPECT_EQ(simulate_step_analytical(z).moe.method, "alpha-beta");
}

TEST(MoeStep, CapacityFactorDropsAreReported) {
  const Scenario s = load_shipped("deepseek-v3-h800.json",
                                  {"moe_routing.imbalance={\"kind\":\"zipf\",\"s\":1}",
                                   "moe_routing.capacity_factor=1.0"});
  const StepResult r = simulate_step_des(s);
  EXPECT_GT(r.moe.dropped_tokens_per_step, 0);
  EXPECT_GT(r.moe.dropped_fraction, 0);
  EXPECT_LT(r.moe.dropped_fraction, 1);
}

TEST(MoeStep, DenseModelsHaveNoMoeSection) {
  const StepResult r = simulate_step_des(load_shipped("llama3-70b-h100.json"));
  EXPECT_TRUE(r.moe.method.empty());
}

}  // namespace
}  // namespace clustercost
