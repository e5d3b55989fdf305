#include "hardware/topology/topology.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "tests/common/reference_cluster.hpp"

using namespace clustercost;

namespace {

// H100-class node: NVSwitch 450 GB/s per GPU per direction, one 400G NIC per GPU
// (hardware.md §2 and §3, DGX H100 row).
TopologyConfig nvswitch_cluster(int gpus, ScaleOutKind kind, int tiers = 2, int radix = 64,
                                double oversubscription = 1.0) {
  TopologyConfig c = test::hgx_cluster(gpus, 450.0, 400.0, kind, oversubscription, radix);
  c.scale_up.topology = ScaleUpTopology::Switch;
  c.scale_up.link_kind = LinkKind::NvLink;
  c.scale_out.tiers = tiers;
  c.scale_out.pcie_gbs_uni = 64.0;
  return c;
}

// Atlas 800T A2-class node: HCCS full mesh, 56 GB/s per peer pair (hardware.md §2, E).
TopologyConfig mesh_cluster(int gpus, ScaleOutKind kind) {
  TopologyConfig c = nvswitch_cluster(gpus, kind);
  c.scale_up.topology = ScaleUpTopology::FullMesh;
  c.scale_up.link_kind = LinkKind::Hccs;
  c.scale_up.gbs_uni_per_gpu = 392.0;
  c.scale_up.per_pair_gbs_uni = 56.0;
  c.scale_out.nic_gbps = 200.0;
  return c;
}

std::size_t links_of_kind(const Topology& t, LinkKind kind) {
  std::size_t n = 0;
  for (const Link& l : t.links()) n += l.kind == kind ? 1 : 0;
  return n;
}

// Every property a route between two distinct GPUs must have.
void check_route(const Topology& t, int src, int dst, const std::vector<LinkId>& r) {
  SCOPED_TRACE("route " + std::to_string(src) + " -> " + std::to_string(dst));
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(t.link(r.front()).from, t.gpu_vertex(src));
  EXPECT_EQ(t.link(r.back()).to, t.gpu_vertex(dst));
  std::set<VertexId> seen{t.link(r.front()).from};
  for (std::size_t i = 0; i < r.size(); ++i) {
    ASSERT_LT(r[i], t.num_links());
    if (i + 1 < r.size()) {
      EXPECT_EQ(t.link(r[i]).to, t.link(r[i + 1]).from) << "route is not a chain at hop " << i;
    }
    EXPECT_TRUE(seen.insert(t.link(r[i]).to).second) << "route revisits a vertex";
  }
  if (t.same_domain(src, dst)) {
    for (LinkId id : r) EXPECT_TRUE(is_scale_up(t.link(id).kind));
  } else {
    // Leaves the GPU either to its NIC or (PXN) over the scale-up fabric, and arrives the same way.
    const LinkKind first = t.link(r.front()).kind;
    const LinkKind last = t.link(r.back()).kind;
    EXPECT_TRUE(first == LinkKind::Pcie || is_scale_up(first));
    EXPECT_TRUE(last == LinkKind::Pcie || is_scale_up(last));
    EXPECT_TRUE(std::any_of(r.begin(), r.end(),
                            [&](LinkId id) { return t.link(id).kind == LinkKind::NicLeaf; }));
  }
}

void check_all_pairs(const Topology& t) {
  std::vector<LinkId> r;
  for (int s = 0; s < t.num_gpus(); ++s) {
    for (int d = 0; d < t.num_gpus(); ++d) {
      if (s == d) {
        EXPECT_TRUE(t.route(s, d).empty());
        continue;
      }
      r = t.route(s, d, static_cast<std::uint64_t>(s * 31 + d));
      check_route(t, s, d, r);
      // Structured routes are fewest-hop routes, except cross-rail PXN ones which may take the
      // scale-up hop where the spine would be as short.
      const std::vector<LinkId> bfs = t.shortest_path(s, d);
      ASSERT_FALSE(bfs.empty());
      if (t.config().scale_out.kind == ScaleOutKind::RailOptimized)
        EXPECT_LE(r.size(), bfs.size() + 2);
      else
        EXPECT_EQ(r.size(), bfs.size()) << s << " -> " << d;
      // Every ECMP choice is a valid, distinct route.
      const int n = t.equal_cost_routes(s, d);
      std::set<std::vector<LinkId>> distinct;
      for (int c = 0; c < n; ++c) {
        const auto rc = t.route_choice(s, d, c);
        check_route(t, s, d, rc);
        distinct.insert(rc);
      }
      EXPECT_EQ(distinct.size(), static_cast<std::size_t>(n));
      EXPECT_TRUE(distinct.count(r) == 1) << "route() is not one of the equal-cost routes";
    }
  }
}

}  // namespace

