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
                        {"scale_up_gbs_uni", c.network.scale_up_gbs_uni},
                        {"in_switch_reduction", c.network.in_switch_reduction}};
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
  j["software"] = software_to_json(s.software);
  const auto& t = s.training;
  j["training"] = {{"seq_len", t.seq_len}, {"global_batch", t.global_batch},
                   {"tokens", t.tokens}, {"precision", t.precision},
                   {"optimizer_moments", t.optimizer_moments}, {"grad_dtype", t.grad_dtype}};
  if (t.batch_ramp)
    j["training"]["batch_ramp"] = {{"start_batch", t.batch_ramp->start_batch},
                                   {"tokens", t.batch_ramp->tokens}};
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
                        {"combine_dtype", m.combine_dtype},
                        {"placement", m.placement_file.empty() ? Json(nullptr) : Json(m.placement_file)},
                        {"redundant_experts", m.redundant_experts},
                        {"node_dedup", m.node_dedup},
                        {"all_to_all", m.all_to_all},
                        {"layer_samples", m.layer_samples}};
  }
  const auto& ec = s.economics;
  j["economics"] = {{"model", ec.model},
                    {"gpu_hour_usd", ec.gpu_hour_usd},
                    {"usd_per_kwh", ec.usd_per_kwh},
                    {"pue", ec.pue},
                    {"purchase_usd", ec.purchase_usd},
                    {"server_share_usd", ec.server_share_usd},
                    {"network_share_usd", ec.network_share_usd},
                    {"lifetime_years", ec.lifetime_years},
                    {"idle_power_fraction", ec.idle_power_fraction},
                    {"co2_kg_per_kwh", opt(ec.co2_kg_per_kwh)}};
  const auto& rel = s.reliability;
  Json rates = Json::object();
  for (int k = 0; k < kFailureClassCount; ++k)
    rates[failure_class_name(static_cast<FailureClass>(k))] =
        rel.failure_rates_per_hour[static_cast<std::size_t>(k)];
  j["reliability"] = {{"gpu_mtbf_hours", rel.gpu_mtbf_hours},
                      {"failure_rates_per_hour", rates},
                      {"checkpoint_interval_min", rel.checkpoint_interval_min},
                      {"checkpoint_write_min", rel.checkpoint_write_min},
                      {"storage_gbs", rel.storage_gbs},
                      {"restart_min", rel.restart_min},
                      {"spare_nodes", rel.spare_nodes},
                      {"repair_hours", rel.repair_hours},
                      {"replicas", rel.replicas}};
  j["simulation"] = {{"fidelity", s.simulation.fidelity}, {"seed", s.simulation.seed}};
  if (s.simulation.ranks != "auto") j["simulation"]["ranks"] = s.simulation.ranks;
  return j;
}

}  // namespace clustercost
