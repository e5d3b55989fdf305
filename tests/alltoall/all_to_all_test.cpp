#include "sim/network/all_to_all.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/common/reference_cluster.hpp"
#include "tests/common/shipped_data.hpp"

using namespace clustercost;

namespace {

using test::hgx_cluster;

std::vector<int> iota_gpus(int n, int first = 0) {
  std::vector<int> g;
  for (int i = 0; i < n; ++i) g.push_back(first + i);
  return g;
}

Eigen::MatrixXd uniform(int n, double bytes) {
  Eigen::MatrixXd m = Eigen::MatrixXd::Constant(n, n, bytes);
  m.diagonal().setZero();
  return m;
}

FabricEfficiency h800_like() {
  FabricEfficiency e;
  e.scale_up = 0.8;    // DeepSeek-V3: 160 of 200 GB/s NVLink (published-runs.md C4)
  e.scale_out = 0.97;  // CX-7: 48-49 of 50 GB/s (published-runs.md C6)
  return e;
}

double rel(double a, double b) { return std::fabs(a - b) / std::fabs(b); }

}  // namespace

TEST(AllToAll, UniformDirectInsideANodeIsBytesOverBandwidthPlusLatency) {
  const Topology t(hgx_cluster(8, 450.0, 400.0, ScaleOutKind::FatTree));
  AllToAllOptions o;
  o.efficiency.scale_up = 0.8;
  const double b = 64e6;
  const auto ranks = iota_gpus(8);
  const AllToAllResult r = simulate_all_to_all(t, ranks, uniform(8, b), o);
  // Every GPU pushes 7 shares through its one link to the switch at 450 × 0.8 GB/s.
  const double expected = t.latency(t.route(0, 1)).seconds().value + 7.0 * b / (450e9 * 0.8);
  EXPECT_LT(rel(r.time.value, expected), 1e-6) << r.time.value << " vs " << expected;
  EXPECT_EQ(r.flows, 56u);
  EXPECT_DOUBLE_EQ(r.scale_out_bytes.value, 0.0);
  EXPECT_DOUBLE_EQ(r.scale_up_bytes.value, 56.0 * b);
  for (int i = 0; i < 8; ++i) {
    EXPECT_DOUBLE_EQ(r.send_bytes[static_cast<std::size_t>(i)].value, 7.0 * b);
    EXPECT_DOUBLE_EQ(r.recv_bytes[static_cast<std::size_t>(i)].value, 7.0 * b);
  }
  EXPECT_DOUBLE_EQ(r.hottest_link_bytes.value, 7.0 * b);
  EXPECT_NEAR(r.hottest_link_peak_utilisation, 1.0, 1e-9);
  // The α-β estimate on the same routes agrees on this uncontended case.
  const AllToAllEstimate e = estimate_all_to_all(t, ranks, uniform(8, b), o);
  EXPECT_LT(rel(e.time.value, r.time.value), 0.01);
}

TEST(AllToAll, UniformAcrossNodesMatchesTheClosedForm) {
  const Topology t(hgx_cluster(16, 450.0, 400.0, ScaleOutKind::FatTree));
  AllToAllOptions o;
  o.efficiency = h800_like();
  const double b = 16e6;
  const auto ranks = iota_gpus(16);
  const AllToAllResult r = simulate_all_to_all(t, ranks, uniform(16, b), o);
  // Each NIC carries the 8 shares for the other node at 50 GB/s × 0.97; NVLink (7 shares at
  // 360 GB/s) finishes earlier. Flows of one route start together after its latency.
  const double nic = 400e9 / 8.0 * 0.97;
  const double expected = t.latency(t.route(0, 8)).seconds().value + 8.0 * b / nic;
  EXPECT_LT(rel(r.time.value, expected), 1e-6) << r.time.value << " vs " << expected;
  EXPECT_DOUBLE_EQ(r.scale_out_bytes.value, 16.0 * 8.0 * b);
  const Link& hot = t.link(r.hottest_link);
  EXPECT_FALSE(is_scale_up(hot.kind)) << r.hottest_link_name;
  const AllToAllEstimate e = estimate_all_to_all(t, ranks, uniform(16, b), o);
  EXPECT_LT(rel(e.time.value, r.time.value), 0.03);
  std::printf("cross-node uniform: flow %.1f us, alpha-beta %.1f us, hottest %s\n",
              r.time.value * 1e6, e.time.value * 1e6, r.hottest_link_name.c_str());
}

