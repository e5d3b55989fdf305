#include "hardware/topology/topology.hpp"

#include <algorithm>
#include <boost/graph/breadth_first_search.hpp>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace clustercost {

namespace {

constexpr LinkId kNoLink = std::numeric_limits<LinkId>::max();
constexpr std::size_t kMaxLinks = std::size_t{1} << 25;

// splitmix64 finaliser (Steele, Lea, Flood, OOPSLA 2014): a cheap, well-mixed, portable hash,
// so ECMP choices are identical on every platform and standard library.
std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::int64_t to_ns(double microseconds) {
  return static_cast<std::int64_t>(std::llround(microseconds * 1000.0));
}

int ceil_div(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }

// Records, for each vertex reached, the link it was reached by (a BFS tree).
struct TreeRecorder : boost::default_bfs_visitor {
  std::vector<LinkId>* pred = nullptr;
  template <class Edge, class Graph>
  void tree_edge(Edge e, const Graph& g) const {
    (*pred)[boost::target(e, g)] = g[e].id;
  }
};

}  // namespace

const char* to_string(VertexKind kind) {
  switch (kind) {
    case VertexKind::Gpu: return "gpu";
    case VertexKind::ScaleUpSwitch: return "scale-up-switch";
    case VertexKind::Nic: return "nic";
    case VertexKind::Leaf: return "leaf";
    case VertexKind::Spine: return "spine";
    case VertexKind::Core: return "core";
  }
  return "unknown";
}

Topology::Topology(TopologyConfig config) : config_(std::move(config)) {
  validate(config_);
  shape_ = fabric_shape(config_);
  build();
  if (num_vertices() <= kConnectivityCheckVertices && !is_connected())
    throw std::logic_error("Topology: the network built is not connected");
}

std::size_t Topology::count(VertexKind kind) const {
  return counts_[static_cast<std::size_t>(kind)];
}

LinkId Topology::add_pair(TopologyGraph& g, VertexId a, VertexId b, double bytes_per_s,
                          SimTime latency_ab, SimTime latency_ba, LinkKind kind) {
  const auto id = static_cast<LinkId>(links_.size());
  links_.push_back(Link{a, b, bytes_per_s, latency_ab, kind});
  links_.push_back(Link{b, a, bytes_per_s, latency_ba, kind});
  boost::add_edge(a, b, TopologyEdge{id}, g);
  boost::add_edge(b, a, TopologyEdge{id + 1}, g);
  return id;
}

Topology::LeafPlace Topology::place(int node, int rail) const {
  const int nics = config_.scale_out.nics_per_node;
  switch (config_.scale_out.kind) {
    case ScaleOutKind::FatTree:
      // Consecutive NICs share a leaf: a node's NICs land together.
      return {0, static_cast<int>((static_cast<long long>(node) * nics + rail) / shape_.down)};
    case ScaleOutKind::RailOptimized:
      // A block of `down` nodes has one leaf per rail; blocks are laid out rail-minor, so a
      // 3-tier pod holds all the rails of consecutive node blocks (NVIDIA SuperPOD units).
      return {0, (node / shape_.down) * nics + rail};
    case ScaleOutKind::MultiPlane: return {rail, node / shape_.down};
  }
  return {};
}

VertexId Topology::nic_of(int gpu) const {
  return first_nic_ +
         static_cast<VertexId>(node_of(gpu) * config_.scale_out.nics_per_node + rail_of(gpu));
}

VertexId Topology::leaf_of(int gpu) const {
  const LeafPlace p = place(node_of(gpu), rail_of(gpu));
  return fabric_vertex_base(p.fabric) + static_cast<VertexId>(p.leaf);
}

