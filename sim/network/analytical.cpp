#include "sim/network/analytical.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace clustercost {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool finite_positive(double x) { return std::isfinite(x) && x > 0.0; }

void check_size(Bytes size) {
  if (!std::isfinite(size.value) || size.value < 0.0)
    throw std::invalid_argument("collective size must be finite and >= 0 bytes");
}

void check_members(const Topology& topo, std::span<const int> group) {
  for (int g : group)
    if (g < 0 || g >= topo.num_gpus())
      throw std::out_of_range("GPU " + std::to_string(g) + " is not in a cluster of " +
                              std::to_string(topo.num_gpus()) + " GPUs");
}

// Effective capacity of one link inside a route: spine-level links at port rate divided by
// the realised oversubscription (ECMP spreads a leaf's traffic over its `up` uplinks, which
// together carry down/up less than its NICs can send).
double link_rate_in_route(const Topology& topo, const Link& l, const FabricEfficiency& eff) {
  const double b = effective_bandwidth(l, eff);
  if (l.kind == LinkKind::LeafSpine || l.kind == LinkKind::SpineCore)
    return b / topo.shape().oversubscription();
  return b;
}

CollectiveCost finish(CollectiveKind kind, int ranks, Bytes size, Seconds alpha, double rate,
                      int steps, Seconds latency_term, Seconds bandwidth_term) {
  CollectiveCost c;
  c.kind = kind;
  c.ranks = ranks;
  c.size = size;
  c.alpha = alpha;
  c.bytes_per_s = rate;
  c.steps = steps;
  c.latency_term = latency_term;
  c.bandwidth_term = bandwidth_term;
  c.time = latency_term + bandwidth_term;
  if (c.time.value > 0.0) {
    c.algbw_bytes_per_s = size.value / c.time.value;
    c.busbw_bytes_per_s = c.algbw_bytes_per_s * bus_bandwidth_factor(kind, std::max(ranks, 1));
  }
  return c;
}

// `steps` lock-step ring steps of `chunk` bytes at (α, B).
CollectiveCost ring_steps(CollectiveKind kind, int ranks, Bytes size, const RingCost& r, int steps,
                          Bytes chunk) {
  if (ranks < 2)
    return finish(kind, ranks, size, Seconds(0.0), r.bytes_per_s, 0, Seconds(0.0), Seconds(0.0));
  const Seconds latency = r.alpha * static_cast<double>(steps);
  const Seconds bandwidth(static_cast<double>(steps) * (chunk.value / r.bytes_per_s));
  return finish(kind, ranks, size, r.alpha, r.bytes_per_s, steps, latency, bandwidth);
}

// The GPUs of the group grouped by `key(gpu)`, each sorted, in key order.
template <class Key>
std::vector<std::vector<int>> split(const std::vector<int>& sorted, Key key) {
  std::vector<std::vector<int>> parts;
  int current = std::numeric_limits<int>::min();
  for (int g : sorted) {
    const int k = key(g);
    if (parts.empty() || k != current) {
      parts.emplace_back();
      current = k;
    }
    parts.back().push_back(g);
  }
  return parts;
}

// Load-based time of a set of point-to-point transfers sent at once (all-to-all rules).
struct LoadModel {
  const Topology& topo;
  const FabricEfficiency& eff;
  std::vector<double> link_load;
  std::vector<double> leaf_up;    // bytes leaving a leaf towards the spines
  std::vector<double> leaf_down;  // bytes arriving at a leaf from the spines
  std::vector<LinkId> route;
  Seconds alpha{0.0};

  LoadModel(const Topology& t, const FabricEfficiency& e)
      : topo(t),
        eff(e),
        link_load(t.num_links(), 0.0),
        leaf_up(t.num_vertices(), 0.0),
        leaf_down(t.num_vertices(), 0.0) {}

  void add(int src, int dst, double bytes) {
    if (src == dst || bytes <= 0.0) return;
    route.clear();
    topo.append_route(src, dst, 0, route);
    alpha = std::max(alpha, topo.latency(route).seconds());
    for (LinkId id : route) {
      const Link& l = topo.link(id);
      if (l.kind == LinkKind::LeafSpine) {
        if (topo.vertex_kind(l.from) == VertexKind::Leaf)
          leaf_up[l.from] += bytes;
        else
          leaf_down[l.to] += bytes;
      } else if (l.kind != LinkKind::SpineCore) {
        link_load[id] += bytes;
      }
    }
  }

