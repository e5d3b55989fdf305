#include "sim/network/collectives.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <set>
#include <string>
#include <vector>

using namespace clustercost;

namespace {

std::vector<int> iota_group(int n, int first = 0, int stride = 1) {
  std::vector<int> g;
  for (int i = 0; i < n; ++i) g.push_back(first + i * stride);
  return g;
}

// Dependencies only point backwards (the DAG is in topological order) and name existing
// transfers; every transfer moves bytes between distinct GPUs of the group.
void check_dag(const TransferDag& dag, const std::vector<int>& group) {
  const std::set<int> members(group.begin(), group.end());
  int max_step = -1;
  for (std::size_t i = 0; i < dag.transfers.size(); ++i) {
    const Transfer& t = dag.transfers[i];
    EXPECT_NE(t.src, t.dst);
    EXPECT_TRUE(members.count(t.src) && members.count(t.dst));
    EXPECT_GE(t.bytes.value, 0.0);
    max_step = std::max(max_step, t.step);
    for (std::uint32_t d : t.deps) {
      ASSERT_LT(d, i) << "dependency does not precede transfer " << i;
      const Transfer& dep = dag.transfers[d];
      // Data flows into the sender (it forwards what it got) or it is the sender's own
      // previous send.
      EXPECT_TRUE(dep.dst == t.src || dep.src == t.src);
      EXPECT_LE(dep.step, t.step);
    }
  }
  EXPECT_EQ(dag.steps, max_step + 1);
}

// Earliest finish of every transfer when each takes `alpha + bytes / rate` and starts as soon
// as its dependencies are done (no contention): the DAG's critical path.
double critical_path(const TransferDag& dag, double alpha, double rate) {
  std::vector<double> finish(dag.transfers.size(), 0.0);
  double end = 0.0;
  for (std::size_t i = 0; i < dag.transfers.size(); ++i) {
    double start = 0.0;
    for (std::uint32_t d : dag.transfers[i].deps) start = std::max(start, finish[d]);
    finish[i] = start + alpha + dag.transfers[i].bytes.value / rate;
    end = std::max(end, finish[i]);
  }
  return end;
}

}  // namespace

TEST(Collectives, RingAllReduceSendsTwoNMinusOneOverNOfTheBuffer) {
  const Bytes size(1 << 30);
  for (int n : {2, 3, 8, 16}) {
    const std::vector<int> g = iota_group(n, 4, 3);
    const TransferDag dag = ring_all_reduce(g, size);
    check_dag(dag, g);
    EXPECT_EQ(dag.steps, 2 * (n - 1));
    EXPECT_EQ(dag.transfers.size(), static_cast<std::size_t>(2 * (n - 1) * n));
    const double expected = 2.0 * (n - 1) / n * size.value;
    for (int gpu : g) {
      EXPECT_NEAR(dag.bytes_sent_by(gpu).value, expected, 1e-6 * expected);
      EXPECT_NEAR(dag.bytes_received_by(gpu).value, expected, 1e-6 * expected);
    }
    // Each rank sends to its successor in id order only.
    for (const Transfer& t : dag.transfers) {
      const auto it = std::find(g.begin(), g.end(), t.src);
      EXPECT_EQ(t.dst, g[static_cast<std::size_t>((it - g.begin() + 1) % n)]);
    }
  }
}

TEST(Collectives, RingOrderFollowsGpuIdsSoNodesAreContiguous) {
  const std::vector<int> g = {17, 3, 9, 1, 8, 16, 2, 0};
  EXPECT_EQ(ring_order(g), (std::vector<int>{0, 1, 2, 3, 8, 9, 16, 17}));
  EXPECT_THROW(ring_order(std::vector<int>{1, 2, 1}), std::invalid_argument);
  EXPECT_THROW(ring_order(std::vector<int>{}), std::invalid_argument);
  EXPECT_THROW(ring_order(std::vector<int>{-1, 2}), std::invalid_argument);
}

TEST(Collectives, ReduceScatterAndAllGatherSendNMinusOneOverN) {
  const Bytes size(8e6);
  const std::vector<int> g = iota_group(8);
  for (const TransferDag& dag : {ring_reduce_scatter(g, size), ring_all_gather(g, size)}) {
    check_dag(dag, g);
    EXPECT_EQ(dag.steps, 7);
    for (int gpu : g) EXPECT_NEAR(dag.bytes_sent_by(gpu).value, 7.0 / 8.0 * size.value, 1e-3);
  }
}

