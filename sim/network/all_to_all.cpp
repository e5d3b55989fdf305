#include "sim/network/all_to_all.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "sim/common/value_bytes.hpp"
#include "sim/engine/engine.hpp"
#include "sim/network/flow_model.hpp"

namespace clustercost {

namespace {

constexpr LinkId kNoLink = std::numeric_limits<LinkId>::max();

bool is_scale_out(LinkKind k) {
  return k == LinkKind::Pcie || k == LinkKind::NicLeaf || k == LinkKind::LeafSpine ||
         k == LinkKind::SpineCore;
}

/// One transfer of the plan, between GPUs.
struct PlannedFlow {
  int src = 0;
  int dst = 0;
  double bytes = 0.0;
  /// A hierarchical second-phase transfer that forwards data received in the first phase.
  bool forwarded = false;
};

struct Plan {
  std::vector<PlannedFlow> flows;
};

/// The EP ranks' positions: GPU → rank index, and each rank's column in domain_bytes.
struct Ranks {
  std::vector<int> gpu_rank;  // -1 for GPUs that are not EP ranks
  std::vector<int> domains;   // ep_domains()
  std::vector<int> rank_domain_index;
};

Ranks index_ranks(const Topology& topo, std::span<const int> rank_gpu) {
  Ranks r;
  r.gpu_rank.assign(static_cast<std::size_t>(topo.num_gpus()), -1);
  for (std::size_t i = 0; i < rank_gpu.size(); ++i) {
    const int g = rank_gpu[i];
    if (g < 0 || g >= topo.num_gpus())
      throw std::invalid_argument("all-to-all: GPU " + std::to_string(g) +
                                  " is not in a cluster of " + std::to_string(topo.num_gpus()) +
                                  " GPUs");
    if (r.gpu_rank[static_cast<std::size_t>(g)] >= 0)
      throw std::invalid_argument("all-to-all: GPU " + std::to_string(g) + " appears twice");
    r.gpu_rank[static_cast<std::size_t>(g)] = static_cast<int>(i);
  }
  r.domains = ep_domains(topo, rank_gpu);
  for (int g : rank_gpu) {
    const auto it = std::lower_bound(r.domains.begin(), r.domains.end(), topo.domain_of(g));
    r.rank_domain_index.push_back(static_cast<int>(it - r.domains.begin()));
  }
  return r;
}

void check_matrix(const Eigen::MatrixXd& m, Eigen::Index rows, Eigen::Index cols,
                  const char* what) {
  if (m.rows() != rows || m.cols() != cols)
    throw std::invalid_argument(std::string("all-to-all: ") + what + " is " +
                                std::to_string(m.rows()) + "×" + std::to_string(m.cols()) +
                                ", expected " + std::to_string(rows) + "×" +
                                std::to_string(cols));
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j)
      if (!std::isfinite(m(i, j)) || m(i, j) < 0.0)
        throw std::invalid_argument(std::string("all-to-all: ") + what +
                                    " entries must be finite and >= 0");
}

void check_options(const Topology& topo, const AllToAllOptions& o) {
  check(o.efficiency);
  if (!std::isfinite(o.dedup_factor) || o.dedup_factor < 1.0)
    throw std::invalid_argument("all-to-all: dedup_factor must be finite and >= 1");
  if (!std::isfinite(o.pipeline_chunk.value) || o.pipeline_chunk.value < 0.0)
    throw std::invalid_argument("all-to-all: pipeline_chunk must be finite and >= 0");
  if (!o.share.empty() && o.share.size() != topo.num_links())
    throw std::invalid_argument("all-to-all: share must have one entry per topology link");
  for (double s : o.share)
    if (!std::isfinite(s) || s <= 0.0)
      throw std::invalid_argument("all-to-all: share entries must be finite and > 0");
}

/// Builds the transfers of the chosen algorithm (deterministic order: pairs ascending).
Plan make_plan(const Topology& topo, std::span<const int> rank_gpu, const Eigen::MatrixXd& bytes,
               const AllToAllOptions& o, const Eigen::MatrixXd& domain_bytes, const Ranks& ranks) {
  const auto n = static_cast<Eigen::Index>(rank_gpu.size());
  check_matrix(bytes, n, n, "the byte matrix");
  const bool has_domain_bytes = domain_bytes.size() > 0;
  if (has_domain_bytes)
    check_matrix(domain_bytes, n, static_cast<Eigen::Index>(ranks.domains.size()),
                 "domain_bytes");
  Plan plan;
  auto gpu = [&](Eigen::Index i) { return rank_gpu[static_cast<std::size_t>(i)]; };

  if (o.algorithm == AllToAllAlgorithm::Direct) {
    for (Eigen::Index s = 0; s < n; ++s)
      for (Eigen::Index d = 0; d < n; ++d)
        if (s != d && bytes(s, d) > 0.0) plan.flows.push_back({gpu(s), gpu(d), bytes(s, d), false});
    return plan;
  }

  const int ds = topo.config().scale_up.domain_size;
  auto relay = [&](int domain, int gpu_for_local) {
    return domain * ds + gpu_for_local % ds;
  };
  const bool out_first = o.order == HierarchicalOrder::ScaleOutFirst;
  struct Acc {
    double bytes = 0.0;
    bool forwarded = false;
  };
  std::map<std::pair<int, int>, Acc> up;   // scale-up transfers, by (src GPU, dst GPU)
  std::map<std::pair<int, int>, Acc> out;  // scale-out transfers
  for (Eigen::Index s = 0; s < n; ++s) {
    for (Eigen::Index d = 0; d < n; ++d) {
      const double b = bytes(s, d);
      if (s == d || b <= 0.0) continue;
      const int gs = gpu(s), gd = gpu(d);
      if (topo.same_domain(gs, gd)) {
        up[{gs, gd}].bytes += b;
      } else if (out_first) {
        // Dispatch: the relay of gd's domain on gs's rail forwards to gd.
        const int r = relay(topo.domain_of(gd), gs);
        if (r != gd) {
          Acc& a = up[{r, gd}];
          a.bytes += b;
          a.forwarded = true;
        }
      } else {
        // Combine: gs sends to the relay of its own domain on gd's rail, which reduces.
        const int r = relay(topo.domain_of(gs), gd);
        if (r != gs) up[{gs, r}].bytes += b;
      }
    }
  }
  // Scale-out: between rank i and each other domain, rail-aligned.
  for (Eigen::Index i = 0; i < n; ++i) {
    const int gi = gpu(i);
    for (std::size_t k = 0; k < ranks.domains.size(); ++k) {
      const int dom = ranks.domains[k];
      if (dom == topo.domain_of(gi)) continue;
      double b = 0.0;
      if (has_domain_bytes) {
        b = domain_bytes(i, static_cast<Eigen::Index>(k));
      } else {
        for (Eigen::Index j = 0; j < n; ++j)
          if (ranks.rank_domain_index[static_cast<std::size_t>(j)] == static_cast<int>(k))
            b += out_first ? bytes(i, j) : bytes(j, i);
        b /= o.dedup_factor;
      }
      if (b <= 0.0) continue;
      const int r = relay(dom, gi);
      Acc& a = out_first ? out[{gi, r}] : out[{r, gi}];
      a.bytes += b;
      a.forwarded = !out_first;
    }
  }
  for (const auto& [key, a] : out) plan.flows.push_back({key.first, key.second, a.bytes, a.forwarded});
  for (const auto& [key, a] : up) plan.flows.push_back({key.first, key.second, a.bytes, a.forwarded});
  return plan;
}

double link_capacity(const Topology& topo, LinkId l, const AllToAllOptions& o) {
  const double share = o.share.empty() ? 1.0 : std::max(1.0, o.share[l]);
  return effective_bandwidth(topo.link(l), o.efficiency) / share;
}

/// Pipeline fill of a hierarchical all-to-all: one chunk over the slowest forwarded route.
Seconds pipeline_fill(const Topology& topo, const Plan& plan, const AllToAllOptions& o) {
  if (o.algorithm != AllToAllAlgorithm::Hierarchical) return Seconds(0.0);
  double fill = 0.0;
  std::vector<LinkId> route;
  for (const PlannedFlow& f : plan.flows) {
    if (!f.forwarded) continue;
    route.clear();
    topo.append_route(f.src, f.dst, 0, route);
    double rate = std::numeric_limits<double>::infinity();
    for (LinkId l : route) rate = std::min(rate, link_capacity(topo, l, o));
    const double chunk = std::min(o.pipeline_chunk.value, f.bytes);
    fill = std::max(fill, topo.latency(route).seconds().value + chunk / rate);
  }
  return Seconds(fill);
}

/// Records each flow's end time.
class EndRecorder final : public CompletionSink {
 public:
  explicit EndRecorder(std::vector<SimTime>& ends) : ends_(ends) {}
  void on_complete(std::uint64_t token, Engine& engine) override {
    ends_[static_cast<std::size_t>(token)] = engine.now();
  }