void Topology::build() {
  const TopologyConfig& c = config_;
  const int gpus = c.gpus;
  const int gpn = c.gpus_per_node;
  const int domain = c.scale_up.domain_size;
  const int nics = c.scale_out.nics_per_node;
  const FabricShape& s = shape_;
  nodes_ = ceil_div(gpus, gpn);
  domains_ = ceil_div(gpus, domain);
  gpus_per_nic_ = gpn / nics;
  const bool switched = c.scale_up.topology == ScaleUpTopology::Switch;

  // Vertices: GPUs, domain switches, NICs, then per fabric its leaves, spines and cores.
  const std::size_t n_switches = switched ? static_cast<std::size_t>(domains_) : 0;
  const std::size_t n_nics = static_cast<std::size_t>(nodes_) * nics;
  per_fabric_vertices_ = static_cast<VertexId>(s.leaves + s.spines + s.cores);
  first_switch_ = static_cast<VertexId>(gpus);
  first_nic_ = first_switch_ + static_cast<VertexId>(n_switches);
  first_leaf_ = first_nic_ + static_cast<VertexId>(n_nics);
  const std::size_t n_vertices =
      first_leaf_ + static_cast<std::size_t>(s.fabrics) * per_fabric_vertices_;

  // Links, counted first so ids are known and memory is reserved once.
  std::size_t scale_up_links = 0;
  if (switched) {
    scale_up_links = 2 * static_cast<std::size_t>(gpus);
  } else {
    for (int d = 0; d < domains_; ++d) {
      const std::size_t m = static_cast<std::size_t>(std::min(domain, gpus - d * domain));
      scale_up_links += m * (m - 1);
    }
  }
  const std::size_t leaf_spine_links =
      s.spines > 0 ? 2 * static_cast<std::size_t>(s.leaves) * s.up : 0;
  const std::size_t spine_core_links =
      s.cores > 0 ? 2 * static_cast<std::size_t>(s.spines) * s.cores_per_group : 0;
  const std::size_t n_links =
      scale_up_links + 2 * static_cast<std::size_t>(gpus) + 2 * n_nics +
      static_cast<std::size_t>(s.fabrics) * (leaf_spine_links + spine_core_links);
  // ~56 bytes per link with its Boost edge: 2^25 links is about 2 GB. A million GPUs need
  // about 10M links; more means a radix or domain typo, refused before allocating.
  if (n_links > kMaxLinks || n_vertices >= std::numeric_limits<VertexId>::max())
    throw InputError(c.source, "cluster",
                     "the network would have " + std::to_string(n_links) +
                         " links; the limit is " + std::to_string(kMaxLinks) +
                         " (check leaf_radix, tiers and the scale-up domain)");

  // Vertices are added in id order.
  auto graph = std::make_shared<TopologyGraph>();
  TopologyGraph& gr = *graph;
  links_.reserve(n_links);
  counts_.fill(0);
  auto set_kind = [&](std::size_t first, std::size_t n, VertexKind kind) {
    for (std::size_t v = first; v < first + n; ++v) {
      const auto added = boost::add_vertex(TopologyVertex{kind}, gr);
      if (added != v) throw std::logic_error("Topology: vertex ids out of order");
    }
    counts_[static_cast<std::size_t>(kind)] += n;
  };
  set_kind(0, static_cast<std::size_t>(gpus), VertexKind::Gpu);
  set_kind(first_switch_, n_switches, VertexKind::ScaleUpSwitch);
  set_kind(first_nic_, n_nics, VertexKind::Nic);
  for (int f = 0; f < s.fabrics; ++f) {
    const std::size_t base = fabric_vertex_base(f);
    set_kind(base, static_cast<std::size_t>(s.leaves), VertexKind::Leaf);
    set_kind(base + s.leaves, static_cast<std::size_t>(s.spines), VertexKind::Spine);
    set_kind(base + s.leaves + s.spines, static_cast<std::size_t>(s.cores), VertexKind::Core);
  }

  // Scale-up. A switch route is GPU → switch → GPU: the fabric latency is split over the two
  // hops so that the route sums to it exactly.
  const double up_rate = c.scale_up.gbs_uni_per_gpu * kGB;
  const std::int64_t up_ns = to_ns(c.scale_up.latency_us);
  const LinkKind up_kind = c.scale_up.link_kind;
  scale_up_base_ = 0;
  if (switched) {
    for (int g = 0; g < gpus; ++g)
      add_pair(gr, static_cast<VertexId>(g), first_switch_ + static_cast<VertexId>(g / domain),
               up_rate, SimTime{(up_ns + 1) / 2}, SimTime{up_ns / 2}, up_kind);
  } else {
    const double pair_rate = c.scale_up.per_pair_gbs_uni * kGB;
    for (int d = 0; d < domains_; ++d) {
      const int first = d * domain;
      const int m = std::min(domain, gpus - first);
      for (int a = 0; a < m; ++a)
        for (int b = a + 1; b < m; ++b)
          add_pair(gr, static_cast<VertexId>(first + a), static_cast<VertexId>(first + b),
                   pair_rate, SimTime{up_ns}, SimTime{up_ns}, up_kind);
    }
  }

  // GPU ↔ NIC over PCIe; its latency is inside the NIC's end-to-end figure.
  gpu_nic_base_ = static_cast<LinkId>(links_.size());
  const double pcie_rate = c.scale_out.pcie_gbs_uni * kGB;
  for (int g = 0; g < gpus; ++g)
    add_pair(gr, static_cast<VertexId>(g), nic_of(g), pcie_rate, SimTime{0}, SimTime{0},
             LinkKind::Pcie);

  // NIC ↔ leaf: the same-leaf NIC-to-NIC latency is split over the two cables.
  nic_leaf_base_ = static_cast<LinkId>(links_.size());
  const double port_rate = c.scale_out.nic_gbps * 1e9 / 8.0;  // Gb/s (bits) → bytes/s
  const std::int64_t nic_ns = to_ns(c.scale_out.nic_latency_us);
  for (int node = 0; node < nodes_; ++node) {
    for (int rail = 0; rail < nics; ++rail) {
      const LeafPlace p = place(node, rail);
      add_pair(gr, first_nic_ + static_cast<VertexId>(node * nics + rail),
               fabric_vertex_base(p.fabric) + static_cast<VertexId>(p.leaf), port_rate,
               SimTime{(nic_ns + 1) / 2}, SimTime{nic_ns / 2}, LinkKind::NicLeaf);
    }
  }

  // Leaf ↔ spine (leaf l's uplink j goes to spine j of its pod) and spine ↔ core (spine j of
  // every pod links to each core of group j), one block of links per fabric.
  leaf_spine_base_ = static_cast<LinkId>(links_.size());
  spine_core_offset_ = static_cast<LinkId>(leaf_spine_links);
  per_fabric_links_ = static_cast<LinkId>(leaf_spine_links + spine_core_links);
  const SimTime hop{static_cast<std::int64_t>(std::llround(c.scale_out.switch_hop_latency_ns))};
  for (int f = 0; f < s.fabrics; ++f) {
    const VertexId base = fabric_vertex_base(f);
    const VertexId first_spine = base + static_cast<VertexId>(s.leaves);
    const VertexId first_core = first_spine + static_cast<VertexId>(s.spines);
    if (s.spines > 0) {
      for (int l = 0; l < s.leaves; ++l) {
        const int pod = l / s.leaves_per_pod;
        for (int j = 0; j < s.up; ++j)
          add_pair(gr, base + static_cast<VertexId>(l),
                   first_spine + static_cast<VertexId>(pod * s.up + j), port_rate, hop, hop,
                   LinkKind::LeafSpine);
      }
    }
    if (s.cores > 0) {
      for (int sp = 0; sp < s.spines; ++sp) {
        const int group = sp % s.up;
        for (int k = 0; k < s.cores_per_group; ++k)
          add_pair(gr, first_spine + static_cast<VertexId>(sp),
                   first_core + static_cast<VertexId>(group * s.cores_per_group + k), port_rate,
                   hop, hop, LinkKind::SpineCore);
      }
    }
  }
  if (links_.size() != n_links) throw std::logic_error("Topology: link count mismatch");
  graph_ = std::move(graph);
}