TEST(AllToAll, AHotDestinationSlowsItAndNamesItsLink) {
  const Topology t(hgx_cluster(16, 450.0, 400.0, ScaleOutKind::FatTree));
  AllToAllOptions o;
  o.efficiency = h800_like();
  const auto ranks = iota_gpus(16);
  const Eigen::MatrixXd base = uniform(16, 8e6);
  Eigen::MatrixXd hot = base;
  for (int s = 0; s < 16; ++s)
    if (s != 5) hot(s, 5) *= 6.0;
  const AllToAllResult a = simulate_all_to_all(t, ranks, base, o);
  const AllToAllResult h = simulate_all_to_all(t, ranks, hot, o);
  EXPECT_GT(h.time.value, 1.5 * a.time.value);
  EXPECT_EQ(h.hottest_rank, 5);
  const Link& l = t.link(h.hottest_link);
  // The last hop into GPU 5: its NIC's or its NVSwitch port's link towards it.
  EXPECT_TRUE(l.to == t.gpu_vertex(5) || l.to == t.nic_of(5)) << h.hottest_link_name;
  EXPECT_TRUE(h.hottest_link_name.find("gpu 5") != std::string::npos ||
              h.hottest_link_name.find("nic 5") != std::string::npos)
      << h.hottest_link_name;
  // Other ranks finish well before the hot one.
  EXPECT_LT(h.rank_done[0].value, 0.8 * h.rank_done[5].value);
}

TEST(AllToAll, AnOversubscribedSpineSlowsIt) {
  // 8 nodes on leaves of radix 16 (8 NICs down, 8 up, non-blocking) against 4:1 uplinks.
  const auto ranks = iota_gpus(64);
  AllToAllOptions o;
  o.efficiency = h800_like();
  const Eigen::MatrixXd m = uniform(64, 2e6);
  const Topology flat(hgx_cluster(64, 450.0, 400.0, ScaleOutKind::FatTree, 1.0, 16));
  const Topology over(hgx_cluster(64, 450.0, 400.0, ScaleOutKind::FatTree, 4.0, 16));
  ASSERT_GT(over.shape().oversubscription(), 2.0);
  const AllToAllResult a = simulate_all_to_all(flat, ranks, m, o);
  const AllToAllResult b = simulate_all_to_all(over, ranks, m, o);
  EXPECT_GT(b.time.value, 2.0 * a.time.value);
  EXPECT_EQ(over.link(b.hottest_link).kind, LinkKind::LeafSpine) << b.hottest_link_name;
  std::printf("spine 1:1 %.1f us, %.0f:1 %.1f us (hottest %s)\n", a.time.value * 1e6,
              over.shape().oversubscription(), b.time.value * 1e6, b.hottest_link_name.c_str());
}

TEST(AllToAll, HierarchicalWithDedupMovesFewerScaleOutBytes) {
  const Topology t(hgx_cluster(32, 200.0, 400.0, ScaleOutKind::MultiPlane));
  const auto ranks = iota_gpus(32);
  DeepEpRouting routing;
  routing.tokens = 512;
  const EpTokenCounts c = deepep_routing(routing, 32, 8);
  const double tb = token_bytes(7168, "fp8");
  AllToAllOptions o;
  o.efficiency = h800_like();
  const AllToAllResult direct = simulate_all_to_all(t, ranks, c.rank_tokens * tb, o);
  o.algorithm = AllToAllAlgorithm::Hierarchical;
  const AllToAllResult hier =
      simulate_all_to_all(t, ranks, c.rank_tokens * tb, o, c.domain_tokens * tb);
  // Without the domain matrix and no dedup factor, the scale-out bytes are the direct ones.
  const AllToAllResult nodedup = simulate_all_to_all(t, ranks, c.rank_tokens * tb, o);
  EXPECT_LT(hier.scale_out_bytes.value, 0.8 * direct.scale_out_bytes.value);
  EXPECT_LT(hier.time.value, direct.time.value);
  EXPECT_NEAR(nodedup.scale_out_bytes.value / direct.scale_out_bytes.value, 1.0, 0.35);
  // Conservation: the logical bytes do not depend on the algorithm.
  for (std::size_t i = 0; i < ranks.size(); ++i)
    EXPECT_DOUBLE_EQ(direct.recv_bytes[i].value, hier.recv_bytes[i].value);
  // Exact scale-out bytes: every rank's off-domain (token, domain) pairs.
  double pairs = 0.0;
  for (int i = 0; i < 32; ++i)
    for (int d = 0; d < 4; ++d)
      if (d != i / 8) pairs += c.domain_tokens(i, d);
  EXPECT_NEAR(hier.scale_out_bytes.value, pairs * tb, 1e-6 * pairs * tb);
  // A dedup factor divides them.
  o.dedup_factor = 2.0;
  const AllToAllResult halved = simulate_all_to_all(t, ranks, c.rank_tokens * tb, o);
  EXPECT_NEAR(halved.scale_out_bytes.value, nodedup.scale_out_bytes.value / 2.0,
              1e-6 * nodedup.scale_out_bytes.value);
  std::printf("scale-out bytes: direct %.1f MB, hierarchical %.1f MB; time %.0f vs %.0f us\n",
              direct.scale_out_bytes.value / 1e6, hier.scale_out_bytes.value / 1e6,
              direct.time.value * 1e6, hier.time.value * 1e6);
}

