// NCCL's in-node channel counts per GPU type (catalogue scale_up.nccl_coll_channels,
// nccl_p2p_channels and nccl_nvls_channels, docs/reference/communication-sms.md §2): the SMs an
// NCCL kernel holds inside a scale-up domain come from the GPU's catalogue entry, through the
// topology, into nccl_collective_sms / nccl_p2p_sms / nccl_all_to_all_sms; across nodes they
// stay 2 per NIC / 2 per peer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "hardware/efficiency/efficiency_profile.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/network/collective_runs.hpp"
#include "tests/common/shipped_network.hpp"

using namespace clustercost;

namespace {

using test::gpu_range;
using test::shipped_network;
using Shipped = test::ShippedNetwork;

}  // namespace

TEST(NcclChannels, InNodeKernelsHoldTheGpusLoggedChannelCount) {
  // A100: NCCL logs 24 ring channels on an 8 x A100 HGX node (NVIDIA/nccl-tests#100) and 32 p2p
  // channels per peer; H800: "16 coll channels, ..., 16 p2p channels per peer" (NVIDIA/nccl#892).
  struct Case {
    const char* gpu;
    int coll, p2p;
  };
  for (const Case& c : {Case{"A100-80G-SXM", 24, 32}, Case{"H800-SXM", 16, 16},
                        Case{"H100-SXM", 24, 32}, Case{"B200", 32, 32}}) {
    SCOPED_TRACE(c.gpu);
    const Shipped x = shipped_network(c.gpu, 2);
    EXPECT_EQ(x.topo.config().scale_up.nccl_coll_channels, c.coll);
    EXPECT_EQ(x.topo.config().scale_up.nccl_p2p_channels, c.p2p);
    // A ring or tree collective over the node's 8 GPUs (or a pair of them) holds the coll
    // channels.
    for (CollectiveAlgorithm a : {CollectiveAlgorithm::Ring, CollectiveAlgorithm::Tree}) {
      EXPECT_EQ(nccl_collective_sms(x.topo, gpu_range(8), a, x.eff), c.coll);
      EXPECT_EQ(nccl_collective_sms(x.topo, gpu_range(2, 8), a, x.eff), c.coll);
    }
    // A send/recv inside the node holds the p2p channels.
    EXPECT_EQ(nccl_p2p_sms(x.topo, 0, 7), c.p2p);
    // Across nodes the network's rules are unchanged: 2 per peer, 2 per NIC ring.
    EXPECT_EQ(nccl_p2p_sms(x.topo, 0, 8), kNcclNetChannelsPerPeer);
    const int across =
        nccl_collective_sms(x.topo, std::vector<int>{0, 8}, CollectiveAlgorithm::Ring, x.eff);
    EXPECT_GT(across, 0);
    EXPECT_EQ(across % kNcclChannelsPerNic, 0);
    // One GPU alone runs no kernel.
    EXPECT_EQ(nccl_collective_sms(x.topo, gpu_range(1), CollectiveAlgorithm::Ring, x.eff), 0);
    EXPECT_EQ(nccl_p2p_sms(x.topo, 3, 3), 0);
  }
}

TEST(NcclChannels, GpusWithoutNcclHoldNone) {
  // Ascend's collectives are HCCL's: the catalogue gives no NCCL channel count (null, §4), so
  // an in-domain kernel holds no SMs (the DES also gates on the vendor).
  const Shipped x = shipped_network("Ascend-910B", 1);
  EXPECT_FALSE(x.gpu.scale_up.nccl_coll_channels.value.has_value());
  EXPECT_EQ(x.topo.config().scale_up.nccl_coll_channels, 0);
  EXPECT_EQ(nccl_collective_sms(x.topo, gpu_range(8), CollectiveAlgorithm::Ring, x.eff), 0);
  EXPECT_EQ(nccl_p2p_sms(x.topo, 0, 1), 0);
  EXPECT_FALSE(x.gpu.scale_up.nccl_nvls_channels.value.has_value());
  EXPECT_EQ(x.topo.config().scale_up.nccl_nvls_channels, 0);
  EXPECT_EQ(nccl_all_to_all_sms(x.topo, gpu_range(8)), 0);
  EXPECT_EQ(nccl_all_to_all_sms(x.topo, std::vector<int>{0, 8}), 0);  // no pool: not NCCL
}

TEST(NcclChannels, NvlsChannelsPerGpuType) {
  // NCCL's src/transport/nvls.cc: NVLS_NCHANNELS_SM90 16 on compute capability 9.x (the
  // p5.48xlarge log: "24 coll channels, 16 nvls channels"), NVLS_NCHANNELS_SM100_NVL 24 on
  // 10.x inside one NVLink domain. No figure where NCCL runs no NVLS: the H800 logs "0 nvls
  // channels" (NVIDIA/nccl#892), the A100s have no NVLS (NVIDIA/nccl-tests#228); none where the
  // collectives are not NCCL's.
  struct Case {
    const char* gpu;
    int nvls;  // 0: null in the catalogue
  };
  for (const Case& c : {Case{"H100-SXM", 16}, Case{"H200-SXM", 16}, Case{"B200", 24},
                        Case{"H20", 16}, Case{"H800-SXM", 0}, Case{"A100-80G-SXM", 0},
                        Case{"A100-40G-SXM", 0}, Case{"A800-80G-SXM", 0}, Case{"MI300X", 0},
                        Case{"Ascend-910B", 0}}) {
    SCOPED_TRACE(c.gpu);
    const Shipped x = shipped_network(c.gpu, 1);
    EXPECT_EQ(x.gpu.scale_up.nccl_nvls_channels.value.has_value(), c.nvls > 0);
    EXPECT_EQ(x.topo.config().scale_up.nccl_nvls_channels, c.nvls);
  }
}

