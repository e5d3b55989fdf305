// NVLink SHARP (NCCL's NVLS) in the algorithm choice: offered only inside one switched scale-up
// domain whose switches reduce (catalogue) with a measured efficiency (profile), priced by its
// bytes per GPU, checked against the published H100 figure (docs/reference/published-runs.md C5).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "hardware/efficiency/efficiency_profile.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/common/input_error.hpp"
#include "sim/network/analytical.hpp"
#include "sim/network/collective_runs.hpp"
#include "tests/common/shipped_network.hpp"

using namespace clustercost;

namespace {

using test::gpu_range;
using test::shipped_network;
using Shipped = test::ShippedNetwork;

}  // namespace

TEST(Nvls, AllReduceInsideAnH100NodeReachesThePublishedBusbw) {
  const Shipped h = shipped_network("H100-SXM", 1);
  ASSERT_TRUE(h.topo.config().scale_up.in_switch_reduction) << "catalogue: H100 NVSwitch reduces";
  ASSERT_GT(h.eff.nvls, 0.0) << "profile: NVLS efficiency measured";
  const Bytes size(8.0 * kGiB);
  const AlgorithmChoice c = nccl_algorithm(h.topo, CollectiveKind::AllReduce, gpu_range(8), size, h.eff);
  EXPECT_EQ(c.algorithm, CollectiveAlgorithm::Nvls);
  const CollectiveCost ring = ring_all_reduce_cost(h.topo, gpu_range(8), size, h.eff);
  // Published (nccl-tests#212): NVLS busbw ~480 GB/s (algbw ~275), ring ~370 GB/s.
  std::printf("H100 x8 all_reduce 8 GiB: nvls busbw %.1f GB/s (published ~480), ring %.1f (~370)\n",
              c.cost.busbw_bytes_per_s / 1e9, ring.busbw_bytes_per_s / 1e9);
  EXPECT_NEAR(c.cost.busbw_bytes_per_s / 1e9, 480.0, 480.0 * 0.03);
  EXPECT_NEAR(c.cost.algbw_bytes_per_s / 1e9, 275.0, 275.0 * 0.03);
  EXPECT_NEAR(ring.busbw_bytes_per_s / 1e9, 370.0, 370.0 * 0.03);
  // Two steps of α against the ring's 2(n−1): NVLS also wins small messages.
  const Bytes small(1 << 20);
  const AlgorithmChoice s = nccl_algorithm(h.topo, CollectiveKind::AllReduce, gpu_range(8), small, h.eff);
  EXPECT_EQ(s.algorithm, CollectiveAlgorithm::Nvls);
  EXPECT_EQ(s.cost.steps, 2);
  EXPECT_LT(s.cost.time, ring_all_reduce_cost(h.topo, gpu_range(8), small, h.eff).time);
}

TEST(Nvls, ReduceScatterAndAllGatherStayOnTheRing) {
  // NVLS moves the whole buffer over each GPU's link for these (the ring (n−1)/n of it), at a
  // lower efficiency: the ring is cheaper for large buffers, as NCCL's tuner finds.
  const Shipped h = shipped_network("H100-SXM", 1);
  const Bytes size(1.0 * kGiB);
  for (CollectiveKind k : {CollectiveKind::ReduceScatter, CollectiveKind::AllGather}) {
    const AlgorithmChoice c = nccl_algorithm(h.topo, k, gpu_range(8), size, h.eff);
    EXPECT_EQ(c.algorithm, CollectiveAlgorithm::Ring) << to_string(k);
    const CollectiveCost nvls = nvls_cost(h.topo, k, gpu_range(8), size, h.eff);
    EXPECT_EQ(nvls.steps, 1);
    EXPECT_NEAR(nvls.bandwidth_term.value, size.value / (450e9 * h.eff.nvls), 1e-12);
    EXPECT_GT(nvls.time, c.cost.time);
  }
}