TEST(Topology, BuildsAtAllSizesAndEveryKind) {
  for (ScaleOutKind kind :
       {ScaleOutKind::FatTree, ScaleOutKind::RailOptimized, ScaleOutKind::MultiPlane}) {
    for (int gpus : {8, 64, 2048}) {
      Topology t(nvswitch_cluster(gpus, kind));
      EXPECT_EQ(t.count(VertexKind::Gpu), static_cast<std::size_t>(gpus));
      EXPECT_EQ(t.count(VertexKind::Nic), static_cast<std::size_t>(gpus));
      EXPECT_EQ(t.count(VertexKind::ScaleUpSwitch), static_cast<std::size_t>(gpus / 8));
      EXPECT_EQ(boost::num_edges(t.graph()), t.num_links());
      EXPECT_TRUE(t.is_connected()) << to_string(kind) << " " << gpus;
    }
  }
}

TEST(Topology, Builds16384GpusWithDeepSeeksTierCounts) {
  struct Case {
    ScaleOutKind kind;
    int tiers;
  };
  // DeepSeek's MPFT is exactly 16,384 endpoints on 2-tier planes of 64-port switches
  // (arXiv 2505.09343 Table 3); a single fat-tree or rail fabric needs 3 tiers.
  for (Case c : {Case{ScaleOutKind::FatTree, 3}, Case{ScaleOutKind::RailOptimized, 3},
                 Case{ScaleOutKind::MultiPlane, 2}}) {
    // Build time: tests/bench/moe_bench.cpp's BM_Topology16k.
    Topology t(nvswitch_cluster(16384, c.kind, c.tiers));
    std::printf("[ topology ] %s, %d tiers, 16384 GPUs: %zu vertices, %zu links\n",
                to_string(c.kind), c.tiers, t.num_vertices(), t.num_links());
    EXPECT_EQ(t.num_gpus(), 16384);
    // Spot-check routes at the far ends.
    check_route(t, 0, 16383, t.route(0, 16383, 7));
    check_route(t, 16383, 1, t.route(16383, 1, 3));
  }
}

TEST(Topology, LinkCountsFatTree2Tier) {
  // 64 GPUs = 8 nodes; 64 NICs; 64-port leaves at 1:1 have 32 down / 32 up, so 2 leaves and 32
  // spines, every leaf linked to every spine.
  Topology t(nvswitch_cluster(64, ScaleOutKind::FatTree));
  EXPECT_EQ(t.shape().down, 32);
  EXPECT_EQ(t.shape().up, 32);
  EXPECT_EQ(t.count(VertexKind::Leaf), 2u);
  EXPECT_EQ(t.count(VertexKind::Spine), 32u);
  EXPECT_EQ(t.count(VertexKind::Core), 0u);
  EXPECT_EQ(links_of_kind(t, LinkKind::NvLink), 2u * 64);  // GPU ↔ switch, both directions
  EXPECT_EQ(links_of_kind(t, LinkKind::Pcie), 2u * 64);
  EXPECT_EQ(links_of_kind(t, LinkKind::NicLeaf), 2u * 64);
  EXPECT_EQ(links_of_kind(t, LinkKind::LeafSpine), 2u * 2 * 32);
  EXPECT_EQ(t.num_links(), 128u * 3 + 128u);
  EXPECT_EQ(t.num_vertices(), 64u + 8 + 64 + 2 + 32);
  // A node's NICs share a leaf (nodes 0-3 on leaf 0, 4-7 on leaf 1).
  EXPECT_EQ(t.leaf_of(0), t.leaf_of(7));
  EXPECT_EQ(t.leaf_of(0), t.leaf_of(31));
  EXPECT_NE(t.leaf_of(0), t.leaf_of(32));
}

