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
#include "tests/common/test_paths.hpp"

using namespace clustercost;

namespace {

std::filesystem::path data_dir() {
  if (const char* env = std::getenv("CLUSTERCOST_DATA_DIR")) return env;
  return clustercost::test::data_root();
}

std::vector<int> gpus(int n, int first = 0) {
  std::vector<int> g;
  for (int i = 0; i < n; ++i) g.push_back(first + i);
  return g;
}

struct Shipped {
  Topology topo;
  FabricEfficiency eff;
  GpuSpec gpu;
};

/// The shipped catalogue's GPU on `nodes` of its default node, at its shipped profile's
/// network efficiencies.
Shipped shipped(const char* gpu_name, int nodes) {
  const Catalog catalog = Catalog::load(data_dir() / "hardware" / "catalog");
  const GpuSpec* gpu = catalog.find_gpu(gpu_name);
  if (!gpu) throw std::runtime_error(std::string("no GPU ") + gpu_name);
  const NodeSpec* node = catalog.find_node(gpu->default_node);
  const EfficiencyProfile p = load_default_profile(data_dir() / "hardware" / "profiles", *gpu);
  FabricEfficiency eff;
  eff.scale_up = p.network.scale_up;
  eff.scale_out = p.network.scale_out;
  eff.nvls = p.network.nvls;
  return Shipped{Topology(topology_config_from(*gpu, node, 8 * nodes, 0, {})), eff, *gpu};
}

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
    const Shipped x = shipped(c.gpu, 2);
    EXPECT_EQ(x.topo.config().scale_up.nccl_coll_channels, c.coll);
    EXPECT_EQ(x.topo.config().scale_up.nccl_p2p_channels, c.p2p);
    // A collective over the node's 8 GPUs (or a pair of them) holds the coll channels.
    EXPECT_EQ(nccl_collective_sms(x.topo, gpus(8), x.eff), c.coll);
    EXPECT_EQ(nccl_collective_sms(x.topo, gpus(2, 8), x.eff), c.coll);
    // A send/recv inside the node holds the p2p channels.
    EXPECT_EQ(nccl_p2p_sms(x.topo, 0, 7), c.p2p);
    // Across nodes the network's rules are unchanged: 2 per peer, 2 per NIC ring.
    EXPECT_EQ(nccl_p2p_sms(x.topo, 0, 8), kNcclNetChannelsPerPeer);
    const int across = nccl_collective_sms(x.topo, std::vector<int>{0, 8}, x.eff);
    EXPECT_GT(across, 0);
    EXPECT_EQ(across % kNcclChannelsPerNic, 0);
    // One GPU alone runs no kernel.
    EXPECT_EQ(nccl_collective_sms(x.topo, gpus(1), x.eff), 0);
    EXPECT_EQ(nccl_p2p_sms(x.topo, 3, 3), 0);
  }
}

TEST(NcclChannels, GpusWithoutNcclHoldNone) {
  // Ascend's collectives are HCCL's: the catalogue gives no NCCL channel count (null, §4), so
  // an in-domain kernel holds no SMs (the DES also gates on the vendor).
  const Shipped x = shipped("Ascend-910B", 1);
  EXPECT_FALSE(x.gpu.scale_up.nccl_coll_channels.value.has_value());
  EXPECT_EQ(x.topo.config().scale_up.nccl_coll_channels, 0);
  EXPECT_EQ(nccl_collective_sms(x.topo, gpus(8), x.eff), 0);
  EXPECT_EQ(nccl_p2p_sms(x.topo, 0, 1), 0);
}
