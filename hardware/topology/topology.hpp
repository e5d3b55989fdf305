#pragma once
/// The cluster network as a directed graph (Boost.Graph adjacency_list), with routes between
/// GPUs computed on demand from the structure of the network.
///
/// Vertices: GPUs (vertex id = GPU id), scale-up domain switches, NICs, leaves, spines, cores.
/// Links are directed, one per direction, each with a capacity in bytes/s and a latency; a link
/// and its reverse are created together, so reverse(id) == id ^ 1.
///
/// Routing (route()):
///  - same GPU: empty route;
///  - same scale-up domain: GPU → domain switch → GPU (switch: any pair gets the full per-GPU
///    rate) or GPU → GPU (full mesh: the per-pair rate);
///  - otherwise GPU → NIC → leaf → [spine → [core → spine] →] leaf → NIC → GPU. Between
///    different leaves there are several equal-cost routes (one per spine, × one per core in a
///    3-tier fabric); route(src, dst, flow) picks one by hashing (src, dst, flow), so distinct
///    flows spread over the spines deterministically (ECMP);
///  - rail-optimized and multi-plane networks with the two GPUs on different rails: the route
///    first crosses the scale-up fabric to the GPU of the destination's rail in the source node,
///    then stays on that rail (NCCL's PXN; the only option on a multi-plane network, whose planes
///    are not connected). Rail-optimized with cross_rail_via_scale_up = false crosses the spine.
/// Routes cost O(route length): no all-pairs table is stored, so 16,384 GPUs build in
/// milliseconds. shortest_path() is the generic BFS route, for checks and for structures the
/// router does not know.

#include <array>
#include <boost/graph/adjacency_list.hpp>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "hardware/topology/topology_config.hpp"
#include "sim/common/units.hpp"

namespace clustercost {

using VertexId = std::uint32_t;
using LinkId = std::uint32_t;

enum class VertexKind : unsigned char { Gpu, ScaleUpSwitch, Nic, Leaf, Spine, Core };

/// "gpu", "scale-up-switch", "nic", "leaf", "spine", "core".
const char* to_string(VertexKind kind);

/// One direction of a cable or fabric link.
struct Link {
  VertexId from = 0;
  VertexId to = 0;
  double bytes_per_s = 0.0;  ///< capacity of this direction
  SimTime latency;           ///< added to a message's time by crossing this link
  LinkKind kind = LinkKind::NvLink;
};

/// Bundled Boost.Graph properties: the vertex kind, and the edge's index into links().
struct TopologyVertex {
  VertexKind kind = VertexKind::Gpu;
};
struct TopologyEdge {
  LinkId id = 0;
};
using TopologyGraph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, TopologyVertex, TopologyEdge>;

class Topology {
 public:
  /// Validates (InputError, see validate()) and builds the graph. Graphs of at most
  /// kConnectivityCheckVertices vertices are checked for connectivity with a BFS.
  explicit Topology(TopologyConfig config);

  static constexpr std::size_t kConnectivityCheckVertices = 4096;

  const TopologyConfig& config() const { return config_; }
  const FabricShape& shape() const { return shape_; }
  /// The graph (shared, immutable once built: copies of a Topology share it).
  const TopologyGraph& graph() const { return *graph_; }

  int num_gpus() const { return config_.gpus; }
  int num_nodes() const { return nodes_; }
  int num_domains() const { return domains_; }
  std::size_t num_vertices() const { return boost::num_vertices(*graph_); }
  std::size_t num_links() const { return links_.size(); }
  /// Number of vertices of one kind.
  std::size_t count(VertexKind kind) const;
  VertexKind vertex_kind(VertexId v) const { return (*graph_)[v].kind; }

  const Link& link(LinkId id) const { return links_[id]; }
  const std::vector<Link>& links() const { return links_; }
  static LinkId reverse(LinkId id) { return id ^ 1u; }

  /// GPU placement (GPU ids are node-major).
  VertexId gpu_vertex(int gpu) const { return static_cast<VertexId>(gpu); }
  int node_of(int gpu) const { return gpu / config_.gpus_per_node; }
  int local_rank(int gpu) const { return gpu % config_.gpus_per_node; }
  int domain_of(int gpu) const { return gpu / config_.scale_up.domain_size; }
  /// The NIC's index inside its node, which is also its rail / plane.
  int rail_of(int gpu) const { return local_rank(gpu) / gpus_per_nic_; }
  VertexId nic_of(int gpu) const;
  VertexId leaf_of(int gpu) const;
  bool same_domain(int a, int b) const { return domain_of(a) == domain_of(b); }