TEST(Topology, LinkCountsRailAndPlanes) {
  // 2048 GPUs = 256 nodes. Rail-optimized: 256/32 = 8 node blocks × 8 rails = 64 leaves, 32
  // shared spines. Multi-plane: 8 planes × (8 leaves + 32 spines), no link between planes.
  Topology rail(nvswitch_cluster(2048, ScaleOutKind::RailOptimized));
  EXPECT_EQ(rail.count(VertexKind::Leaf), 64u);
  EXPECT_EQ(rail.count(VertexKind::Spine), 32u);
  EXPECT_EQ(links_of_kind(rail, LinkKind::LeafSpine), 2u * 64 * 32);
  Topology planes(nvswitch_cluster(2048, ScaleOutKind::MultiPlane));
  EXPECT_EQ(planes.shape().fabrics, 8);
  EXPECT_EQ(planes.count(VertexKind::Leaf), 8u * 8);
  EXPECT_EQ(planes.count(VertexKind::Spine), 8u * 32);
  EXPECT_EQ(links_of_kind(planes, LinkKind::LeafSpine), 2u * 8 * 8 * 32);
  // 3-tier fat-tree of 16,384 NICs: 512 leaves in pods of 32, 32 spines per pod, 32 groups of
  // 32 cores.
  Topology big(nvswitch_cluster(16384, ScaleOutKind::FatTree, 3));
  EXPECT_EQ(big.count(VertexKind::Leaf), 512u);
  EXPECT_EQ(big.shape().pods, 16);
  EXPECT_EQ(big.count(VertexKind::Spine), 16u * 32);
  EXPECT_EQ(big.count(VertexKind::Core), 32u * 32);
  EXPECT_EQ(links_of_kind(big, LinkKind::LeafSpine), 2u * 512 * 32);
  EXPECT_EQ(links_of_kind(big, LinkKind::SpineCore), 2u * 512 * 32);
}

TEST(Topology, LinkCountsFullMesh) {
  // Two 8-GPU full-mesh domains: 8·7 directed links each, no domain switch.
  Topology t(mesh_cluster(16, ScaleOutKind::FatTree));
  EXPECT_EQ(links_of_kind(t, LinkKind::Hccs), 2u * 8 * 7);
  EXPECT_EQ(t.count(VertexKind::ScaleUpSwitch), 0u);
  EXPECT_TRUE(t.is_connected());
}

TEST(Topology, CopiesShareTheGraph) {
  const Topology t(nvswitch_cluster(64, ScaleOutKind::MultiPlane));
  const Topology copy = t;
  EXPECT_EQ(&copy.graph(), &t.graph());
  EXPECT_EQ(copy.route(3, 60, 9), t.route(3, 60, 9));
  EXPECT_EQ(copy.num_links(), t.num_links());
}

TEST(Topology, ReverseLinkPairs) {
  Topology t(nvswitch_cluster(64, ScaleOutKind::RailOptimized));
  for (LinkId id = 0; id < t.num_links(); ++id) {
    const Link& a = t.link(id);
    const Link& b = t.link(Topology::reverse(id));
    EXPECT_EQ(a.from, b.to);
    EXPECT_EQ(a.to, b.from);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_DOUBLE_EQ(a.bytes_per_s, b.bytes_per_s);
  }
}

TEST(Topology, AllPairsRoutesOnSmallClusters) {
  // 16-port switches (8 down / 8 up) so that 32 GPUs already spread over several leaves; 4-port
  // switches in 3 tiers give several pods.
  for (ScaleOutKind kind :
       {ScaleOutKind::FatTree, ScaleOutKind::RailOptimized, ScaleOutKind::MultiPlane}) {
    SCOPED_TRACE(to_string(kind));
    check_all_pairs(Topology(nvswitch_cluster(32, kind, 2, 16)));
    check_all_pairs(Topology(mesh_cluster(24, kind)));
  }
  TopologyConfig pods = nvswitch_cluster(16, ScaleOutKind::FatTree, 3, 4);
  pods.gpus_per_node = 2;
  pods.scale_up.domain_size = 2;
  pods.scale_out.nics_per_node = 2;
  Topology t(pods);
  EXPECT_GT(t.shape().pods, 1);
  EXPECT_GT(t.count(VertexKind::Core), 0u);
  check_all_pairs(t);
  TopologyConfig rail_pods = pods;
  rail_pods.scale_out.kind = ScaleOutKind::RailOptimized;
  check_all_pairs(Topology(rail_pods));
}

