#include "sim/step/moe_costs.hpp"

#include <optional>
#include <algorithm>
#include <cstdint>

#include "hardware/efficiency/grouped_gemm.hpp"
#include "sim/common/input_error.hpp"
#include "sim/moe/routing.hpp"
#include "sim/network/all_to_all.hpp"
#include "sim/step/fabric_efficiency.hpp"

namespace clustercost {

namespace {

/// GPUs of one EP group: TP innermost, then the cp·dp ranks (of which EP groups are
/// consecutive blocks of ep), then pipeline stages (sim/workload/rank_layout.hpp).
std::vector<int> ep_group_gpus(const Scenario& s, int stage, int tp_rank, std::int64_t replica) {
  const auto& par = s.parallelism;
  const std::int64_t per_stage = static_cast<std::int64_t>(par.cp) * par.dp;
  std::vector<int> g(static_cast<std::size_t>(par.ep));
  for (int r = 0; r < par.ep; ++r) {
    const std::int64_t q = replica * par.ep + r;
    g[static_cast<std::size_t>(r)] =
        static_cast<int>(tp_rank + static_cast<std::int64_t>(par.tp) * (q + per_stage * stage));
  }
  return g;
}

/// Per link: how many EP groups of the whole cluster send over it (≥ 1), counting the routes
/// their all-to-all uses between nodes (inside a node each GPU's links are its own).
std::vector<double> ep_link_share(const Scenario& s, const Topology& topo, bool hierarchical) {
  const auto& par = s.parallelism;
  const int gpn = s.cluster.gpus_per_node;
  std::vector<double> share(topo.num_links(), 1.0);
  std::vector<std::uint32_t> count(topo.num_links(), 0);
  std::vector<std::uint32_t> seen(topo.num_links(), 0);
  std::uint32_t group_id = 0;
  std::vector<LinkId> route;
  const std::int64_t replicas = static_cast<std::int64_t>(par.cp) * par.dp / par.ep;
  for (int st = 0; st < par.pp; ++st)
    for (int tp = 0; tp < par.tp; ++tp)
      for (std::int64_t e = 0; e < replicas; ++e) {
        ++group_id;
        const std::vector<int> g = ep_group_gpus(s, st, tp, e);
        std::vector<int> nodes;
        for (int gpu : g) nodes.push_back(gpu / gpn);
        std::sort(nodes.begin(), nodes.end());
        nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
        if (nodes.size() < 2) continue;
        for (int src : g) {
          const int src_node = src / gpn;
          for (int dst : g) {
            const int dst_node = dst / gpn;
            if (dst_node == src_node) continue;
            // Hierarchical: scale-out only to the same local index on the target node.
            if (hierarchical && dst % gpn != src % gpn) continue;
            route.clear();
            topo.append_route(src, dst, 0, route);
            for (LinkId l : route)
              if (seen[l] != group_id) {
                seen[l] = group_id;
                ++count[l];
              }
          }
        }
      }
  for (std::size_t l = 0; l < share.size(); ++l) share[l] = std::max(1.0, static_cast<double>(count[l]));
  return share;
}

struct A2aTime {
  Seconds time;
  Bytes scale_out;
  std::string hottest;
  double utilisation = 0;
};

A2aTime run_a2a(const Topology& topo, const std::vector<int>& gpus, const Eigen::MatrixXd& bytes,
                const Eigen::MatrixXd& domain, const AllToAllOptions& o, bool flow_level) {
  A2aTime t;
  if (flow_level) {
    const AllToAllResult r = simulate_all_to_all(topo, gpus, bytes, o, domain);
    t.time = r.time;
    t.scale_out = r.scale_out_bytes;
    t.hottest = r.hottest_link_bytes.value > 0 ? r.hottest_link_name : "";
    t.utilisation = r.hottest_link_peak_utilisation;
  } else {
    const AllToAllEstimate e = estimate_all_to_all(topo, gpus, bytes, o, domain);
    t.time = e.time;
    if (e.bottleneck_bytes.value > 0) {
      t.hottest = describe_link(topo, e.bottleneck_link);
      t.utilisation = 1.0;  // the bottleneck runs at its capacity in the α-β view
    }
  }
  return t;
}

}  // namespace

bool needs_routing_samples(const Scenario& s, bool des) {
  if (!s.model.is_moe() || s.parallelism.ep <= 1) return false;
  if (des) return true;
  const auto& m = s.moe_routing;
  return m.imbalance.kind != "uniform" || m.device_limit || m.capacity_factor ||
         !m.placement_file.empty() || m.redundant_experts > 0;
}

MoeCosts moe_costs(const Scenario& s, const Topology& topo, bool flow_level, StepCache* cache) {
  if (!s.model.is_moe() || s.parallelism.ep <= 1)
    throw InputError(s.file, "parallelism.ep", "MoE costs need an MoE model with ep > 1");
  const auto& par = s.parallelism;
  const auto& moe = *s.model.moe;
  const RoutingModel routing = RoutingModel::from_scenario(s);

  int moe_layers = 0;
  for (int l = 0; l < s.model.layers; ++l) moe_layers += s.model.layer_is_moe(l) ? 1 : 0;
  int k = s.moe_routing.layer_samples == 0 ? moe_layers
                                           : std::min(moe_layers, s.moe_routing.layer_samples);
  if (s.moe_routing.imbalance.kind == "histogram") k = moe_layers;  // measured: every layer
  k = std::max(1, k);

  const std::vector<int> gpus = ep_group_gpus(s, 0, 0, 0);
  const bool hier = s.moe_routing.all_to_all == "hierarchical";
  AllToAllOptions opt;
  opt.algorithm = hier ? AllToAllAlgorithm::Hierarchical : AllToAllAlgorithm::Direct;
  opt.efficiency = fabric_efficiency(s);
  opt.share = ep_link_share(s, topo, hier);

  const double disp_tok = token_bytes(s.model.hidden, s.moe_routing.dispatch_dtype);
  const double comb_tok = token_bytes(s.model.hidden, s.moe_routing.combine_dtype);
  const double grad_tok = token_bytes(s.model.hidden, "bf16");
  const std::string prec = s.training.precision == "fp8" ? "fp8" : "bf16";
  const ExpertShape shape{s.model.hidden, moe.expert_ffn_hidden,
                          s.model.activation == Activation::SwiGlu, prec};
  const double compute_fraction =
      1.0 - static_cast<double>(par.comm_sms) / std::max(1.0, s.gpu.sms.get());

  // Layer index of each MoE layer.
  std::vector<int> layer_of;
  for (int l = 0; l < s.model.layers; ++l)
    if (s.model.layer_is_moe(l)) layer_of.push_back(l);

  MoeCosts out;
  MoeSummary& sum = out.summary;
  sum.method = flow_level ? "flow" : "alpha-beta";
  sum.all_to_all = s.moe_routing.all_to_all;
  sum.moe_layers = moe_layers;
  sum.sampled_layers = k;
  sum.ep = par.ep;
  double utilisation = -1;
  double dropped = 0;
  for (int i = 0; i < k; ++i) {
    std::optional<RoutingSample> own;
    if (!cache) own = routing.sample(i, 0);
    const RoutingSample& smp = cache ? cache->routing_sample(routing, i, 0) : *own;
    MoeLayerSample ls;
    ls.moe_layer = i;
    ls.layer = layer_of[static_cast<std::size_t>(i)];
    ls.max_rank_tokens = static_cast<double>(smp.busiest_rank_tokens());
    ls.mean_rank_tokens = smp.mean_rank_tokens();
    ls.dropped_tokens = static_cast<double>(smp.dropped);
    ls.cross_node_bytes_per_token =
        smp.cross_node_copies_per_token(s.moe_routing.node_dedup) * disp_tok;

    // Expert compute: each rank's local experts (replicas share an expert's tokens evenly).
    std::vector<std::vector<double>> local(static_cast<std::size_t>(par.ep));
    for (std::size_t e = 0; e < smp.placement.replicas.size(); ++e) {
      const auto& reps = smp.placement.replicas[e];
      const double each = static_cast<double>(smp.expert_tokens[e]) / static_cast<double>(reps.size());
      for (int r : reps) local[static_cast<std::size_t>(r)].push_back(each);
    }
    std::size_t slots = 0;
    for (const auto& v : local) slots = std::max(slots, v.size());
    Eigen::MatrixXd tokens = Eigen::MatrixXd::Zero(par.ep, static_cast<Eigen::Index>(slots));
    for (int r = 0; r < par.ep; ++r)
      for (std::size_t j = 0; j < local[static_cast<std::size_t>(r)].size(); ++j)
        tokens(r, static_cast<Eigen::Index>(j)) = local[static_cast<std::size_t>(r)][j];
    const EpComputePace pace = ep_compute_pace(s.gpu, s.profile, tokens, shape, compute_fraction);
    const Seconds busiest = pace.busiest.forward + pace.busiest.backward;
    const Seconds extra(std::max(0.0, (busiest - pace.mean_total).value));
    const double fwd_share = busiest.value > 0 ? pace.busiest.forward.value / busiest.value : 0.5;
    MoeCosts::LayerCost c;
    c.expert_fwd_extra = extra * fwd_share;
    c.expert_bwd_extra = extra * (1.0 - fwd_share);
    ls.expert_fwd_busiest = pace.busiest.forward;
    ls.expert_fwd_mean = pace.mean_total * fwd_share;

    // All-to-alls: dispatch src → expert ranks, combine back (transposed).
    const Eigen::MatrixXd copies = smp.tokens.cast<double>();
    Eigen::MatrixXd domain;
    if (hier && s.moe_routing.node_dedup) domain = smp.node_tokens.cast<double>();
    AllToAllOptions d = opt;
    d.order = HierarchicalOrder::ScaleOutFirst;
    AllToAllOptions cmb = opt;
    cmb.order = HierarchicalOrder::ScaleUpFirst;
    const A2aTime dispatch = run_a2a(topo, gpus, copies * disp_tok,
                                     domain.size() ? Eigen::MatrixXd(domain * disp_tok) : domain,
                                     d, flow_level);
    const A2aTime combine = run_a2a(topo, gpus, Eigen::MatrixXd(copies.transpose() * comb_tok),
                                    domain.size() ? Eigen::MatrixXd(domain * comb_tok) : domain,
                                    cmb, flow_level);
    ls.dispatch = dispatch.time;
    ls.combine = combine.time;
    ls.scale_out_bytes = dispatch.scale_out + combine.scale_out;
    ls.hottest_link = dispatch.hottest;
    ls.hottest_link_utilisation = dispatch.utilisation;
    c.ep_fwd = dispatch.time + combine.time;
    // Gradients: same routes and shares, BF16 bytes (see the header).
    c.ep_bwd = dispatch.time * (grad_tok / disp_tok) + combine.time * (grad_tok / comb_tok);
    if (dispatch.utilisation > utilisation) {
      utilisation = dispatch.utilisation;
      sum.hottest_link = dispatch.hottest;
      sum.hottest_link_utilisation = dispatch.utilisation;
    }
    if (i == 0) {
      const Eigen::MatrixXd b = copies * disp_tok;
      sum.traffic_bytes.reserve(static_cast<std::size_t>(b.size()));
      for (Eigen::Index r = 0; r < b.rows(); ++r)
        for (Eigen::Index q = 0; q < b.cols(); ++q) sum.traffic_bytes.push_back(b(r, q));
    }
    sum.max_rank_tokens += ls.max_rank_tokens / k;
    sum.mean_rank_tokens += ls.mean_rank_tokens / k;
    sum.cross_node_bytes_per_token += ls.cross_node_bytes_per_token / k;
    sum.dispatch += ls.dispatch / k;
    sum.combine += ls.combine / k;
    sum.ep_time_per_layer += (c.ep_fwd + c.ep_bwd) / k;
    sum.expert_imbalance_per_layer += extra / k;
    dropped += ls.dropped_tokens;
    out.cost.push_back(c);
    out.samples.push_back(ls);
  }
  // Every MoE layer drops like its sample; every EP group and micro-batch alike.
  const double groups = static_cast<double>(s.cluster.gpus) / par.ep;
  double per_layer_dropped = dropped / k;
  sum.dropped_tokens_per_step =
      per_layer_dropped * moe_layers * groups * static_cast<double>(s.micro_batches());
  const double copies_per_layer = static_cast<double>(routing.setup().tokens_per_rank) *
                                  moe.top_k * par.ep;
  sum.dropped_fraction = copies_per_layer > 0 ? per_layer_dropped / copies_per_layer : 0.0;
  sum.layers = out.samples;
  return out;
}

}  // namespace clustercost