TEST(AllToAll, HierarchicalAgreesWithItsEstimateWhenUniform) {
  const Topology t(hgx_cluster(32, 200.0, 400.0, ScaleOutKind::MultiPlane));
  const auto ranks = iota_gpus(32);
  AllToAllOptions o;
  o.efficiency = h800_like();
  o.algorithm = AllToAllAlgorithm::Hierarchical;
  for (HierarchicalOrder order : {HierarchicalOrder::ScaleOutFirst, HierarchicalOrder::ScaleUpFirst}) {
    o.order = order;
    const AllToAllResult r = simulate_all_to_all(t, ranks, uniform(32, 4e6), o);
    const AllToAllEstimate e = estimate_all_to_all(t, ranks, uniform(32, 4e6), o);
    EXPECT_LT(rel(e.time.value, r.time.value), 0.05)
        << e.time.value << " vs " << r.time.value;
    EXPECT_GT(e.pipeline_fill.value, 0.0);
  }
}

TEST(AllToAll, IsDeterministic) {
  const Topology t(hgx_cluster(64, 200.0, 400.0, ScaleOutKind::RailOptimized));
  const auto ranks = iota_gpus(64);
  DeepEpRouting routing;
  routing.tokens = 256;
  routing.seed = 7;
  const EpTokenCounts c = deepep_routing(routing, 64, 8);
  const EpTokenCounts c2 = deepep_routing(routing, 64, 8);
  EXPECT_EQ(c.rank_tokens, c2.rank_tokens);
  AllToAllOptions o;
  o.efficiency = h800_like();
  const AllToAllResult a = simulate_all_to_all(t, ranks, c.rank_tokens * 7392.0, o);
  const AllToAllResult b = simulate_all_to_all(t, ranks, c.rank_tokens * 7392.0, o);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.hottest_link, b.hottest_link);
  ASSERT_EQ(a.link_bytes.size(), b.link_bytes.size());
  for (std::size_t i = 0; i < a.link_bytes.size(); ++i) {
    EXPECT_EQ(a.link_bytes[i].first, b.link_bytes[i].first);
    EXPECT_EQ(a.link_bytes[i].second, b.link_bytes[i].second);
  }
}

TEST(AllToAll, ZeroMatrixTakesNoTime) {
  const Topology t(hgx_cluster(16, 450.0, 400.0, ScaleOutKind::FatTree));
  const auto ranks = iota_gpus(16);
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(16, 16);
  m.diagonal().setConstant(1e9);  // local only: never enters the network
  for (AllToAllAlgorithm alg : {AllToAllAlgorithm::Direct, AllToAllAlgorithm::Hierarchical}) {
    AllToAllOptions o;
    o.algorithm = alg;
    const AllToAllResult r = simulate_all_to_all(t, ranks, m, o);
    EXPECT_EQ(r.time.value, 0.0);
    EXPECT_EQ(r.flows, 0u);
    EXPECT_TRUE(r.link_bytes.empty());
    EXPECT_EQ(estimate_all_to_all(t, ranks, m, o).time.value, 0.0);
  }
}

TEST(AllToAll, ShareDividesTheCapacity) {
  const Topology t(hgx_cluster(8, 450.0, 400.0, ScaleOutKind::FatTree));
  const auto ranks = iota_gpus(8);
  AllToAllOptions o;
  const AllToAllResult one = simulate_all_to_all(t, ranks, uniform(8, 32e6), o);
  o.share.assign(t.num_links(), 2.0);
  const AllToAllResult two = simulate_all_to_all(t, ranks, uniform(8, 32e6), o);
  const double lat = t.latency(t.route(0, 1)).seconds().value;
  EXPECT_LT(rel(two.time.value - lat, 2.0 * (one.time.value - lat)), 1e-6);
}