 private:
  std::vector<SimTime>& ends_;
};

}  // namespace

const char* to_string(AllToAllAlgorithm a) {
  return a == AllToAllAlgorithm::Direct ? "direct" : "hierarchical";
}

std::optional<AllToAllAlgorithm> all_to_all_algorithm_from_string(const std::string& name) {
  if (name == "direct") return AllToAllAlgorithm::Direct;
  if (name == "hierarchical") return AllToAllAlgorithm::Hierarchical;
  return std::nullopt;
}

std::vector<int> ep_domains(const Topology& topo, std::span<const int> rank_gpu) {
  std::vector<int> d;
  for (int g : rank_gpu) d.push_back(topo.domain_of(g));
  std::sort(d.begin(), d.end());
  d.erase(std::unique(d.begin(), d.end()), d.end());
  return d;
}

std::string describe_link(const Topology& topo, LinkId id) {
  const Link& l = topo.link(id);
  auto vertex = [&](VertexId v) {
    const VertexKind k = topo.vertex_kind(v);
    std::size_t ordinal = 0;
    if (k == VertexKind::Gpu) {
      ordinal = v;  // vertex id = GPU id
    } else {
      for (VertexId u = 0; u < v; ++u)
        if (topo.vertex_kind(u) == k) ++ordinal;
    }
    return std::string(to_string(k)) + " " + std::to_string(ordinal);
  };
  return vertex(l.from) + " → " + vertex(l.to) + " (" + to_string(l.kind) + ")";
}