  /// Number of equal-cost routes from src to dst (1 inside a domain or under one leaf).
  int equal_cost_routes(int src, int dst) const;
  /// Route number `choice` (0 ≤ choice < equal_cost_routes) as directed link ids, in order.
  std::vector<LinkId> route_choice(int src, int dst, int choice) const;
  /// The ECMP route of flow `flow` between src and dst (hash of src, dst, flow).
  std::vector<LinkId> route(int src, int dst, std::uint64_t flow = 0) const;
  /// As route(), appending to `out` (no allocation when `out` has room).
  void append_route(int src, int dst, std::uint64_t flow, std::vector<LinkId>& out) const;

  /// Sum of the link latencies of a route.
  SimTime latency(std::span<const LinkId> route) const;
  /// The smallest link capacity of a route, bytes/s (infinity for an empty route).
  double bottleneck(std::span<const LinkId> route) const;
  /// True when the route climbs above the leaves (uses a LeafSpine link).
  bool crosses_spine(std::span<const LinkId> route) const;

  /// A fewest-hops route found by BFS over the graph (any structure); empty when src == dst
  /// or dst is unreachable. O(vertices + links).
  std::vector<LinkId> shortest_path(int src, int dst) const;
  /// True when every vertex is reachable from GPU 0 (BFS); links come in pairs, so this means
  /// the network is connected.
  bool is_connected() const;

 private:
  void build();
  /// Adds `a → b` then `b → a` (ids id and id ^ 1) to `g` and to links_.
  LinkId add_pair(TopologyGraph& g, VertexId a, VertexId b, double bytes_per_s, SimTime latency_ab,
                  SimTime latency_ba, LinkKind kind);
  /// Where a NIC's cable lands: its fabric and the leaf index inside that fabric.
  struct LeafPlace {
    int fabric = 0;
    int leaf = 0;
  };
  LeafPlace place(int node, int rail) const;
  VertexId fabric_vertex_base(int fabric) const {
    return first_leaf_ + static_cast<VertexId>(fabric) * per_fabric_vertices_;
  }
  LinkId fabric_link_base(int fabric) const {
    return leaf_spine_base_ + static_cast<LinkId>(fabric) * per_fabric_links_;
  }
  /// Equal-cost routes between two GPUs' NICs over their (common) fabric.
  int scale_out_choices(int src, int dst) const;
  /// Appends GPU → NIC → … → NIC → GPU between two GPUs whose NICs share a fabric.
  void append_scale_out(int src, int dst, int choice, std::vector<LinkId>& out) const;
  void append_scale_up(int src, int dst, std::vector<LinkId>& out) const;
  /// The relay GPU of a cross-rail route (PXN), or -1 when the route goes directly;
  /// `relay_at_src` tells whether it sits in the source's node or the destination's.
  int relay_for(int src, int dst, bool& relay_at_src) const;

  TopologyConfig config_;
  FabricShape shape_;
  // Held by pointer: Boost 1.74's adjacency_list has no move constructor, and a shared
  // immutable graph makes copying a Topology cheap.
  std::shared_ptr<const TopologyGraph> graph_;
  std::vector<Link> links_;
  std::array<std::size_t, 6> counts_{};  // vertices per VertexKind

  int nodes_ = 0;
  int domains_ = 0;
  int gpus_per_nic_ = 1;
  // Vertex id bases.
  VertexId first_switch_ = 0;
  VertexId first_nic_ = 0;
  VertexId first_leaf_ = 0;           // fabric f's leaves: first_leaf_ + f * per_fabric_vertices_
  VertexId per_fabric_vertices_ = 0;  // leaves + spines + cores of one fabric
  // Link id bases (pairs, so each base is even).
  LinkId scale_up_base_ = 0;
  LinkId gpu_nic_base_ = 0;
  LinkId nic_leaf_base_ = 0;
  LinkId leaf_spine_base_ = 0;    // fabric f: + f * per_fabric_links_
  LinkId spine_core_offset_ = 0;  // inside a fabric's block, after its leaf-spine pairs
  LinkId per_fabric_links_ = 0;
};

}  // namespace clustercost