TEST(AllToAll, RejectsBadArguments) {
  const Topology t(hgx_cluster(8, 450.0, 400.0, ScaleOutKind::FatTree));
  const auto ranks = iota_gpus(8);
  AllToAllOptions o;
  EXPECT_THROW(simulate_all_to_all(t, ranks, uniform(7, 1.0), o), std::invalid_argument);
  Eigen::MatrixXd neg = uniform(8, 1.0);
  neg(0, 1) = -1.0;
  EXPECT_THROW(simulate_all_to_all(t, ranks, neg, o), std::invalid_argument);
  neg(0, 1) = std::nan("");
  EXPECT_THROW(simulate_all_to_all(t, ranks, neg, o), std::invalid_argument);
  const std::vector<int> dup = {0, 1, 1, 2, 3, 4, 5, 6};
  EXPECT_THROW(simulate_all_to_all(t, dup, uniform(8, 1.0), o), std::invalid_argument);
  const std::vector<int> outside = {0, 1, 2, 3, 4, 5, 6, 99};
  EXPECT_THROW(simulate_all_to_all(t, outside, uniform(8, 1.0), o), std::invalid_argument);
  o.dedup_factor = 0.5;
  EXPECT_THROW(simulate_all_to_all(t, ranks, uniform(8, 1.0), o), std::invalid_argument);
  o.dedup_factor = 1.0;
  o.algorithm = AllToAllAlgorithm::Hierarchical;
  EXPECT_THROW(simulate_all_to_all(t, ranks, uniform(8, 1.0), o, Eigen::MatrixXd::Ones(8, 3)),
               std::invalid_argument);
  EXPECT_THROW(token_bytes(7168, "int4"), std::invalid_argument);
  EXPECT_EQ(all_to_all_algorithm_from_string("hierarchical"), AllToAllAlgorithm::Hierarchical);
  EXPECT_FALSE(all_to_all_algorithm_from_string("ring").has_value());
}

TEST(AllToAll, DeepEpRoutingFollowsTheBenchmark) {
  DeepEpRouting routing;
  routing.tokens = 2048;
  const EpTokenCounts c = deepep_routing(routing, 64, 8);
  // Every token picks exactly top_k experts, in at most 4 of the 8 nodes.
  for (int s = 0; s < 64; ++s) {
    EXPECT_DOUBLE_EQ(c.expert_tokens.row(s).sum(), 8.0 * 2048);
    EXPECT_LE(c.domain_tokens.row(s).sum(), 4.0 * 2048);
    EXPECT_GE(c.domain_tokens.row(s).sum(), 2048.0);
  }
  // A token reaches a rank at most once; with 4 experts per rank and top-8, a few ranks.
  const double per_token = c.rank_tokens.sum() / (64.0 * 2048);
  EXPECT_GT(per_token, 6.0);
  EXPECT_LE(per_token, 8.0);
}

TEST(AllToAll, Ep64On2048GpusFinishesWithEveryFlowDelivered) {
  // DeepSeek-V3's cluster: 2,048 H800 on a multi-plane fat-tree; one EP64 group of 8 nodes.
  // Its speed (target: 20 ms CPU for the hierarchical one) is tests/bench/moe_bench.cpp's
  // BM_AllToAllEp64, not an assertion here.
  const Topology t(hgx_cluster(2048, 200.0, 400.0, ScaleOutKind::MultiPlane));
  const auto ranks = iota_gpus(64);
  DeepEpRouting routing;
  const EpTokenCounts c = deepep_routing(routing, 64, 8);
  const double tb = token_bytes(7168, "fp8");
  AllToAllOptions o;
  o.efficiency = h800_like();
  double direct_s = 0.0;
  for (AllToAllAlgorithm alg : {AllToAllAlgorithm::Direct, AllToAllAlgorithm::Hierarchical}) {
    o.algorithm = alg;
    const AllToAllResult r =
        simulate_all_to_all(t, ranks, c.rank_tokens * tb, o, c.domain_tokens * tb);
    std::printf("EP64 on 2048 GPUs, %s: %zu flows, %llu recomputations, all-to-all %.0f us\n",
                to_string(alg), r.flows, static_cast<unsigned long long>(r.recomputations),
                r.time.value * 1e6);
    EXPECT_GT(r.flows, 0u);
    EXPECT_GT(r.time.value, 0.0);
    EXPECT_TRUE(std::isfinite(r.time.value));
    if (alg == AllToAllAlgorithm::Direct) {
      EXPECT_EQ(r.flows, 64u * 63u);  // every ordered pair of distinct ranks exchanges tokens
      direct_s = r.time.value;
    } else {
      // Hierarchical dedups a token bound for several ranks of one node into one scale-out
      // copy: less scale-out traffic, so no slower than direct on this fabric.
      EXPECT_LE(r.time.value, direct_s * 1.0001);
    }
  }
}