AllToAllResult simulate_all_to_all(const Topology& topo, std::span<const int> rank_gpu,
                                   const Eigen::MatrixXd& bytes, const AllToAllOptions& options,
                                   const Eigen::MatrixXd& domain_bytes) {
  check_options(topo, options);
  const Ranks ranks = index_ranks(topo, rank_gpu);
  const Plan plan = make_plan(topo, rank_gpu, bytes, options, domain_bytes, ranks);
  const auto n = static_cast<Eigen::Index>(rank_gpu.size());

  AllToAllResult r;
  r.send_bytes.assign(rank_gpu.size(), Bytes(0.0));
  r.recv_bytes.assign(rank_gpu.size(), Bytes(0.0));
  r.rank_done.assign(rank_gpu.size(), Seconds(0.0));
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) {
      if (i == j) continue;
      r.send_bytes[static_cast<std::size_t>(i)] += Bytes(bytes(i, j));
      r.recv_bytes[static_cast<std::size_t>(j)] += Bytes(bytes(i, j));
    }
  }
  r.flows = plan.flows.size();
  if (plan.flows.empty()) return r;

  Engine engine;
  std::vector<SimTime> ends(plan.flows.size(), SimTime::zero());
  EndRecorder recorder(ends);
  std::vector<LinkId> flow_link(topo.num_links(), kNoLink);
  std::vector<LinkId> used;  // topology links, in first-use order
  std::vector<double> load(topo.num_links(), 0.0);
  {
    FlowModel model(engine);
    std::vector<LinkId> route, path;
    for (std::size_t f = 0; f < plan.flows.size(); ++f) {
      const PlannedFlow& p = plan.flows[f];
      route.clear();
      topo.append_route(p.src, p.dst, 0, route);
      path.clear();
      bool out = false, up = false;
      for (LinkId l : route) {
        if (flow_link[l] == kNoLink) {
          flow_link[l] = model.add_link(link_capacity(topo, l, options), topo.link(l).latency);
          used.push_back(l);
        }
        path.push_back(flow_link[l]);
        load[l] += p.bytes;
        out = out || is_scale_out(topo.link(l).kind);
        up = up || is_scale_up(topo.link(l).kind);
      }
      if (out) r.scale_out_bytes += Bytes(p.bytes);
      if (up) r.scale_up_bytes += Bytes(p.bytes);
      model.start_flow(Bytes(p.bytes), path, &recorder, f);
    }
    engine.run();
    r.recomputations = model.stats().recomputations;

    SimTime makespan = SimTime::zero();
    for (std::size_t f = 0; f < ends.size(); ++f) {
      makespan = std::max(makespan, ends[f]);
      const int rank = ranks.gpu_rank[static_cast<std::size_t>(plan.flows[f].dst)];
      if (rank >= 0) {
        Seconds& done = r.rank_done[static_cast<std::size_t>(rank)];
        done = std::max(done, ends[f].seconds());
      }
    }
    const double span = makespan.seconds().value;
    r.time = makespan.seconds() + pipeline_fill(topo, plan, options) +
             options.efficiency.step_overhead;

    std::sort(used.begin(), used.end());
    double worst = -1.0;
    for (LinkId l : used) {
      r.link_bytes.emplace_back(l, Bytes(load[l]));
      const double drain = load[l] / link_capacity(topo, l, options);
      if (drain > worst) {
        worst = drain;
        r.hottest_link = l;
      }
    }
    const LinkStats st = model.link_stats(flow_link[r.hottest_link]);
    r.hottest_link_bytes = Bytes(load[r.hottest_link]);
    r.hottest_link_peak_utilisation = st.peak_utilisation;
    r.hottest_link_mean_utilisation = span > 0.0 ? worst / span : 0.0;
    r.hottest_link_name = describe_link(topo, r.hottest_link);
  }
  r.fingerprint = engine.fingerprint();
  Seconds latest(-1.0);
  for (std::size_t i = 0; i < r.rank_done.size(); ++i)
    if (r.rank_done[i] > latest) {
      latest = r.rank_done[i];
      r.hottest_rank = static_cast<int>(i);
    }
  return r;
}