TEST(Nvls, NotOfferedWithoutAReducingSwitchAMeasurementOrOneDomain) {
  const Bytes size(256.0 * 1024 * 1024);
  // A100 (NVSwitch gen2) and H800 (NCCL logs 0 NVLS channels): catalogue says no.
  for (const char* g : {"A100-80G-SXM", "H800-SXM"}) {
    const Shipped x = shipped_network(g, 1);
    EXPECT_FALSE(x.topo.config().scale_up.in_switch_reduction) << g;
    EXPECT_FALSE(nvls_available(x.topo, gpu_range(8), x.eff)) << g;
    EXPECT_NE(nccl_algorithm(x.topo, CollectiveKind::AllReduce, gpu_range(8), size, x.eff).algorithm,
              CollectiveAlgorithm::Nvls)
        << g;
  }
  // H100 across two nodes: NVLS-Tree is not modelled, so not NVLS.
  const Shipped two = shipped_network("H100-SXM", 2);
  EXPECT_FALSE(nvls_available(two.topo, gpu_range(16), two.eff));
  EXPECT_TRUE(nvls_available(two.topo, gpu_range(8, 8), two.eff)) << "the second node alone";
  // No measured efficiency: not offered.
  Shipped unmeasured = shipped_network("H100-SXM", 1);
  unmeasured.eff.nvls = 0.0;
  EXPECT_FALSE(nvls_available(unmeasured.topo, gpu_range(8), unmeasured.eff));
  // The scenario's what-if switch turns it off.
  NetworkOverrides off;
  off.in_switch_reduction = false;
  const Shipped h_off = shipped_network("H100-SXM", 1, off);
  EXPECT_EQ(nccl_algorithm(h_off.topo, CollectiveKind::AllReduce, gpu_range(8), size, h_off.eff).algorithm,
            CollectiveAlgorithm::Ring);
  // A single rank has nothing to reduce.
  EXPECT_FALSE(nvls_available(shipped_network("H100-SXM", 1).topo, gpu_range(1), unmeasured.eff));
  // nvls_cost refuses where it is not available.
  EXPECT_THROW(nvls_cost(two.topo, CollectiveKind::AllReduce, gpu_range(16), size, two.eff),
               std::invalid_argument);
  EXPECT_THROW(nvls_cost(shipped_network("H100-SXM", 1).topo, CollectiveKind::AllToAll, gpu_range(8), size,
                         shipped_network("H100-SXM", 1).eff),
               std::invalid_argument);
}

TEST(Nvls, TheLoadDagPutsNvlsBytesOnEveryGpusLinks) {
  const Bytes size(64.0 * 1024 * 1024);
  const TransferDag ar = collective_dag(CollectiveKind::AllReduce, CollectiveAlgorithm::Nvls, gpu_range(8), size);
  EXPECT_EQ(ar.steps, 2);
  for (int g = 0; g < 8; ++g) {
    EXPECT_DOUBLE_EQ(ar.bytes_sent_by(g).value, size.value * 9.0 / 8.0) << g;
    EXPECT_DOUBLE_EQ(ar.bytes_received_by(g).value, size.value * 9.0 / 8.0) << g;
  }
  const TransferDag ag = collective_dag(CollectiveKind::AllGather, CollectiveAlgorithm::Nvls, gpu_range(4), size);
  EXPECT_EQ(ag.steps, 1);
  EXPECT_DOUBLE_EQ(ag.bytes_received_by(2).value, size.value);
  // The α-β bandwidth term is those bytes at the line rate times the NVLS efficiency.
  const Shipped h = shipped_network("H100-SXM", 1);
  const CollectiveCost c = nvls_cost(h.topo, CollectiveKind::AllReduce, gpu_range(8), size, h.eff);
  EXPECT_NEAR(c.bandwidth_term.value, size.value * 9.0 / 8.0 / (450e9 * h.eff.nvls), 1e-12);
}

TEST(Nvls, SwitchingItOnForAFullMeshIsAnInputError) {
  // MI300X's Infinity Fabric is a full mesh: no switch to reduce in.
  NetworkOverrides on;
  on.in_switch_reduction = true;
  on.source = "what-if.json";
  try {
    (void)shipped_network("MI300X", 1, on);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("what-if.json"), std::string::npos) << m;
    EXPECT_NE(m.find("cluster.network.in_switch_reduction"), std::string::npos) << m;
    EXPECT_NE(m.find("full mesh"), std::string::npos) << m;
  }
}