  Seconds bandwidth_time() const {
    double t = 0.0;
    for (std::size_t id = 0; id < link_load.size(); ++id)
      if (link_load[id] > 0.0)
        t = std::max(t,
                     link_load[id] / effective_bandwidth(topo.link(static_cast<LinkId>(id)), eff));
    const double port = topo.config().scale_out.nic_gbps * 1e9 / 8.0 * eff.scale_out;
    const double uplinks = port * topo.shape().up;
    for (std::size_t v = 0; v < leaf_up.size(); ++v) {
      if (leaf_up[v] > 0.0) t = std::max(t, leaf_up[v] / uplinks);
      if (leaf_down[v] > 0.0) t = std::max(t, leaf_down[v] / uplinks);
    }
    return Seconds(t);
  }
};

}  // namespace

void check(const FabricEfficiency& eff) {
  if (!finite_positive(eff.scale_up) || !finite_positive(eff.scale_out) ||
      !finite_positive(eff.pcie))
    throw std::invalid_argument("fabric efficiencies must be finite and > 0");
  if (!std::isfinite(eff.nvls) || eff.nvls < 0.0 || eff.nvls > 1.0)
    throw std::invalid_argument("the NVLS efficiency must be in [0, 1]");
  if (!std::isfinite(eff.step_overhead.value) || eff.step_overhead.value < 0.0)
    throw std::invalid_argument("the per-step overhead must be finite and >= 0");
}

double effective_bandwidth(const Link& link, const FabricEfficiency& eff) {
  if (is_scale_up(link.kind)) return link.bytes_per_s * eff.scale_up;
  if (link.kind == LinkKind::Pcie) return link.bytes_per_s * eff.pcie;
  return link.bytes_per_s * eff.scale_out;
}

RouteCost route_cost(const Topology& topo, std::span<const LinkId> route,
                     const FabricEfficiency& eff) {
  RouteCost c;
  c.alpha = topo.latency(route).seconds() + eff.step_overhead;
  c.bytes_per_s = kInf;
  for (LinkId id : route)
    c.bytes_per_s = std::min(c.bytes_per_s, link_rate_in_route(topo, topo.link(id), eff));
  return c;
}

RouteCost route_cost(const Topology& topo, int src, int dst, const FabricEfficiency& eff) {
  const std::vector<LinkId> r = topo.route(src, dst, 0);
  return route_cost(topo, r, eff);
}

RingCost ring_cost(const Topology& topo, std::span<const int> group, const FabricEfficiency& eff) {
  check(eff);
  check_members(topo, group);
  const std::vector<int> ring = ring_order(group);
  RingCost out;
  out.alpha = Seconds(0.0);
  out.bytes_per_s = kInf;
  if (ring.size() < 2) return out;
  auto take = [&](const RouteCost& c, double multiplier) {
    out.alpha = std::max(out.alpha, c.alpha);
    out.bytes_per_s = std::min(out.bytes_per_s, c.bytes_per_s * multiplier);
  };
  const auto domains = split(ring, [&](int g) { return topo.domain_of(g); });
  if (domains.size() == 1) {
    for (std::size_t i = 0; i < ring.size(); ++i)
      take(route_cost(topo, ring[i], ring[(i + 1) % ring.size()], eff), 1.0);
    return out;
  }
  // Hops inside each domain.
  for (const auto& d : domains)
    for (std::size_t i = 0; i + 1 < d.size(); ++i) take(route_cost(topo, d[i], d[i + 1], eff), 1.0);
  // One representative GPU per distinct NIC of each domain, in GPU order.
  std::vector<std::vector<int>> reps;
  std::size_t q = std::numeric_limits<std::size_t>::max();
  for (const auto& d : domains) {
    std::vector<int> r;
    std::set<VertexId> seen;
    for (int g : d)
      if (seen.insert(topo.nic_of(g)).second) r.push_back(g);
    q = std::min(q, r.size());
    reps.push_back(std::move(r));
  }
  // Channel j crosses from the j-th NIC of a domain to the j-th NIC of the next one.
  for (std::size_t s = 0; s < domains.size(); ++s) {
    const auto& a = reps[s];
    const auto& b = reps[(s + 1) % domains.size()];
    for (std::size_t j = 0; j < q; ++j)
      take(route_cost(topo, a[j], b[j], eff), static_cast<double>(q));
  }
  out.channels = static_cast<int>(q);
  return out;
}