AllToAllEstimate estimate_all_to_all(const Topology& topo, std::span<const int> rank_gpu,
                                     const Eigen::MatrixXd& bytes, const AllToAllOptions& options,
                                     const Eigen::MatrixXd& domain_bytes) {
  check_options(topo, options);
  const Ranks ranks = index_ranks(topo, rank_gpu);
  const Plan plan = make_plan(topo, rank_gpu, bytes, options, domain_bytes, ranks);
  AllToAllEstimate e;
  if (plan.flows.empty()) return e;
  std::vector<double> load(topo.num_links(), 0.0);
  std::vector<LinkId> route;
  SimTime alpha = SimTime::zero();
  for (const PlannedFlow& p : plan.flows) {
    route.clear();
    topo.append_route(p.src, p.dst, 0, route);
    alpha = std::max(alpha, topo.latency(route));
    for (LinkId l : route) load[l] += p.bytes;
  }
  double worst = 0.0;
  for (std::size_t l = 0; l < load.size(); ++l) {
    if (load[l] <= 0.0) continue;
    const double t = load[l] / link_capacity(topo, static_cast<LinkId>(l), options);
    if (t > worst) {
      worst = t;
      e.bottleneck_link = static_cast<LinkId>(l);
      e.bottleneck_bytes = Bytes(load[l]);
    }
  }
  e.alpha = alpha.seconds() + options.efficiency.step_overhead;
  e.bandwidth_term = Seconds(worst);
  e.pipeline_fill = pipeline_fill(topo, plan, options);
  e.time = e.alpha + e.bandwidth_term + e.pipeline_fill;
  return e;
}