TEST(Topology, PartialLastNodeAndSharedNics) {
  // 12 GPUs in 8-GPU nodes: node 1 holds 4. Two GPUs per NIC (4 NICs per node).
  for (ScaleOutKind kind :
       {ScaleOutKind::FatTree, ScaleOutKind::RailOptimized, ScaleOutKind::MultiPlane}) {
    TopologyConfig c = nvswitch_cluster(12, kind, 2, 8);
    c.scale_out.nics_per_node = 4;
    Topology t(c);
    EXPECT_EQ(t.num_nodes(), 2);
    EXPECT_EQ(t.nic_of(0), t.nic_of(1));
    EXPECT_NE(t.nic_of(1), t.nic_of(2));
    EXPECT_EQ(t.rail_of(3), 1);
    check_all_pairs(t);
  }
}

TEST(Topology, NvSwitchPairGetsFullPerGpuRate) {
  Topology t(nvswitch_cluster(16, ScaleOutKind::FatTree));
  const auto r = t.route(0, 5);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(t.vertex_kind(t.link(r[0]).to), VertexKind::ScaleUpSwitch);
  EXPECT_DOUBLE_EQ(t.bottleneck(r), 450e9);
  EXPECT_EQ(t.latency(r).ns, 3330);  // NVLink 3.33 µs, arXiv 2505.09343 Table 5
}

TEST(Topology, FullMeshPairGetsPerPairRate) {
  Topology t(mesh_cluster(16, ScaleOutKind::FatTree));
  const auto r = t.route(2, 6);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(t.link(r[0]).kind, LinkKind::Hccs);
  EXPECT_DOUBLE_EQ(t.bottleneck(r), 56e9);
  EXPECT_EQ(t.latency(r).ns, 3330);
  // The reverse direction is a different link of the same pair.
  const auto back = t.route(6, 2);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0], Topology::reverse(r[0]));
}

TEST(Topology, InterNodeLatencyMatchesSameLeafAndCrossLeafFigures) {
  // IB 64 B: 2.8 µs same leaf, 3.7 µs across leaves (arXiv 2505.09343 Table 5).
  Topology t(nvswitch_cluster(2048, ScaleOutKind::FatTree));
  const auto same_leaf = t.route(0, 8);
  EXPECT_FALSE(t.crosses_spine(same_leaf));
  EXPECT_EQ(t.latency(same_leaf).ns, 2800);
  EXPECT_DOUBLE_EQ(t.bottleneck(same_leaf), 50e9);  // 400 Gb/s = 50 GB/s
  const auto cross = t.route(0, 1024);
  EXPECT_TRUE(t.crosses_spine(cross));
  EXPECT_EQ(t.latency(cross).ns, 3700);
}

TEST(Topology, RailOptimizedSameRailAvoidsSpine) {
  Topology t(nvswitch_cluster(2048, ScaleOutKind::RailOptimized));
  // GPU 3 of node 0 and GPU 3 of node 20: rail 3, same 32-node block → the rail leaf only.
  const auto r = t.route(3, 20 * 8 + 3);
  EXPECT_EQ(r.size(), 4u);
  EXPECT_FALSE(t.crosses_spine(r));
  EXPECT_EQ(t.leaf_of(3), t.leaf_of(20 * 8 + 3));
  // Cross-rail: over NVLink to GPU 5 of node 0 (the destination's rail), then rail 5 only.
  const auto x = t.route(3, 20 * 8 + 5);
  ASSERT_EQ(x.size(), 6u);
  EXPECT_EQ(t.link(x[0]).kind, LinkKind::NvLink);
  EXPECT_EQ(t.link(x[1]).to, t.gpu_vertex(5));
  EXPECT_FALSE(t.crosses_spine(x));
  // Without PXN it leaves by its own NIC and climbs to a spine.
  TopologyConfig c = nvswitch_cluster(2048, ScaleOutKind::RailOptimized);
  c.scale_out.cross_rail_via_scale_up = false;
  Topology spine(c);
  const auto y = spine.route(3, 20 * 8 + 5);
  EXPECT_EQ(spine.link(y[0]).kind, LinkKind::Pcie);
  EXPECT_TRUE(spine.crosses_spine(y));
}