int Topology::relay_for(int src, int dst, bool& relay_at_src) const {
  const ScaleOutConfig& o = config_.scale_out;
  if (o.kind == ScaleOutKind::FatTree) return -1;
  if (rail_of(src) == rail_of(dst)) return -1;
  if (o.kind == ScaleOutKind::RailOptimized && !o.cross_rail_via_scale_up) return -1;
  const int gpn = config_.gpus_per_node;
  // The GPU of the destination's rail in the source node (same position under its NIC).
  int r = node_of(src) * gpn + rail_of(dst) * gpus_per_nic_ + local_rank(src) % gpus_per_nic_;
  if (r < config_.gpus) {
    relay_at_src = true;
    return r;
  }
  // Only the last node can be partial: then relay in the destination's (full) node.
  r = node_of(dst) * gpn + rail_of(src) * gpus_per_nic_ + local_rank(dst) % gpus_per_nic_;
  if (r < config_.gpus) {
    relay_at_src = false;
    return r;
  }
  if (o.kind == ScaleOutKind::RailOptimized) return -1;
  throw std::logic_error("Topology: no relay GPU between planes");
}

int Topology::scale_out_choices(int src, int dst) const {
  const LeafPlace a = place(node_of(src), rail_of(src));
  const LeafPlace b = place(node_of(dst), rail_of(dst));
  if (a.fabric != b.fabric) throw std::logic_error("Topology: route between planes");
  if (a.leaf == b.leaf) return 1;
  if (a.leaf / shape_.leaves_per_pod != b.leaf / shape_.leaves_per_pod)
    return shape_.up * shape_.cores_per_group;
  return shape_.up;
}