// ---- DeepEP benchmark traffic ------------------------------------------------------------

double token_bytes(int hidden, const std::string& dtype) {
  if (hidden <= 0) throw std::invalid_argument("token_bytes: hidden must be > 0");
  // DeepEP per_token_cast_to_fp8 (tests: fp8_factor) is sim/common/value_bytes.hpp's fp8.
  return hidden * bytes_per_value(dtype);
}

namespace {

/// Uniform integer in [0, n) from raw 64-bit draws (std distributions differ between standard
/// libraries; the engine does not). Rejection removes the modulo bias.
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t threshold = (0 - n) % n;
  for (;;) {
    const std::uint64_t x = rng();
    if (x >= threshold) return x % n;
  }
}

}  // namespace

EpTokenCounts deepep_routing(const DeepEpRouting& routing, int ranks, int ranks_per_domain) {
  if (ranks < 1 || ranks_per_domain < 1 || ranks % ranks_per_domain != 0)
    throw std::invalid_argument("deepep_routing: ranks must be a positive multiple of "
                                "ranks_per_domain");
  const int domains = ranks / ranks_per_domain;
  const int experts = routing.experts;
  if (experts < 1 || experts % ranks != 0)
    throw std::invalid_argument("deepep_routing: experts must be a positive multiple of ranks");
  const int groups = routing.topk_groups > 0 ? routing.topk_groups : std::min(domains, 4);
  if (groups > domains)
    throw std::invalid_argument("deepep_routing: topk_groups exceeds the domains");
  const int per_rank = experts / ranks;
  const int per_domain = experts / domains;
  if (routing.top_k < 1 || routing.top_k > groups * per_domain)
    throw std::invalid_argument("deepep_routing: top_k must be in [1, experts of the groups]");
  if (routing.tokens < 0) throw std::invalid_argument("deepep_routing: tokens must be >= 0");

  EpTokenCounts c;
  c.rank_tokens = Eigen::MatrixXd::Zero(ranks, ranks);
  c.domain_tokens = Eigen::MatrixXd::Zero(ranks, domains);
  c.expert_tokens = Eigen::MatrixXd::Zero(ranks, experts);
  std::mt19937_64 rng(routing.seed);
  std::vector<int> domain_order(static_cast<std::size_t>(domains));
  std::vector<int> candidates;
  std::vector<int> hit_rank, hit_domain;
  for (int src = 0; src < ranks; ++src) {
    for (int t = 0; t < routing.tokens; ++t) {
      // The top `groups` of i.i.d. group scores: a uniformly random subset (partial shuffle).
      std::iota(domain_order.begin(), domain_order.end(), 0);
      candidates.clear();
      for (int g = 0; g < groups; ++g) {
        const auto pick = g + static_cast<int>(uniform_below(
                                  rng, static_cast<std::uint64_t>(domains - g)));
        std::swap(domain_order[static_cast<std::size_t>(g)],
                  domain_order[static_cast<std::size_t>(pick)]);
        const int dom = domain_order[static_cast<std::size_t>(g)];
        for (int e = 0; e < per_domain; ++e) candidates.push_back(dom * per_domain + e);
      }
      // The top-k of i.i.d. expert scores among them: a uniformly random k-subset.
      hit_rank.clear();
      hit_domain.clear();
      const int m = static_cast<int>(candidates.size());
      for (int k = 0; k < routing.top_k; ++k) {
        const auto pick =
            k + static_cast<int>(uniform_below(rng, static_cast<std::uint64_t>(m - k)));
        std::swap(candidates[static_cast<std::size_t>(k)],
                  candidates[static_cast<std::size_t>(pick)]);
        const int e = candidates[static_cast<std::size_t>(k)];
        c.expert_tokens(src, e) += 1.0;
        hit_rank.push_back(e / per_rank);
        hit_domain.push_back(e / per_domain);
      }
      std::sort(hit_rank.begin(), hit_rank.end());
      hit_rank.erase(std::unique(hit_rank.begin(), hit_rank.end()), hit_rank.end());
      for (int r : hit_rank) c.rank_tokens(src, r) += 1.0;
      std::sort(hit_domain.begin(), hit_domain.end());
      hit_domain.erase(std::unique(hit_domain.begin(), hit_domain.end()), hit_domain.end());
      for (int d : hit_domain) c.domain_tokens(src, d) += 1.0;
    }
  }
  return c;
}

