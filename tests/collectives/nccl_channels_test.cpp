// NCCL's in-node channel counts per GPU type (catalogue scale_up.nccl_coll_channels and
// nccl_p2p_channels, docs/reference/communication-sms.md §2): the SMs an NCCL kernel holds
// inside a scale-up domain come from the GPU's catalogue entry, through the topology, into
// nccl_collective_sms / nccl_p2p_sms; across nodes they stay 2 per NIC / 2 per peer.
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
    // A collective over the node's 8 GPUs (or a pair of them) holds the coll channels.
    EXPECT_EQ(nccl_collective_sms(x.topo, gpu_range(8), x.eff), c.coll);
    EXPECT_EQ(nccl_collective_sms(x.topo, gpu_range(2, 8), x.eff), c.coll);
    // A send/recv inside the node holds the p2p channels.
    EXPECT_EQ(nccl_p2p_sms(x.topo, 0, 7), c.p2p);
    // Across nodes the network's rules are unchanged: 2 per peer, 2 per NIC ring.
    EXPECT_EQ(nccl_p2p_sms(x.topo, 0, 8), kNcclNetChannelsPerPeer);
    const int across = nccl_collective_sms(x.topo, std::vector<int>{0, 8}, x.eff);
    EXPECT_GT(across, 0);
    EXPECT_EQ(across % kNcclChannelsPerNic, 0);
    // One GPU alone runs no kernel.
    EXPECT_EQ(nccl_collective_sms(x.topo, gpu_range(1), x.eff), 0);
    EXPECT_EQ(nccl_p2p_sms(x.topo, 3, 3), 0);
  }
}

TEST(NcclChannels, GpusWithoutNcclHoldNone) {
  // Ascend's collectives are HCCL's: the catalogue gives no NCCL channel count (null, §4), so
  // an in-domain kernel holds no SMs (the DES also gates on the vendor).
  const Shipped x = shipped_network("Ascend-910B", 1);
  EXPECT_FALSE(x.gpu.scale_up.nccl_coll_channels.value.has_value());
  EXPECT_EQ(x.topo.config().scale_up.nccl_coll_channels, 0);
  EXPECT_EQ(nccl_collective_sms(x.topo, gpu_range(8), x.eff), 0);
  EXPECT_EQ(nccl_p2p_sms(x.topo, 0, 1), 0);
}