TEST(Topology, MultiPlaneRoutesStayInOnePlane) {
  Topology t(nvswitch_cluster(2048, ScaleOutKind::MultiPlane));
  for (int dst : {8 + 0, 1000, 2047}) {
    const auto r = t.route(1, dst, 5);
    check_route(t, 1, dst, r);
    // The relay is GPU 1's node-mate on the destination's rail; both leaves are in that plane.
    const int relay = t.node_of(1) * 8 + t.rail_of(dst);
    for (LinkId id : r) {
      const Link& l = t.link(id);
      if (t.vertex_kind(l.to) == VertexKind::Leaf) {
        EXPECT_TRUE(l.to == t.leaf_of(dst) || l.to == t.leaf_of(relay));
      }
    }
  }
}

TEST(Topology, EcmpSpreadsFlowsOverSpines) {
  Topology t(nvswitch_cluster(2048, ScaleOutKind::FatTree));
  const int src = 0, dst = 1024;  // different leaves
  ASSERT_EQ(t.equal_cost_routes(src, dst), 32);
  std::set<VertexId> spines;
  for (std::uint64_t flow = 0; flow < 256; ++flow) {
    const auto r = t.route(src, dst, flow);
    EXPECT_EQ(r, t.route(src, dst, flow));  // deterministic
    for (LinkId id : r)
      if (t.vertex_kind(t.link(id).to) == VertexKind::Spine) spines.insert(t.link(id).to);
  }
  std::printf("[ topology ] 256 flows 0 -> 1024 used %zu of 32 spines\n", spines.size());
  EXPECT_GE(spines.size(), 28u);
  // Different pairs land on different spines too (the hash mixes src and dst).
  std::set<VertexId> by_pair;
  for (int s = 0; s < 64; ++s) {
    const auto r = t.route(s, 1024 + s, 0);
    for (LinkId id : r)
      if (t.vertex_kind(t.link(id).to) == VertexKind::Spine) by_pair.insert(t.link(id).to);
  }
  EXPECT_GE(by_pair.size(), 20u);
  // 3 tiers across pods: up × cores-per-group routes through distinct (spine, core) pairs.
  Topology big(nvswitch_cluster(16384, ScaleOutKind::FatTree, 3));
  EXPECT_EQ(big.equal_cost_routes(0, 16383), 32 * 32);
  std::set<std::pair<VertexId, VertexId>> spine_core;
  for (std::uint64_t flow = 0; flow < 64; ++flow) {
    const auto r = big.route(0, 16383, flow);
    VertexId spine = 0, core = 0;
    for (LinkId id : r) {
      if (big.vertex_kind(big.link(id).to) == VertexKind::Spine && spine == 0)
        spine = big.link(id).to;
      if (big.vertex_kind(big.link(id).to) == VertexKind::Core) core = big.link(id).to;
    }
    spine_core.insert({spine, core});
  }
  EXPECT_GE(spine_core.size(), 60u);
}

TEST(Topology, ShortestPathAgreesOnSwitchRoutes) {
  Topology t(nvswitch_cluster(64, ScaleOutKind::FatTree));
  const auto bfs = t.shortest_path(0, 63);
  ASSERT_EQ(bfs.size(), 6u);  // GPU NIC leaf spine leaf NIC GPU
  EXPECT_EQ(t.link(bfs.front()).from, t.gpu_vertex(0));
  EXPECT_EQ(t.link(bfs.back()).to, t.gpu_vertex(63));
  EXPECT_TRUE(t.shortest_path(5, 5).empty());
}

TEST(Topology, OversubscriptionIsRealisedAtTheLeaves) {
  Topology t(nvswitch_cluster(2048, ScaleOutKind::FatTree, 2, 64, 3.0));
  EXPECT_EQ(t.shape().down, 48);
  EXPECT_EQ(t.shape().up, 16);
  EXPECT_DOUBLE_EQ(t.shape().oversubscription(), 3.0);
  EXPECT_EQ(t.count(VertexKind::Spine), 16u);
}