void Topology::append_scale_up(int src, int dst, std::vector<LinkId>& out) const {
  if (config_.scale_up.topology == ScaleUpTopology::Switch) {
    out.push_back(scale_up_base_ + 2 * static_cast<LinkId>(src));
    out.push_back(scale_up_base_ + 2 * static_cast<LinkId>(dst) + 1);
    return;
  }
  const int domain = config_.scale_up.domain_size;
  const int d = domain_of(src);
  const int first = d * domain;
  const long long m = std::min(domain, config_.gpus - first);
  const long long a = src - first;
  const long long b = dst - first;
  const long long lo = std::min(a, b);
  const long long hi = std::max(a, b);
  // Pairs (lo < hi) were added in lexicographic order.
  const long long pair = lo * m - lo * (lo + 1) / 2 + (hi - lo - 1);
  const long long base = static_cast<long long>(d) * domain * (domain - 1);
  out.push_back(static_cast<LinkId>(scale_up_base_ + base + 2 * pair + (a < b ? 0 : 1)));
}

void Topology::append_scale_out(int src, int dst, int choice, std::vector<LinkId>& out) const {
  const int nics = config_.scale_out.nics_per_node;
  const int nic_a = node_of(src) * nics + rail_of(src);
  const int nic_b = node_of(dst) * nics + rail_of(dst);
  const LeafPlace a = place(node_of(src), rail_of(src));
  const LeafPlace b = place(node_of(dst), rail_of(dst));
  out.push_back(gpu_nic_base_ + 2 * static_cast<LinkId>(src));
  out.push_back(nic_leaf_base_ + 2 * static_cast<LinkId>(nic_a));
  if (a.leaf != b.leaf) {
    const FabricShape& s = shape_;
    const LinkId block = fabric_link_base(a.fabric);
    const int j = choice % s.up;
    const int pod_a = a.leaf / s.leaves_per_pod;
    const int pod_b = b.leaf / s.leaves_per_pod;
    out.push_back(block + 2 * static_cast<LinkId>(a.leaf * s.up + j));
    if (pod_a != pod_b) {
      const int k = (choice / s.up) % s.cores_per_group;
      const LinkId sc = block + spine_core_offset_;
      out.push_back(sc + 2 * static_cast<LinkId>((pod_a * s.up + j) * s.cores_per_group + k));
      out.push_back(sc + 2 * static_cast<LinkId>((pod_b * s.up + j) * s.cores_per_group + k) + 1);
    }
    out.push_back(block + 2 * static_cast<LinkId>(b.leaf * s.up + j) + 1);
  }
  out.push_back(nic_leaf_base_ + 2 * static_cast<LinkId>(nic_b) + 1);
  out.push_back(gpu_nic_base_ + 2 * static_cast<LinkId>(dst) + 1);
}

namespace {
void check_gpu(const Topology& t, int gpu) {
  if (gpu < 0 || gpu >= t.num_gpus())
    throw std::out_of_range("Topology: GPU " + std::to_string(gpu) + " is not in a cluster of " +
                            std::to_string(t.num_gpus()));
}
}  // namespace