TEST(AllToAll, DeepEpC1Table) {
  // docs/reference/published-runs.md C1 (DeepEP docs/legacy.md, H800 + CX-7 400G).
  struct Row {
    int ep;
    double dispatch_gbs, combine_gbs;
  };
  const Row published[] = {{8, 153, 158}, {16, 43, 43}, {32, 58, 57}, {64, 51, 50}};
  std::printf("\nDeepEP C1 (normal kernels, 4096 tokens, hidden 7168, top-8, FP8 dispatch, "
              "BF16 combine)\n");
  std::printf("%-10s %4s | %9s %9s %7s | %9s %9s %7s | %s\n", "type", "EP", "disp pub",
              "disp sim", "error", "comb pub", "comb sim", "error", "dispatch hottest link");
  double sum_abs = 0.0;
  for (const Row& row : published) {
    const Scenario s =
        test::load_shipped("microbench/deepep-ep" + std::to_string(row.ep) + ".json");
    const Topology t(topology_config_from(s.gpu, s.node ? &*s.node : nullptr,
                                          static_cast<int>(s.cluster.gpus),
                                          s.cluster.gpus_per_node, s.cluster.network_overrides));
    DeepEpBenchmark bench;
    bench.routing.tokens = s.training.seq_len * s.parallelism.micro_batch;
    bench.routing.experts = s.model.moe->routed_experts;
    bench.routing.top_k = s.model.moe->top_k;
    bench.routing.topk_groups =
        std::min(s.moe_routing.node_limit.value_or(4), static_cast<int>(s.cluster.gpus) / 8);
    bench.routing.seed = s.simulation.seed;
    bench.hidden = s.model.hidden;
    bench.dispatch_dtype = s.moe_routing.dispatch_dtype;
    bench.combine_dtype = s.moe_routing.combine_dtype;
    FabricEfficiency eff;
    eff.scale_up = s.profile.network.scale_up;
    eff.scale_out = s.profile.network.scale_out;
    std::vector<int> ranks = iota_gpus(s.parallelism.ep);
    const DeepEpBandwidth bw = deepep_bandwidth(t, ranks, bench, eff);
    const double ed = (bw.dispatch_gbs - row.dispatch_gbs) / row.dispatch_gbs;
    const double ec = (bw.combine_gbs - row.combine_gbs) / row.combine_gbs;
    sum_abs += std::fabs(ed) + std::fabs(ec);
    std::printf("%-10s %4d | %9.0f %9.1f %+6.0f%% | %9.0f %9.1f %+6.0f%% | %s\n",
                bw.internode ? "internode" : "intranode", row.ep, row.dispatch_gbs,
                bw.dispatch_gbs, 100 * ed, row.combine_gbs, bw.combine_gbs, 100 * ec,
                bw.dispatch.hottest_link_name.c_str());
    EXPECT_EQ(bw.internode, row.ep > 8);
    EXPECT_TRUE(std::isfinite(bw.dispatch_gbs) && bw.dispatch_gbs > 0);
    EXPECT_TRUE(std::isfinite(bw.combine_gbs) && bw.combine_gbs > 0);
    // Physical bounds, not a fit: intranode traffic cannot beat the NVLink line rate once the
    // self share (1/8, counted by DeepEP but local) is removed; internode bandwidth counts the
    // own node too, so it can exceed the NIC rate but not NIC + NVLink.
    if (!bw.internode) {
      EXPECT_LT(bw.dispatch_gbs * 7.0 / 8.0, 200.0);
    } else {
      EXPECT_LT(bw.dispatch_gbs, 50.0 + 200.0);
    }
  }
  std::printf("mean absolute error %.0f%% over 8 figures\n\n", 100 * sum_abs / 8.0);
}