TEST(Topology, RejectsImpossibleConfigurations) {
  auto path_of = [](const TopologyConfig& c) {
    try {
      Topology t(c);
    } catch (const InputError& e) {
      return e.json_path();
    }
    return std::string("(accepted)");
  };
  // 16,384 NICs on 64-port leaves need 512 leaves: a 2-tier fabric holds 64.
  EXPECT_EQ(path_of(nvswitch_cluster(16384, ScaleOutKind::FatTree, 2)), "cluster.network.tiers");
  TopologyConfig c = nvswitch_cluster(64, ScaleOutKind::FatTree);
  c.scale_up.domain_size = 12;
  EXPECT_EQ(path_of(c), "scale_up.domain_size");
  c = nvswitch_cluster(64, ScaleOutKind::FatTree);
  c.scale_out.nics_per_node = 3;
  EXPECT_EQ(path_of(c), "nics_per_node");
  c = nvswitch_cluster(64, ScaleOutKind::FatTree);
  c.scale_out.leaf_radix = 7;
  EXPECT_EQ(path_of(c), "cluster.network.leaf_radix");
  c = nvswitch_cluster(64, ScaleOutKind::FatTree);
  c.scale_out.oversubscription = 0.5;
  EXPECT_EQ(path_of(c), "cluster.network.oversubscription");
  c = nvswitch_cluster(0, ScaleOutKind::FatTree);
  EXPECT_EQ(path_of(c), "cluster.gpus");
  c = mesh_cluster(16, ScaleOutKind::FatTree);
  c.scale_up.per_pair_gbs_uni = 0.0;
  EXPECT_EQ(path_of(c), "scale_up.per_pair_gbs_uni");
  c = nvswitch_cluster(64, ScaleOutKind::FatTree);
  c.scale_up.gbs_uni_per_gpu = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(path_of(c), "scale_up.gbs_uni_per_gpu");
  // A million GPUs in 512-GPU full meshes would need 535M links: refused before allocating.
  c = mesh_cluster(1 << 20, ScaleOutKind::FatTree);
  c.scale_up.domain_size = 512;
  c.scale_out.leaf_radix = 4096;
  EXPECT_EQ(path_of(c), "cluster");
  // Bad route requests are programming errors.
  Topology t(nvswitch_cluster(16, ScaleOutKind::FatTree));
  EXPECT_THROW(t.route(0, 16), std::out_of_range);
  EXPECT_THROW(t.route_choice(0, 9, 1), std::out_of_range);
}

namespace {
GpuSpec h800_like() {
  // Figures of hardware/catalog/H800-SXM.json (hardware.md §2, §9).
  GpuSpec g;
  g.name = "H800-SXM";
  g.file = "H800-SXM.json";
  g.scale_up.name = "NVLink 4 / NVSwitch gen3 (cut to 8 links)";
  g.scale_up.topology = "switch";
  g.scale_up.gbs_uni_per_gpu.value = 200.0;
  g.scale_up.domain_size = 8;
  g.scale_up.latency_us.value = 3.33;
  g.nic_gbps.value = 400.0;
  g.nic_latency_us.value = 2.8;
  return g;
}
NodeSpec hgx_h800() {
  NodeSpec n;
  n.name = "HGX-H800";
  n.gpu = "H800-SXM";
  n.gpus_per_node = 8;
  n.nics_per_node = 8;
  n.nic_gbps.value = 400.0;
  n.default_topology = "multi-plane";
  n.default_tiers = 2;
  return n;
}
}  // namespace