int Topology::equal_cost_routes(int src, int dst) const {
  check_gpu(*this, src);
  check_gpu(*this, dst);
  if (src == dst || same_domain(src, dst)) return 1;
  bool at_src = true;
  const int r = relay_for(src, dst, at_src);
  if (r < 0) return scale_out_choices(src, dst);
  return at_src ? scale_out_choices(r, dst) : scale_out_choices(src, r);
}

std::vector<LinkId> Topology::route_choice(int src, int dst, int choice) const {
  const int n = equal_cost_routes(src, dst);
  if (choice < 0 || choice >= n)
    throw std::out_of_range("Topology: route choice " + std::to_string(choice) + " of " +
                            std::to_string(n));
  std::vector<LinkId> out;
  if (src == dst) return out;
  if (same_domain(src, dst)) {
    append_scale_up(src, dst, out);
    return out;
  }
  bool at_src = true;
  const int r = relay_for(src, dst, at_src);
  if (r < 0) {
    append_scale_out(src, dst, choice, out);
  } else if (at_src) {
    append_scale_up(src, r, out);
    append_scale_out(r, dst, choice, out);
  } else {
    append_scale_out(src, r, choice, out);
    append_scale_up(r, dst, out);
  }
  return out;
}

std::vector<LinkId> Topology::route(int src, int dst, std::uint64_t flow) const {
  std::vector<LinkId> out;
  append_route(src, dst, flow, out);
  return out;
}

void Topology::append_route(int src, int dst, std::uint64_t flow, std::vector<LinkId>& out) const {
  check_gpu(*this, src);
  check_gpu(*this, dst);
  if (src == dst) return;
  if (same_domain(src, dst)) {
    append_scale_up(src, dst, out);
    return;
  }
  bool at_src = true;
  const int r = relay_for(src, dst, at_src);
  const int a = r >= 0 && at_src ? r : src;
  const int b = r >= 0 && !at_src ? r : dst;
  const int n = scale_out_choices(a, b);
  int choice = 0;
  if (n > 1) {
    const std::uint64_t key = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(src)) << 32) |
                              static_cast<std::uint32_t>(dst);
    choice = static_cast<int>(mix64(mix64(key) ^ flow) % static_cast<std::uint64_t>(n));
  }
  if (r >= 0 && at_src) append_scale_up(src, r, out);
  append_scale_out(a, b, choice, out);
  if (r >= 0 && !at_src) append_scale_up(r, dst, out);
}

SimTime Topology::latency(std::span<const LinkId> route) const {
  SimTime t = SimTime::zero();
  for (LinkId id : route) t += links_[id].latency;
  return t;
}

double Topology::bottleneck(std::span<const LinkId> route) const {
  double b = std::numeric_limits<double>::infinity();
  for (LinkId id : route) b = std::min(b, links_[id].bytes_per_s);
  return b;
}

bool Topology::crosses_spine(std::span<const LinkId> route) const {
  return std::any_of(route.begin(), route.end(),
                     [&](LinkId id) { return links_[id].kind == LinkKind::LeafSpine; });
}

std::vector<LinkId> Topology::shortest_path(int src, int dst) const {
  check_gpu(*this, src);
  check_gpu(*this, dst);
  std::vector<LinkId> out;
  if (src == dst) return out;
  std::vector<LinkId> pred(num_vertices(), kNoLink);
  TreeRecorder rec;
  rec.pred = &pred;
  boost::breadth_first_search(*graph_, gpu_vertex(src), boost::visitor(rec));
  VertexId v = gpu_vertex(dst);
  if (pred[v] == kNoLink) return out;
  while (v != gpu_vertex(src)) {
    const LinkId id = pred[v];
    out.push_back(id);
    v = links_[id].from;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

bool Topology::is_connected() const {
  if (num_vertices() == 0) return true;
  std::vector<LinkId> pred(num_vertices(), kNoLink);
  TreeRecorder rec;
  rec.pred = &pred;
  boost::breadth_first_search(*graph_, VertexId{0}, boost::visitor(rec));
  const auto reached = static_cast<std::size_t>(
      std::count_if(pred.begin(), pred.end(), [](LinkId id) { return id != kNoLink; }));
  return reached + 1 == num_vertices();
}

}  // namespace clustercost