TEST(Collectives, SingleRankIsEmpty) {
  const std::vector<int> one = {5};
  EXPECT_TRUE(ring_all_reduce(one, Bytes(100)).transfers.empty());
  EXPECT_TRUE(tree_all_reduce(one, Bytes(100)).transfers.empty());
  EXPECT_TRUE(all_to_all(one, Bytes(100)).transfers.empty());
  EXPECT_TRUE(broadcast(one, 5, Bytes(100)).transfers.empty());
  EXPECT_EQ(ring_all_reduce(one, Bytes(100)).steps, 0);
}

TEST(Collectives, DoubleBinaryTreeIsTwoValidComplementaryTrees) {
  for (int n = 1; n <= 64; ++n) {
    const auto trees = double_binary_tree(n);
    std::vector<int> leaf_in_both(static_cast<std::size_t>(n), 0);
    for (const BinaryTree& t : trees) {
      int roots = 0;
      for (int p = 0; p < n; ++p) {
        const auto up = static_cast<std::size_t>(p);
        if (t.parent[up] < 0) {
          ++roots;
          EXPECT_EQ(p, t.root);
          EXPECT_EQ(t.depth[up], 0);
        } else {
          const auto& siblings = t.children[static_cast<std::size_t>(t.parent[up])];
          EXPECT_TRUE(siblings[0] == p || siblings[1] == p);
          EXPECT_EQ(t.depth[up], t.depth[static_cast<std::size_t>(t.parent[up])] + 1);
        }
        if (t.children[up][0] < 0 && t.children[up][1] < 0) ++leaf_in_both[up];
      }
      EXPECT_EQ(roots, 1);
      // Balanced: height ≤ floor(log2 n).
      EXPECT_LE(t.height, static_cast<int>(std::floor(std::log2(n))));
    }
    // Leaves of one tree are inner nodes of the other, but for at most one position.
    if (n >= 3) {
      const int both = static_cast<int>(std::count(leaf_in_both.begin(), leaf_in_both.end(), 2));
      EXPECT_LE(both, 1) << "n = " << n;
    }
  }
}

TEST(Collectives, TreeAllReduceMovesEachHalfUpAndDown) {
  const Bytes size(1e9);
  for (int n : {2, 5, 8, 13}) {
    for (int chunks : {1, 4}) {
      const std::vector<int> g = iota_group(n, 0, 8);
      const TransferDag dag = tree_all_reduce(g, size, chunks);
      check_dag(dag, g);
      // Each tree: n−1 edges, half the buffer up and half down each.
      EXPECT_EQ(dag.transfers.size(), static_cast<std::size_t>(2 * 2 * (n - 1) * chunks));
      EXPECT_NEAR(dag.total_bytes().value, 2.0 * (n - 1) * size.value, 1.0);
      // Every rank receives the full reduced buffer: size/2 per tree, except what it already is
      // the root of; and every non-root sends its partial sums up in each tree.
      for (int gpu : g) EXPECT_GT(dag.bytes_received_by(gpu).value, 0.0);
    }
  }
  EXPECT_THROW(tree_all_reduce(iota_group(4), Bytes(1), 0), std::invalid_argument);
}

TEST(Collectives, HierarchicalAllReduceBytesPerPhase) {
  // 3 nodes × 4 GPUs (GPUs 0-3, 8-11, 16-19 of 8-GPU nodes).
  std::vector<int> g;
  for (int node = 0; node < 3; ++node)
    for (int l = 0; l < 4; ++l) g.push_back(node * 8 + l);
  const Bytes size(12e6);
  const TransferDag dag = hierarchical_all_reduce(g, size, 8);
  check_dag(dag, g);
  const double m = 4, k = 3;
  // Intra reduce-scatter + all-gather: 2(m−1)/m·S; inter all-reduce of S/m: 2(k−1)/k·S/m.
  const double expected = 2 * (m - 1) / m * size.value + 2 * (k - 1) / k * size.value / m;
  for (int gpu : g) EXPECT_NEAR(dag.bytes_sent_by(gpu).value, expected, 1e-3);
  EXPECT_EQ(dag.steps, static_cast<int>(2 * (m - 1) + 2 * (k - 1)));
  // Inter-node transfers connect GPUs of the same local position only.
  for (const Transfer& t : dag.transfers) {
    if (t.src / 8 != t.dst / 8) {
      EXPECT_EQ(t.src % 8, t.dst % 8);
    }
  }
  // Unequal local groups are refused.
  EXPECT_THROW(hierarchical_all_reduce(std::vector<int>{0, 1, 8}, size, 8), std::invalid_argument);
  // One node: just reduce-scatter + all-gather.
  const TransferDag local = hierarchical_all_reduce(iota_group(4), size, 8);
  EXPECT_EQ(local.steps, 6);
}