TEST(TopologyConfig, FromCatalogueSpecs) {
  const GpuSpec g = h800_like();
  const NodeSpec n = hgx_h800();
  TopologyConfig c = topology_config_from(g, &n, 2048);
  EXPECT_EQ(c.gpus_per_node, 8);
  EXPECT_EQ(c.scale_up.link_kind, LinkKind::NvLink);
  EXPECT_DOUBLE_EQ(c.scale_up.gbs_uni_per_gpu, 200.0);
  EXPECT_EQ(c.scale_out.kind, ScaleOutKind::MultiPlane);
  EXPECT_EQ(c.scale_out.tiers, 2);
  EXPECT_DOUBLE_EQ(c.scale_out.nic_gbps, 400.0);
  EXPECT_DOUBLE_EQ(c.scale_out.pcie_gbs_uni, 64.0);
  Topology t(c);
  EXPECT_EQ(t.shape().fabrics, 8);

  // A fat-tree that 2 tiers cannot hold grows a tier when the user did not fix the tiers ...
  NetworkOverrides net;
  net.topology = ScaleOutKind::FatTree;
  EXPECT_EQ(topology_config_from(g, &n, 16384, 0, net).scale_out.tiers, 3);
  // ... and is an error when they did.
  net.tiers = 2;
  net.source = "s.json";
  try {
    topology_config_from(g, &n, 16384, 0, net);
    FAIL() << "2-tier 16,384-GPU fat-tree accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "s.json");
    EXPECT_EQ(e.json_path(), "cluster.network.tiers");
  }
  // Per-GPU scale-out override; without a node, one NIC per GPU.
  NetworkOverrides slow;
  slow.scale_out_gbps_per_gpu = 200.0;
  const TopologyConfig c2 = topology_config_from(g, nullptr, 64, 0, slow);
  EXPECT_EQ(c2.scale_out.nics_per_node, 8);
  EXPECT_DOUBLE_EQ(c2.scale_out.nic_gbps, 200.0);
  EXPECT_DOUBLE_EQ(c2.scale_out.pcie_gbs_uni, 32.0);

  // Full mesh without a per-pair figure splits the per-GPU rate over the peers.
  GpuSpec mesh = h800_like();
  mesh.scale_up.name = "HCCS full mesh";
  mesh.scale_up.topology = "full-mesh";
  mesh.scale_up.gbs_uni_per_gpu.value = 392.0;
  const TopologyConfig c3 = topology_config_from(mesh, nullptr, 16);
  EXPECT_EQ(c3.scale_up.link_kind, LinkKind::Hccs);
  EXPECT_EQ(c3.scale_up.topology, ScaleUpTopology::FullMesh);
  EXPECT_DOUBLE_EQ(c3.scale_up.per_pair_gbs_uni, 56.0);

  GpuSpec none = h800_like();
  none.scale_up.gbs_uni_per_gpu.value.reset();
  try {
    topology_config_from(none, nullptr, 8);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "H800-SXM.json");
    EXPECT_EQ(e.json_path(), "scale_up.gbs_uni_per_gpu");
  }
}

TEST(TopologyConfig, ReadsNetworkSection) {
  Json j = Json::parse(R"({"topology": "rail-optimized", "tiers": 3, "oversubscription": 2,
                           "scale_out_gbps_per_gpu": 200, "leaf_radix": 32, "cross_rail": "spine"})");
  ObjectReader r(j, "s.json", "cluster.network");
  const NetworkOverrides n = read_network_overrides(r);
  EXPECT_EQ(n.topology, ScaleOutKind::RailOptimized);
  EXPECT_EQ(n.tiers, 3);
  EXPECT_EQ(n.oversubscription, 2.0);
  EXPECT_EQ(n.scale_out_gbps_per_gpu, 200.0);
  EXPECT_EQ(n.leaf_radix, 32);
  EXPECT_EQ(n.cross_rail_via_scale_up, false);
  EXPECT_EQ(n.source, "s.json");

  auto error_path = [](const char* text) {
    Json bad = Json::parse(text);
    ObjectReader br(bad, "s.json", "cluster.network");
    try {
      read_network_overrides(br);
    } catch (const InputError& e) {
      return e.json_path();
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(error_path(R"({"topolgy": "fat-tree"})"), "cluster.network.topolgy");
  EXPECT_EQ(error_path(R"({"topology": "torus"})"), "cluster.network.topology");
  EXPECT_EQ(error_path(R"({"tiers": 4})"), "cluster.network.tiers");
  EXPECT_EQ(error_path(R"({"oversubscription": 0.5})"), "cluster.network.oversubscription");
  EXPECT_EQ(error_path(R"({"leaf_radix": 63})"), "cluster.network.leaf_radix");
  EXPECT_EQ(error_path(R"({"scale_out_gbps_per_gpu": -1})"),
            "cluster.network.scale_out_gbps_per_gpu");
}

TEST(TopologyConfig, ScaleUpKindFromName) {
  EXPECT_EQ(scale_up_kind_from_name("NVLink 5 / NVSwitch"), LinkKind::NvLink);
  EXPECT_EQ(scale_up_kind_from_name("HCCS full mesh (Atlas 800T A2)"), LinkKind::Hccs);
  EXPECT_EQ(scale_up_kind_from_name("Infinity Fabric (xGMI), 8-GPU full mesh"),
            LinkKind::InfinityFabric);
  EXPECT_EQ(scale_up_kind_from_name("UB (Unified Bus), CloudMatrix384 2-tier Clos"),
            LinkKind::UnifiedBus);
  EXPECT_EQ(scale_up_kind_from_name("PCIe Gen4 switch"), LinkKind::PcieFabric);
  EXPECT_EQ(scale_up_kind_from_name("MLU-Link"), LinkKind::OtherScaleUp);
}