CollectiveCost ring_all_reduce_cost(const Topology& topo, std::span<const int> group, Bytes size,
                                    const FabricEfficiency& eff) {
  check_size(size);
  const RingCost r = ring_cost(topo, group, eff);
  const int n = static_cast<int>(group.size());
  return ring_steps(CollectiveKind::AllReduce, n, size, r, 2 * (n - 1), size / n);
}

CollectiveCost ring_reduce_scatter_cost(const Topology& topo, std::span<const int> group,
                                        Bytes size, const FabricEfficiency& eff) {
  check_size(size);
  const RingCost r = ring_cost(topo, group, eff);
  const int n = static_cast<int>(group.size());
  return ring_steps(CollectiveKind::ReduceScatter, n, size, r, n - 1, size / n);
}

CollectiveCost ring_all_gather_cost(const Topology& topo, std::span<const int> group, Bytes size,
                                    const FabricEfficiency& eff) {
  check_size(size);
  const RingCost r = ring_cost(topo, group, eff);
  const int n = static_cast<int>(group.size());
  return ring_steps(CollectiveKind::AllGather, n, size, r, n - 1, size / n);
}

bool nvls_available(const Topology& topo, std::span<const int> group, const FabricEfficiency& eff) {
  if (group.size() < 2 || eff.nvls <= 0.0) return false;
  const ScaleUpConfig& u = topo.config().scale_up;
  if (!u.in_switch_reduction || u.topology != ScaleUpTopology::Switch) return false;
  for (int g : group)
    if (!topo.same_domain(g, group.front())) return false;
  return true;
}

Bytes nvls_bytes_per_gpu(CollectiveKind kind, int ranks, Bytes size) {
  switch (kind) {
    case CollectiveKind::AllReduce: return size * (static_cast<double>(ranks + 1) / ranks);
    case CollectiveKind::ReduceScatter:
    case CollectiveKind::AllGather: return size;
    default:
      throw std::invalid_argument(std::string("NVLS runs all-reduce, reduce-scatter and all-gather, not ") +
                                  to_string(kind));
  }
}

int nvls_steps(CollectiveKind kind) { return kind == CollectiveKind::AllReduce ? 2 : 1; }

CollectiveCost nvls_cost(const Topology& topo, CollectiveKind kind, std::span<const int> group,
                         Bytes size, const FabricEfficiency& eff) {
  check_size(size);
  check(eff);
  check_members(topo, group);
  if (!nvls_available(topo, group, eff))
    throw std::invalid_argument("NVLS is not available to this group (one switched scale-up "
                                "domain that reduces, and a measured NVLS efficiency, needed)");
  const int n = static_cast<int>(group.size());
  const Bytes bytes = nvls_bytes_per_gpu(kind, n, size);
  const int steps = nvls_steps(kind);
  // α of the GPU → switch → GPU route; the line rate of the slowest member's first hop (its
  // link into the switch).
  Seconds alpha(0.0);
  double line = kInf;
  for (int g : group) {
    const int peer = g == group.front() ? group[1] : group.front();
    const std::vector<LinkId> r = topo.route(g, peer, 0);
    alpha = std::max(alpha, topo.latency(r).seconds() + eff.step_overhead);
    if (!r.empty()) line = std::min(line, topo.link(r.front()).bytes_per_s);
  }
  const double rate = line * eff.nvls;
  return finish(kind, n, size, alpha, rate, steps, alpha * static_cast<double>(steps),
                Seconds(bytes.value / rate));
}