TEST(Collectives, BroadcastChainDeliversTheBufferOnce) {
  const std::vector<int> g = iota_group(6, 0, 8);
  const Bytes size(6e6);
  const TransferDag dag = broadcast(g, 16, size, 3);
  check_dag(dag, g);
  EXPECT_EQ(dag.bytes_received_by(16).value, 0.0);
  EXPECT_NEAR(dag.bytes_sent_by(16).value, size.value, 1e-6);
  for (int gpu : g) {
    if (gpu != 16) {
      EXPECT_NEAR(dag.bytes_received_by(gpu).value, size.value, 1e-6);
    }
  }
  EXPECT_EQ(dag.steps, 6 - 2 + 3);
  EXPECT_THROW(broadcast(g, 3, size), std::invalid_argument);
  // Pipelining: the critical path is (n − 2 + chunks)(α + S/chunks/B).
  const double alpha = 1e-6, rate = 1e9;
  EXPECT_NEAR(critical_path(dag, alpha, rate), (6 - 2 + 3) * (alpha + size.value / 3 / rate),
              1e-12);
}

TEST(Collectives, RingCriticalPathIsTwoNMinusOneSteps) {
  const std::vector<int> g = iota_group(8);
  const Bytes size(8e6);
  const double alpha = 2e-6, rate = 100e9;
  EXPECT_NEAR(critical_path(ring_all_reduce(g, size), alpha, rate),
              14 * (alpha + size.value / 8 / rate), 1e-12);
}

TEST(Collectives, AllToAllConservesBytes) {
  const Bytes size(1e6);
  for (int n : {2, 7, 16}) {
    const std::vector<int> g = iota_group(n, 1, 2);
    const TransferDag dag = all_to_all(g, size);
    check_dag(dag, g);
    EXPECT_EQ(dag.transfers.size(), static_cast<std::size_t>(n * (n - 1)));
    double sent = 0, received = 0;
    for (int gpu : g) {
      EXPECT_NEAR(dag.bytes_sent_by(gpu).value, (n - 1.0) / n * size.value, 1e-6);
      EXPECT_NEAR(dag.bytes_received_by(gpu).value, (n - 1.0) / n * size.value, 1e-6);
      sent += dag.bytes_sent_by(gpu).value;
      received += dag.bytes_received_by(gpu).value;
    }
    EXPECT_NEAR(sent, received, 1e-6);
    EXPECT_NEAR(dag.total_bytes().value, (n - 1.0) * size.value, 1e-3);
  }
}

TEST(Collectives, AllToAllVConservesTheMatrix) {
  const std::vector<int> g = {4, 0, 9};
  const std::vector<double> m = {5, 1, 2,  //
                                 3, 7, 0,  //
                                 4, 6, 11};
  const TransferDag dag = all_to_all_v(g, m);
  EXPECT_EQ(dag.transfers.size(), 5u);  // off-diagonal non-zeros
  EXPECT_DOUBLE_EQ(dag.total_bytes().value, 1 + 2 + 3 + 4 + 6);
  EXPECT_DOUBLE_EQ(dag.bytes_sent_by(4).value, 3);
  EXPECT_DOUBLE_EQ(dag.bytes_received_by(4).value, 7);
  EXPECT_DOUBLE_EQ(dag.bytes_received_by(0).value, 7);
  EXPECT_THROW(all_to_all_v(g, std::vector<double>{1, 2}), std::invalid_argument);
  EXPECT_THROW(all_to_all_v(g, std::vector<double>{0, -1, 0, 0, 0, 0, 0, 0, 0}),
               std::invalid_argument);
}

TEST(Collectives, SendRecvAndBusFactors) {
  const TransferDag d = send_recv(3, 12, Bytes(42));
  ASSERT_EQ(d.transfers.size(), 1u);
  EXPECT_EQ(d.transfers[0].src, 3);
  EXPECT_EQ(d.transfers[0].dst, 12);
  EXPECT_THROW(send_recv(3, 3, Bytes(1)), std::invalid_argument);
  EXPECT_THROW(ring_all_reduce(iota_group(4), Bytes(-1)), std::invalid_argument);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveKind::AllReduce, 8), 14.0 / 8);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveKind::AllGather, 8), 7.0 / 8);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveKind::AllToAll, 4), 3.0 / 4);
  EXPECT_DOUBLE_EQ(bus_bandwidth_factor(CollectiveKind::Broadcast, 8), 1.0);
}