TEST(NcclChannels, NvlsAllReduceHoldsTheNvlsChannelsNotTheRings) {
  // An all-reduce over an 8 x H100 node: NCCL's tuner (our nccl_algorithm) picks NVLS at every
  // size with the shipped figures, and its kernel holds the 16 nvls channels; the same group's
  // ring would hold the 24 coll channels.
  const Shipped x = shipped_network("H100-SXM", 2);
  for (double mib : {1.0, 64.0, 1024.0}) {
    const AlgorithmChoice c =
        nccl_algorithm(x.topo, CollectiveKind::AllReduce, gpu_range(8), Bytes(mib * 1048576.0), x.eff);
    EXPECT_EQ(c.algorithm, CollectiveAlgorithm::Nvls) << mib << " MiB";
    EXPECT_EQ(nccl_collective_sms(x.topo, gpu_range(8), c.algorithm, x.eff), 16);
  }
  EXPECT_EQ(nccl_collective_sms(x.topo, gpu_range(8), CollectiveAlgorithm::Ring, x.eff), 24);
  // B200: 24 nvls channels against 32 coll channels.
  const Shipped b = shipped_network("B200", 1);
  EXPECT_EQ(nccl_collective_sms(b.topo, gpu_range(8), CollectiveAlgorithm::Nvls, b.eff), 24);
  EXPECT_EQ(nccl_collective_sms(b.topo, gpu_range(8), CollectiveAlgorithm::Ring, b.eff), 32);
  // NVLS never leaves the domain.
  EXPECT_THROW(nccl_collective_sms(x.topo, std::vector<int>{0, 8}, CollectiveAlgorithm::Nvls, x.eff),
               std::invalid_argument);
}

TEST(NcclChannels, NvlsWithoutACatalogueFigureHoldsTheCollChannels) {
  // The H800 has no nvls figure (it logs "0 nvls channels"); a scenario that switches NVLS on
  // for it anyway (cluster.network.in_switch_reduction) gets the 16 coll channels for an NVLS
  // kernel: the documented fallback, equal to NCCL's SM90 NVLS_NCHANNELS_SM90.
  NetworkOverrides on;
  on.in_switch_reduction = true;
  const Shipped x = shipped_network("H800-SXM", 1, on);
  ASSERT_TRUE(x.topo.config().scale_up.in_switch_reduction);
  EXPECT_EQ(x.topo.config().scale_up.nccl_nvls_channels, 0);
  EXPECT_EQ(nccl_collective_sms(x.topo, gpu_range(8), CollectiveAlgorithm::Nvls, x.eff), 16);
}

TEST(NcclChannels, AllToAllHoldsThePeersP2pChannelsUpToThePool) {
  // NCCL's all-to-all is grouped send/recv on its p2p channels: each peer's channels (the
  // domain's p2p channels in-node, 2 across the network), summed over the peers, capped at the
  // pool of p2p channels (the catalogue's nccl_p2p_channels).
  const Shipped h100 = shipped_network("H100-SXM", 8);
  EXPECT_EQ(nccl_all_to_all_sms(h100.topo, gpu_range(8)), 32);  // 7 x 32, capped at 32
  EXPECT_EQ(nccl_all_to_all_sms(h100.topo, gpu_range(2, 8)), 32);
  // 64 ranks over 8 nodes: 7 x 32 in-node + 56 x 2 across, capped at 32.
  EXPECT_EQ(nccl_all_to_all_sms(h100.topo, gpu_range(64)), 32);
  // One GPU per node: 2 per network peer, under the cap.
  EXPECT_EQ(nccl_all_to_all_sms(h100.topo, std::vector<int>{0, 8}), kNcclNetChannelsPerPeer);
  EXPECT_EQ(nccl_all_to_all_sms(h100.topo, std::vector<int>{0, 8, 16, 24}),
            3 * kNcclNetChannelsPerPeer);
  EXPECT_EQ(nccl_all_to_all_sms(h100.topo, gpu_range(1)), 0);
  // More than the coll channels the all-to-all held before (24 on H100).
  EXPECT_GT(nccl_all_to_all_sms(h100.topo, gpu_range(8)),
            nccl_collective_sms(h100.topo, gpu_range(8), CollectiveAlgorithm::Ring, h100.eff));

  const Shipped h800 = shipped_network("H800-SXM", 2);
  EXPECT_EQ(nccl_all_to_all_sms(h800.topo, gpu_range(8)), 16);  // "16 p2p channels" (nccl#892)
  EXPECT_EQ(nccl_all_to_all_sms(h800.topo, gpu_range(16)), 16);
  const Shipped a100 = shipped_network("A100-80G-SXM", 1);
  EXPECT_EQ(nccl_all_to_all_sms(a100.topo, gpu_range(8)), 32);
}