CollectiveCost tree_all_reduce_cost(const Topology& topo, std::span<const int> group, Bytes size,
                                    const FabricEfficiency& eff) {
  check_size(size);
  check(eff);
  check_members(topo, group);
  const std::vector<int> ring = ring_order(group);
  const int n = static_cast<int>(ring.size());
  if (n < 2)
    return finish(CollectiveKind::AllReduce, n, size, Seconds(0.0), kInf, 0, Seconds(0.0),
                  Seconds(0.0));
  const auto trees = double_binary_tree(n);
  Seconds alpha(0.0);
  double rate = kInf;
  std::vector<double> sent(static_cast<std::size_t>(n), 0.0);
  int height = 0;
  const double half = size.value / 2.0;
  for (const BinaryTree& t : trees) {
    height = std::max(height, t.height);
    for (int p = 0; p < n; ++p) {
      const int parent = t.parent[static_cast<std::size_t>(p)];
      if (parent < 0) continue;
      const int child_gpu = ring[static_cast<std::size_t>(p)];
      const int parent_gpu = ring[static_cast<std::size_t>(parent)];
      for (const RouteCost& c : {route_cost(topo, child_gpu, parent_gpu, eff),
                                 route_cost(topo, parent_gpu, child_gpu, eff)}) {
        alpha = std::max(alpha, c.alpha);
        rate = std::min(rate, c.bytes_per_s);
      }
      sent[static_cast<std::size_t>(p)] += half;       // reduction, up
      sent[static_cast<std::size_t>(parent)] += half;  // broadcast, down
    }
  }
  const double most = *std::max_element(sent.begin(), sent.end());
  const int steps = 2 * height;
  return finish(CollectiveKind::AllReduce, n, size, alpha, rate, steps,
                alpha * static_cast<double>(steps), Seconds(most / rate));
}

CollectiveCost hierarchical_all_reduce_cost(const Topology& topo, std::span<const int> group,
                                            Bytes size, const FabricEfficiency& eff,
                                            int local_size) {
  check_size(size);
  check(eff);
  check_members(topo, group);
  if (local_size <= 0) local_size = topo.config().gpus_per_node;
  const std::vector<int> ring = ring_order(group);
  const int n = static_cast<int>(ring.size());
  if (n < 2)
    return finish(CollectiveKind::AllReduce, n, size, Seconds(0.0), kInf, 0, Seconds(0.0),
                  Seconds(0.0));
  const auto locals = split(ring, [&](int g) { return g / local_size; });
  const std::size_t m = locals.front().size();
  for (const auto& l : locals)
    if (l.size() != m)
      throw std::invalid_argument("hierarchical_all_reduce_cost: local groups of unequal size");
  const int mi = static_cast<int>(m);
  const int ki = static_cast<int>(locals.size());

  // Phases 1 and 3: the slowest local ring.
  RingCost intra{Seconds(0.0), kInf, 1};
  if (m > 1) {
    for (const auto& l : locals) {
      const RingCost r = ring_cost(topo, l, eff);
      intra.alpha = std::max(intra.alpha, r.alpha);
      intra.bytes_per_s = std::min(intra.bytes_per_s, r.bytes_per_s);
    }
  }
  // Phase 2: m concurrent rings, one per local position; those that leave their domain share
  // the NICs of the local group (several positions on one NIC when GPUs share NICs).
  RingCost inter{Seconds(0.0), kInf, 1};
  if (ki > 1) {
    std::map<VertexId, int> per_nic;
    for (int g : locals.front()) ++per_nic[topo.nic_of(g)];
    int sharing = 1;
    for (const auto& [nic, count] : per_nic) sharing = std::max(sharing, count);
    for (std::size_t j = 0; j < m; ++j) {
      std::vector<int> r;
      for (const auto& l : locals) r.push_back(l[j]);
      RingCost c = ring_cost(topo, r, eff);
      const bool crosses = std::any_of(r.begin(), r.end(), [&](int g) {
        return topo.domain_of(g) != topo.domain_of(r.front());
      });
      if (crosses) c.bytes_per_s /= sharing;
      inter.alpha = std::max(inter.alpha, c.alpha);
      inter.bytes_per_s = std::min(inter.bytes_per_s, c.bytes_per_s);
    }
  }
  const int intra_steps = 2 * (mi - 1);
  const int inter_steps = 2 * (ki - 1);
  const Seconds latency = intra.alpha * static_cast<double>(intra_steps) +
                          inter.alpha * static_cast<double>(inter_steps);
  double bw = 0.0;
  if (intra_steps > 0) bw += intra_steps * (size.value / mi / intra.bytes_per_s);
  if (inter_steps > 0)
    bw += inter_steps * (size.value / (static_cast<double>(mi) * ki) / inter.bytes_per_s);
  const double rate = std::min(intra.bytes_per_s, inter.bytes_per_s);
  return finish(CollectiveKind::AllReduce, n, size, std::max(intra.alpha, inter.alpha), rate,
                intra_steps + inter_steps, latency, Seconds(bw));
}