DeepEpBandwidth deepep_bandwidth(const Topology& topo, std::span<const int> rank_gpu,
                                 const DeepEpBenchmark& bench, const FabricEfficiency& efficiency) {
  if (rank_gpu.empty()) throw std::invalid_argument("deepep_bandwidth: no ranks");
  const std::vector<int> domains = ep_domains(topo, rank_gpu);
  const int n = static_cast<int>(rank_gpu.size());
  if (n % static_cast<int>(domains.size()) != 0)
    throw std::invalid_argument("deepep_bandwidth: ranks must be whole domains, node-major");
  const int per_domain = n / static_cast<int>(domains.size());
  for (int i = 0; i < n; ++i)
    if (topo.domain_of(rank_gpu[static_cast<std::size_t>(i)]) !=
        domains[static_cast<std::size_t>(i / per_domain)])
      throw std::invalid_argument("deepep_bandwidth: ranks must be whole domains, node-major");
  const EpTokenCounts c = deepep_routing(bench.routing, n, per_domain);
  const double tb_dispatch = token_bytes(bench.hidden, bench.dispatch_dtype);
  const double tb_combine = token_bytes(bench.hidden, bench.combine_dtype);

  DeepEpBandwidth out;
  out.internode = domains.size() > 1;
  AllToAllOptions o;
  o.algorithm = AllToAllAlgorithm::Hierarchical;
  o.efficiency = efficiency;
  o.order = HierarchicalOrder::ScaleOutFirst;
  out.dispatch = simulate_all_to_all(topo, rank_gpu, c.rank_tokens * tb_dispatch, o,
                                     c.domain_tokens * tb_dispatch);
  o.order = HierarchicalOrder::ScaleUpFirst;
  // Combine returns what dispatch brought: the transpose, one reduced copy per (token, domain).
  const Eigen::MatrixXd back = c.rank_tokens.transpose() * tb_combine;
  out.combine = simulate_all_to_all(topo, rank_gpu, back, o, c.domain_tokens * tb_combine);

  const double tokens0 = out.internode ? c.domain_tokens.row(0).sum() : c.rank_tokens.col(0).sum();
  out.dispatch_bytes = Bytes(tokens0 * tb_dispatch);
  out.combine_bytes = Bytes(tokens0 * tb_combine);
  if (out.dispatch.time.value > 0)
    out.dispatch_gbs = out.dispatch_bytes.value / out.dispatch.time.value / 1e9;
  if (out.combine.time.value > 0)
    out.combine_gbs = out.combine_bytes.value / out.combine.time.value / 1e9;
  return out;
}

}  // namespace clustercost
