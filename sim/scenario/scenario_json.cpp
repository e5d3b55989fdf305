#include "sim/scenario/scenario.hpp"

namespace clustercost {

namespace {
Json opt(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }
Json opt(const std::optional<int>& v) { return v ? Json(*v) : Json(nullptr); }
}  // namespace

Json scenario_to_json(const Scenario& s) {
  Json j;
  j["name"] = s.name;
  j["description"] = s.description;
  j["model"] = s.model_ref == "inline" ? model_spec_to_json(s.model) : Json(s.model_ref);
  const auto& c = s.cluster;
  Json cluster;
  cluster["gpu"] = c.gpu;
  cluster["gpus"] = c.gpus;
  cluster["gpus_per_node"] = c.gpus_per_node;
  cluster["node"] = c.node;
  cluster["network"] = {{"topology", c.network.topology},
                        {"tiers", c.network.tiers},
                        {"oversubscription", c.network.oversubscription},
                        {"scale_out_gbps_per_gpu", c.network.scale_out_gbps_per_gpu},
                        {"scale_up_gbs_uni", c.network.scale_up_gbs_uni}};
  if (c.network_overrides.leaf_radix) cluster["network"]["leaf_radix"] = *c.network_overrides.leaf_radix;
  if (c.network_overrides.cross_rail_via_scale_up)
    cluster["network"]["cross_rail"] = *c.network_overrides.cross_rail_via_scale_up ? "scale-up" : "spine";
  cluster["profile"] = c.profile;
  if (!c.pools.empty()) {
    Json pools = Json::array();
    for (const auto& p : c.pools) {
      Json pj = {{"gpu", p.gpu}, {"count", p.count}};
      if (p.gpu_hour_usd) pj["gpu_hour_usd"] = *p.gpu_hour_usd;
      if (p.purchase_usd) pj["purchase_usd"] = *p.purchase_usd;
      if (!p.available_from.empty()) pj["available_from"] = p.available_from;
      if (!p.frozen_after.empty()) pj["frozen_after"] = p.frozen_after;
      pools.push_back(pj);
    }
    cluster["pools"] = pools;
  }
  j["cluster"] = cluster;
  const auto& p = s.parallelism;
  j["parallelism"] = {{"tp", p.tp}, {"cp", p.cp}, {"pp", p.pp}, {"dp", p.dp}, {"ep", p.ep},
                      {"vpp", p.vpp}, {"schedule", schedule_name(p.schedule)},
                      {"micro_batch", p.micro_batch}, {"zero", p.zero},
                      {"sequence_parallel", p.sequence_parallel},
                      {"recompute", recompute_name(p.recompute)},
                      {"recompute_modules", p.recompute_modules}, {"comm_sms", p.comm_sms}};
  const auto& t = s.training;
  j["training"] = {{"seq_len", t.seq_len}, {"global_batch", t.global_batch},
                   {"tokens", t.tokens}, {"precision", t.precision},
                   {"optimizer_moments", t.optimizer_moments}, {"grad_dtype", t.grad_dtype}};
  if (s.model.is_moe()) {
    const auto& m = s.moe_routing;
    Json imb = {{"kind", m.imbalance.kind}};
    if (m.imbalance.kind == "zipf") imb["s"] = m.imbalance.zipf_s;
    if (m.imbalance.kind == "dirichlet") imb["alpha"] = m.imbalance.dirichlet_alpha;
    if (m.imbalance.kind == "histogram") imb["file"] = m.imbalance.histogram_file;
    j["moe_routing"] = {{"imbalance", imb},
                        {"node_limit", opt(m.node_limit)},
                        {"device_limit", opt(m.device_limit)},
                        {"capacity_factor", opt(m.capacity_factor)},
                        {"dispatch_dtype", m.dispatch_dtype},
                        {"combine_dtype", m.combine_dtype}};
  }
  j["economics"] = {{"gpu_hour_usd", s.economics.gpu_hour_usd},
                    {"usd_per_kwh", s.economics.usd_per_kwh},
                    {"pue", s.economics.pue}};
  j["reliability"] = {{"gpu_mtbf_hours", s.reliability.gpu_mtbf_hours},
                      {"checkpoint_interval_min", s.reliability.checkpoint_interval_min},
                      {"checkpoint_write_min", s.reliability.checkpoint_write_min},
                      {"restart_min", s.reliability.restart_min}};
  j["simulation"] = {{"fidelity", s.simulation.fidelity}, {"seed", s.simulation.seed}};
  return j;
}

}  // namespace clustercost