CollectiveCost broadcast_cost(const Topology& topo, std::span<const int> group, int root,
                              Bytes size, const FabricEfficiency& eff, int chunks) {
  check_size(size);
  if (chunks < 1) throw std::invalid_argument("broadcast_cost: chunks must be >= 1");
  if (std::find(group.begin(), group.end(), root) == group.end())
    throw std::invalid_argument("broadcast_cost: the root is not in the group");
  const RingCost r = ring_cost(topo, group, eff);
  const int n = static_cast<int>(group.size());
  return ring_steps(CollectiveKind::Broadcast, n, size, r, n < 2 ? 0 : n - 2 + chunks,
                    size / chunks);
}

CollectiveCost send_recv_cost(const Topology& topo, int src, int dst, Bytes size,
                              const FabricEfficiency& eff) {
  check_size(size);
  check(eff);
  const int pair[2] = {src, dst};
  check_members(topo, pair);
  if (src == dst)
    return finish(CollectiveKind::SendRecv, 1, size, Seconds(0.0), kInf, 0, Seconds(0.0),
                  Seconds(0.0));
  const RouteCost c = route_cost(topo, src, dst, eff);
  return finish(CollectiveKind::SendRecv, 2, size, c.alpha, c.bytes_per_s, 1, c.alpha,
                Seconds(size.value / c.bytes_per_s));
}

CollectiveCost all_to_all_cost(const Topology& topo, std::span<const int> group, Bytes size,
                               const FabricEfficiency& eff) {
  check_size(size);
  check(eff);
  check_members(topo, group);
  const std::vector<int> ranks = ring_order(group);
  const int n = static_cast<int>(ranks.size());
  if (n < 2)
    return finish(CollectiveKind::AllToAll, n, size, Seconds(0.0), kInf, 0, Seconds(0.0),
                  Seconds(0.0));
  LoadModel load(topo, eff);
  const double share = size.value / n;
  for (int s : ranks)
    for (int d : ranks) load.add(s, d, share);
  const Seconds alpha = load.alpha + eff.step_overhead;
  const Seconds bw = load.bandwidth_time();
  const double sent = share * (n - 1);
  return finish(CollectiveKind::AllToAll, n, size, alpha, bw.value > 0 ? sent / bw.value : kInf, 1,
                alpha, bw);
}

CollectiveCost all_to_all_v_cost(const Topology& topo, std::span<const int> group,
                                 std::span<const double> bytes, const FabricEfficiency& eff) {
  check(eff);
  check_members(topo, group);
  // all_to_all_v validates the group and the matrix.
  const TransferDag dag = all_to_all_v(group, bytes);
  const std::size_t n = group.size();
  double busiest = 0.0;
  double busiest_sent = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    double row = 0.0;
    for (std::size_t j = 0; j < n; ++j) row += bytes[i * n + j];
    if (row > busiest) {
      busiest = row;
      busiest_sent = row - bytes[i * n + i];
    }
  }
  const int ni = static_cast<int>(n);
  if (dag.transfers.empty())
    return finish(CollectiveKind::AllToAll, ni, Bytes(busiest), Seconds(0.0), kInf, 0, Seconds(0.0),
                  Seconds(0.0));
  LoadModel load(topo, eff);
  for (const Transfer& t : dag.transfers) load.add(t.src, t.dst, t.bytes.value);
  const Seconds alpha = load.alpha + eff.step_overhead;
  const Seconds bw = load.bandwidth_time();
  return finish(CollectiveKind::AllToAll, ni, Bytes(busiest), alpha,
                bw.value > 0 ? busiest_sent / bw.value : kInf, 1, alpha, bw);
}

}  // namespace clustercost
