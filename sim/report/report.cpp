#include "sim/report/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <map>
#include <optional>
#include <sstream>

#include "sim/campaign/campaign.hpp"
#include "sim/step/analytical_step.hpp"
#include "sim/workload/des_step.hpp"

#ifndef CLUSTERCOST_VERSION
#define CLUSTERCOST_VERSION "0.0.0"
#endif

namespace clustercost {

std::string clustercost_version() { return CLUSTERCOST_VERSION; }

StepResult simulate_step(const Scenario& s, StepCache* cache) {
  if (s.simulation.fidelity == "des") return simulate_step_des(s);
  return cache ? simulate_step_analytical(s, *cache) : simulate_step_analytical(s);
}

Report run_scenario(const Scenario& s) { return run_scenario(s, nullptr); }

Report run_scenario(const Scenario& s, StepCache* cache) {
  return run_scenario_with_step(s, simulate_step(s, cache), cache);
}

Report run_scenario_with_step(const Scenario& s, StepResult step, StepCache* cache) {
  // One step model call; the analytical one reuses the cache's topology and routing samples.
  const auto step_of = [cache](const Scenario& sc) { return simulate_step(sc, cache); };
  Report r;
  r.scenario = s;
  r.version = clustercost_version();
  r.params = count_parameters(s.model);
  r.step = std::move(step);
  // The DES states how it scaled the problem ("des: simulated the pipeline of replica 0 ..."):
  // information for the report, not a warning.
  for (const auto& w : r.step.warnings) {
    if (w.rfind("des:", 0) == 0) r.scenario.notes.push_back(w);
    else r.warnings.push_back(w);
  }
  // A batch ramp needs the step at a second (smaller) batch: step time is affine in it.
  std::optional<StepResult> ramp_probe;
  if (auto batch = ramp_probe_batch(s)) {
    Scenario probe = s;
    probe.training.global_batch = *batch;
    ramp_probe = step_of(probe);
  }
  r.run = run_campaign(s, r.step, ramp_probe ? &*ramp_probe : nullptr);
  r.cost = estimate_cost(s, r.step, r.run);
  return r;
}

double round_significant6(double v) {
  if (v == 0 || !std::isfinite(v)) return v;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return std::strtod(buf, nullptr);
}

namespace {

double sig(double v) { return round_significant6(v); }

Json breakdown_json(const StepBreakdown& b) {
  return {{"compute", sig(b.compute.value)},
          {"exposed_tp_comm", sig(b.exposed_tp_comm.value)},
          {"exposed_ep_comm", sig(b.exposed_ep_comm.value)},
          {"exposed_pp_comm", sig(b.exposed_pp_comm.value)},
          {"exposed_dp_comm", sig(b.exposed_dp_comm.value)},
          {"bubble", sig(b.bubble.value)},
          {"optimizer", sig(b.optimizer.value)}};
}

std::string fmt(double v, int prec = 3) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(prec) << v;
  return os.str();
}

std::string human(double v) {
  const char* units[] = {"", "K", "M", "B", "T", "P"};
  int u = 0;
  while (std::fabs(v) >= 1000 && u < 5) {
    v /= 1000;
    ++u;
  }
  return fmt(v, v < 10 ? 2 : 1) + units[u];
}

Json dist_json(const Distribution& d) {
  return {{"mean", sig(d.mean)}, {"p10", sig(d.p10)}, {"p50", sig(d.p50)}, {"p90", sig(d.p90)}};
}

Json finite_or_null(double v) { return std::isfinite(v) ? Json(sig(v)) : Json(nullptr); }

// `run`: the DESIGN.md keys (Monte Carlo means when there are replicas), then the campaign's
// details: distributions over replicas, the mean time budget, interruptions by class.
Json run_json(const RunResult& run) {
  Json j = {{"steps", run.steps},
            {"wall_days", sig(run.wall_days)},
            {"gpu_hours", sig(run.gpu_hours)},
            {"interruptions", sig(run.interruptions)},
            {"goodput", sig(run.goodput)},
            {"compute_days", sig(run.compute_time.value / 86400.0)},
            {"checkpoint_interval_min", sig(run.checkpoint_interval.value / 60.0)},
            {"model", run.model},
            {"replicas", run.replicas},
            {"checkpoint_write_s", sig(run.checkpoint_write.value)},
            {"checkpoint_gb", sig(run.checkpoint_gb)},
            {"job_mtbf_hours", finite_or_null(run.job_mtbf.value / 3600.0)}};
  if (run.ramp_steps > 0)
    j["batch_ramp"] = {{"steps", run.ramp_steps}, {"compute_days", sig(run.ramp_time.value / 86400.0)}};
  if (run.replicas > 0) {
    j["distribution"] = {{"wall_days", dist_json(run.wall_days_dist)},
                         {"gpu_hours", dist_json(run.gpu_hours_dist)},
                         {"interruptions", dist_json(run.interruptions_dist)},
                         {"goodput", dist_json(run.goodput_dist)}};
    j["mean_days"] = {{"compute", sig(run.compute_time.value / 86400.0)},
                      {"checkpointing", sig(run.mean_checkpointing.value / 86400.0)},
                      {"lost_work", sig(run.mean_lost_work.value / 86400.0)},
                      {"restarting", sig(run.mean_restarting.value / 86400.0)},
                      {"waiting_for_spares", sig(run.mean_waiting.value / 86400.0)}};
    j["lost_work_min_per_interruption"] = sig(run.lost_work_per_interruption.value / 60.0);
    Json by = Json::object();
    for (int c = 0; c < kFailureClassCount; ++c)
      by[failure_class_name(static_cast<FailureClass>(c))] =
          sig(run.mean_by_class[static_cast<std::size_t>(c)]);
    j["interruptions_by_class"] = by;
  }
  if (!run.start_date.empty())
    j["calendar"] = {{"start", run.start_date}, {"end_p50", run.end_date_p50},
                     {"end_p90", run.end_date_p90}};
  return j;
}

Json cost_json(const CostResult& c) {
  return {{"total_usd", sig(c.total_usd)},
          {"usd_per_million_tokens", sig(c.usd_per_million_tokens)},
          {"energy_mwh", sig(c.energy_mwh)},
          {"breakdown_usd", {{"gpu_rental", sig(c.gpu_rental_usd)},
                             {"hardware", sig(c.hardware_usd)},
                             {"energy", sig(c.energy_usd)}}},
          {"gpu_hour_usd", sig(c.gpu_hour_usd)},
          {"model", c.model},
          {"capex_usd", sig(c.capex_usd)},
          {"failure_overhead_usd", sig(c.failure_overhead_usd)},
          {"average_gpu_power_w", sig(c.average_gpu_power_w)},
          {"co2_tonnes", c.co2_tonnes ? Json(sig(*c.co2_tonnes)) : Json(nullptr)},
          {"distribution", {{"total_usd", dist_json(c.total_usd_dist)}}}};
}

/// The expert-parallel section: null for dense models and ep = 1.
Json moe_json(const StepResult& st) {
  const MoeSummary& m = st.moe;
  if (m.method.empty()) return Json(nullptr);
  Json layers = Json::array();
  for (const auto& l : m.layers)
    layers.push_back({{"moe_layer", l.moe_layer},
                      {"layer", l.layer},
                      {"max_rank_tokens", sig(l.max_rank_tokens)},
                      {"mean_rank_tokens", sig(l.mean_rank_tokens)},
                      {"dropped_tokens", sig(l.dropped_tokens)},
                      {"cross_node_bytes_per_token", sig(l.cross_node_bytes_per_token)},
                      {"expert_fwd_busiest_s", sig(l.expert_fwd_busiest.value)},
                      {"expert_fwd_mean_s", sig(l.expert_fwd_mean.value)},
                      {"dispatch_s", sig(l.dispatch.value)},
                      {"combine_s", sig(l.combine.value)},
                      {"scale_out_gb", sig(l.scale_out_bytes.value / 1e9)},
                      {"hottest_link", l.hottest_link},
                      {"hottest_link_utilisation", sig(l.hottest_link_utilisation)}});
  const double imbalance = m.mean_rank_tokens > 0 ? m.max_rank_tokens / m.mean_rank_tokens : 1.0;
  return {{"method", m.method},
          {"all_to_all", m.all_to_all},
          {"ep", m.ep},
          {"moe_layers", m.moe_layers},
          {"sampled_layers", m.sampled_layers},
          {"max_rank_tokens", sig(m.max_rank_tokens)},
          {"mean_rank_tokens", sig(m.mean_rank_tokens)},
          {"rank_imbalance", sig(imbalance)},
          {"dropped_tokens_per_step", sig(m.dropped_tokens_per_step)},
          {"dropped_fraction", sig(m.dropped_fraction)},
          {"cross_node_bytes_per_token", sig(m.cross_node_bytes_per_token)},
          {"dispatch_s", sig(m.dispatch.value)},
          {"combine_s", sig(m.combine.value)},
          {"ep_time_per_layer_s", sig(m.ep_time_per_layer.value)},
          {"expert_imbalance_per_layer_s", sig(m.expert_imbalance_per_layer.value)},
          {"exposed_ep_s", sig(st.critical.exposed_ep_comm.value)},
          {"hottest_link", m.hottest_link},
          {"hottest_link_utilisation", sig(m.hottest_link_utilisation)},
          {"layers", layers}};
}

}  // namespace

Json report_to_json(const Report& r) {
  const auto& s = r.scenario;
  Json j;
  j["schema"] = "clustercost.report/1";
  j["scenario"] = scenario_to_json(s);
  j["model"] = {{"params_total", sig(r.params.total)},
                {"params_active", sig(r.params.active)},
                {"params_mtp", sig(r.params.mtp)},
                {"flops_per_token", sig(r.step.flops_per_token)}};
  Json step;
  step["time_s"] = sig(r.step.step_time.value);
  step["tokens"] = sig(r.step.tokens);
  step["tokens_per_s_per_gpu"] = sig(r.step.tokens_per_s_per_gpu);
  step["mfu"] = sig(r.step.mfu);
  step["hfu"] = sig(r.step.hfu);
  step["fidelity"] = r.step.fidelity;
  step["critical_stage"] = r.step.critical_stage;
  step["breakdown_s"] = breakdown_json(r.step.critical);
  step["mean_breakdown_s"] = breakdown_json(r.step.mean);
  Json stages = Json::array();
  for (const auto& t : r.step.stages) {
    stages.push_back({{"stage", t.stage},
                      {"layers", t.layers},
                      {"forward_s", sig(t.forward.value)},
                      {"backward_s", sig(t.backward.value)},
                      {"weight_grad_s", sig(t.weight_grad.value)},
                      {"tp_comm_s", sig(t.tp_comm.value)},
                      {"ep_comm_s", sig(t.ep_comm.value)},
                      {"ep_exposed_s", sig(t.ep_exposed.value)},
                      {"dp_comm_s", sig(t.dp_comm.value)},
                      {"params", sig(t.params)}});
  }
  step["stages"] = stages;
  if (r.step.fidelity == "des") {
    char fp[17];
    std::snprintf(fp, sizeof fp, "%016llx", static_cast<unsigned long long>(r.step.fingerprint));
    step["simulation"] = {{"events", r.step.events},
                          {"fingerprint", fp},
                          {"links_used", r.step.links_used},
                          {"hottest_link_gb", sig(r.step.hottest_link_bytes.value / 1e9)},
                          {"hottest_link_peak_utilisation", sig(r.step.hottest_link_peak_utilisation)}};
    Json& sim = step["simulation"];
    sim["simulated_gpus"] = r.step.simulated_gpus;
    // Critical path by category (adds up to the step time), most time first.
    Json path = Json::object();
    for (const auto& c : r.step.critical_path) path[c.category] = sig(c.time.value);
    sim["critical_path_s"] = path;
    // Every link the simulated flows crossed, most bytes first; the hottest named.
    Json links = Json::array(), hottest = Json::array();
    for (const auto& l : r.step.link_use) {
      links.push_back({{"link", l.name},
                       {"gb", sig(l.bytes.value / 1e9)},
                       {"peak_utilisation", sig(l.peak_utilisation)},
                       {"mean_utilisation", sig(l.mean_utilisation)}});
      if (hottest.size() < 5) hottest.push_back(l.name);
    }
    sim["hottest_links"] = hottest;
    sim["links"] = links;
    Json gpus = Json::array();
    for (const auto& g : r.step.gpu_memory)
      gpus.push_back({{"gpu", g.gpu},
                      {"stage", g.stage},
                      {"activations_gib", sig(to_gib(g.activations))},
                      {"peak_gib", sig(to_gib(g.total))}});
    sim["gpu_peak_memory"] = gpus;
    if (!r.step.variation_step_times.empty()) {
      Json v = Json::array();
      for (double t : r.step.variation_step_times) v.push_back(sig(t));
      sim["variation"] = {{"replicas", v.size()},
                          {"step_time_p50_s", sig(r.step.step_time_p50.value)},
                          {"step_time_p90_s", sig(r.step.step_time_p90.value)},
                          {"step_times_s", v}};
    }
  }
  j["step"] = step;
  const auto& m = r.step.memory;
  j["memory"] = {{"peak_gib_per_gpu", sig(to_gib(m.total()))},
                 {"capacity_gib", sig(to_gib(m.capacity))},
                 {"fits", m.fits()},
                 {"stage", m.stage},
                 {"breakdown_gib", {{"weights", sig(to_gib(m.weights))},
                                    {"gradients", sig(to_gib(m.gradients))},
                                    {"optimizer", sig(to_gib(m.optimizer))},
                                    {"activations", sig(to_gib(m.activations))}}}};
  j["moe"] = moe_json(r.step);
  j["run"] = run_json(r.run);
  j["cost"] = cost_json(r.cost);
  j["warnings"] = r.warnings;
  j["notes"] = s.notes;
  j["provenance"] = {{"version", r.version},
                     {"catalog", s.catalog_fingerprint},
                     {"profile", s.profile.name.empty() ? s.profile.source : s.profile.name},
                     {"seed", s.simulation.seed}};
  return j;
}

std::string report_to_text(const Report& r) {
  const auto& s = r.scenario;
  const auto& st = r.step;
  const auto& p = s.parallelism;
  std::ostringstream os;
  os << "clustercost " << r.version << " — " << s.name << "\n";
  if (!s.description.empty()) os << "  " << s.description << "\n";
  os << "\nModel      " << s.model.name << ": " << human(r.params.total) << " parameters, "
     << human(r.params.active) << " active per token, " << fmt(st.flops_per_token / 1e9, 1)
     << " GFLOP per training token\n";
  os << "Cluster    " << s.cluster.gpus << " × " << s.gpu.name << " (" << s.nodes() << " nodes of "
     << s.cluster.gpus_per_node << "), " << s.cluster.network.topology << ", scale-up "
     << fmt(s.cluster.network.scale_up_gbs_uni, 0) << " GB/s, scale-out "
     << fmt(s.cluster.network.scale_out_gbps_per_gpu, 0) << " Gb/s per GPU\n";
  os << "Layout     tp " << p.tp << " · cp " << p.cp << " · pp " << p.pp << " · dp " << p.dp
     << " · ep " << p.ep << ", " << schedule_name(p.schedule) << (p.vpp > 1 ? " vpp " + std::to_string(p.vpp) : "")
     << ", micro-batch " << p.micro_batch << " × " << s.micro_batches() << ", ZeRO-" << p.zero
     << ", recompute " << recompute_name(p.recompute);
  for (std::size_t i = 0; i < p.recompute_modules.size(); ++i)
    os << (i == 0 ? " + " : ", ") << p.recompute_modules[i];
  os << ", " << s.training.precision << "\n";
  os << "\nStep       " << fmt(st.step_time.value, 3) << " s (" << st.fidelity << ")   "
     << fmt(st.tokens_per_s_per_gpu, 0) << " tokens/s/GPU   MFU " << fmt(100 * st.mfu, 1)
     << "%   HFU " << fmt(100 * st.hfu, 1) << "%\n";
  auto line = [&](const char* name, Seconds v) {
    os << "  " << std::left << std::setw(18) << name << std::right << std::setw(10)
       << fmt(v.value, 3) << " s  " << std::setw(5) << fmt(100 * v.value / st.step_time.value, 1)
       << "%\n";
  };
  line("compute", st.critical.compute);
  line("exposed TP comm", st.critical.exposed_tp_comm);
  line("exposed EP comm", st.critical.exposed_ep_comm);
  line("exposed PP comm", st.critical.exposed_pp_comm);
  line("exposed DP comm", st.critical.exposed_dp_comm);
  line("pipeline bubble", st.critical.bubble);
  line("optimizer", st.critical.optimizer);
  if (!st.moe.method.empty()) {
    const auto& mo = st.moe;
    os << "\nMoE        EP " << mo.ep << ", " << mo.all_to_all << " all-to-all (" << mo.method;
    if (mo.sampled_layers > 0)
      os << ", " << mo.sampled_layers << " of " << mo.moe_layers << " MoE layers sampled";
    os << "): busiest rank " << fmt(mo.max_rank_tokens, 0) << " vs mean "
       << fmt(mo.mean_rank_tokens, 0) << " token copies ("
       << fmt(mo.mean_rank_tokens > 0 ? mo.max_rank_tokens / mo.mean_rank_tokens : 1.0, 2)
       << "×), " << fmt(mo.cross_node_bytes_per_token / 1e3, 1)
       << " kB per token over the scale-out\n";
    os << "           per layer and micro-batch: dispatch " << fmt(mo.dispatch.value * 1e3, 2)
       << " ms, combine " << fmt(mo.combine.value * 1e3, 2) << " ms, expert imbalance "
       << fmt(mo.expert_imbalance_per_layer.value * 1e3, 2) << " ms";
    if (mo.dropped_fraction > 0) os << ", dropped " << fmt(100 * mo.dropped_fraction, 2) << "% of copies";
    os << "\n";
    if (!mo.hottest_link.empty())
      os << "           hottest link " << mo.hottest_link << " ("
         << fmt(100 * mo.hottest_link_utilisation, 0) << "% peak)\n";
  }
  const auto& m = st.memory;
  os << "\nMemory     " << fmt(to_gib(m.total()), 1) << " of " << fmt(to_gib(m.capacity), 1)
     << " GiB per GPU (" << (m.fits() ? "fits" : "DOES NOT FIT") << "; stage " << m.stage
     << ": weights " << fmt(to_gib(m.weights), 1) << ", gradients " << fmt(to_gib(m.gradients), 1)
     << ", optimizer " << fmt(to_gib(m.optimizer), 1) << ", activations "
     << fmt(to_gib(m.activations), 1) << ")\n";
  const auto& run = r.run;
  os << "\nRun        " << run.steps << " steps, " << fmt(run.wall_days, 1) << " days, "
     << human(run.gpu_hours) << " GPU-hours, " << fmt(run.interruptions, 0)
     << (run.replicas > 0 ? " interruptions" : " expected interruptions") << ", goodput "
     << fmt(100 * run.goodput, 1) << "% (" << run.model << ")\n";
  if (run.replicas > 0) {
    const auto& d = run.wall_days_dist;
    os << "  wall days  P10 " << fmt(d.p10, 1) << " · P50 " << fmt(d.p50, 1) << " · P90 "
       << fmt(d.p90, 1) << "; mean days: compute " << fmt(run.compute_time.value / 86400.0, 1)
       << ", checkpoints " << fmt(run.mean_checkpointing.value / 86400.0, 2) << ", lost work "
       << fmt(run.mean_lost_work.value / 86400.0, 2) << ", restarts "
       << fmt(run.mean_restarting.value / 86400.0, 2) << ", waiting for spares "
       << fmt(run.mean_waiting.value / 86400.0, 2) << "\n";
  }
  os << "  checkpoint " << fmt(run.checkpoint_gb, 0) << " GB in " << fmt(run.checkpoint_write.value, 1)
     << " s every " << fmt(run.checkpoint_interval.value / 60.0, 1) << " min";
  if (std::isfinite(run.job_mtbf.value)) os << "; job MTBF " << fmt(run.job_mtbf.value / 3600.0, 2) << " h";
  os << "\n";
  if (!run.start_date.empty())
    os << "  calendar   start " << run.start_date << ", end P50 " << run.end_date_p50 << ", P90 "
       << run.end_date_p90 << "\n";
  const auto& c = r.cost;
  os << "Cost       $" << human(c.total_usd) << " (" << c.model << ", $" << fmt(c.gpu_hour_usd, 2)
     << "/GPU-hour), $" << fmt(c.usd_per_million_tokens, 3) << " per million tokens, "
     << fmt(c.energy_mwh, 0) << " MWh";
  if (c.co2_tonnes) os << ", " << fmt(*c.co2_tonnes, 0) << " t CO2";
  os << "; failures add $" << human(c.failure_overhead_usd) << "\n";
  for (const auto& n : s.notes) os << "note: " << n << "\n";
  for (const auto& w : r.warnings) os << "warning: " << w << "\n";
  return os.str();
}

std::vector<std::string> csv_columns() {
  return {"name", "model", "gpu", "gpus", "tp", "cp", "pp", "dp", "ep", "vpp", "schedule",
          "micro_batch", "zero", "recompute", "precision", "seq_len", "global_batch", "tokens",
          "params_total", "params_active", "flops_per_token", "step_time_s",
          "tokens_per_s_per_gpu", "mfu", "hfu", "compute_s", "exposed_tp_comm_s",
          "exposed_ep_comm_s", "exposed_pp_comm_s", "exposed_dp_comm_s", "bubble_s",
          "optimizer_s", "memory_gib_per_gpu", "memory_capacity_gib", "fits", "steps",
          "wall_days", "gpu_hours", "interruptions", "goodput", "total_usd",
          "usd_per_million_tokens", "energy_mwh", "wall_days_p10", "wall_days_p50",
          "wall_days_p90", "total_usd_p10", "total_usd_p50", "total_usd_p90", "cost_model",
          "co2_tonnes"};
}

namespace {
std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}
std::string num(double v) {
  std::ostringstream os;
  os << std::setprecision(10) << sig(v);
  return os.str();
}
}  // namespace

std::string report_to_csv(const std::vector<Report>& reports) {
  std::ostringstream os;
  auto cols = csv_columns();
  for (std::size_t i = 0; i < cols.size(); ++i) os << (i ? "," : "") << cols[i];
  os << "\n";
  for (const auto& r : reports) {
    const auto& s = r.scenario;
    const auto& p = s.parallelism;
    const auto& b = r.step.critical;
    std::vector<std::string> v = {
        csv_field(s.name), csv_field(s.model.name), csv_field(s.gpu.name),
        std::to_string(s.cluster.gpus), std::to_string(p.tp), std::to_string(p.cp),
        std::to_string(p.pp), std::to_string(p.dp), std::to_string(p.ep), std::to_string(p.vpp),
        schedule_name(p.schedule), std::to_string(p.micro_batch), std::to_string(p.zero),
        recompute_name(p.recompute), s.training.precision, std::to_string(s.training.seq_len),
        std::to_string(s.training.global_batch), num(s.training.tokens), num(r.params.total),
        num(r.params.active), num(r.step.flops_per_token), num(r.step.step_time.value),
        num(r.step.tokens_per_s_per_gpu), num(r.step.mfu), num(r.step.hfu),
        num(b.compute.value), num(b.exposed_tp_comm.value), num(b.exposed_ep_comm.value),
        num(b.exposed_pp_comm.value), num(b.exposed_dp_comm.value), num(b.bubble.value),
        num(b.optimizer.value), num(to_gib(r.step.memory.total())),
        num(to_gib(r.step.memory.capacity)), r.step.memory.fits() ? "true" : "false",
        std::to_string(r.run.steps), num(r.run.wall_days), num(r.run.gpu_hours),
        num(r.run.interruptions), num(r.run.goodput), num(r.cost.total_usd),
        num(r.cost.usd_per_million_tokens), num(r.cost.energy_mwh),
        num(r.run.replicas > 0 ? r.run.wall_days_dist.p10 : r.run.wall_days),
        num(r.run.replicas > 0 ? r.run.wall_days_dist.p50 : r.run.wall_days),
        num(r.run.replicas > 0 ? r.run.wall_days_dist.p90 : r.run.wall_days),
        num(r.cost.total_usd_dist.p10), num(r.cost.total_usd_dist.p50),
        num(r.cost.total_usd_dist.p90), r.cost.model,
        r.cost.co2_tonnes ? num(*r.cost.co2_tonnes) : std::string()};
    for (std::size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
    os << "\n";
  }
  return os.str();
}

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

namespace {

// ---- the HTML report page: every number read from the report JSON (report_to_json) ---------

const Json* at_ptr(const Json& j, const char* pointer) {
  const Json::json_pointer p(pointer);
  return j.contains(p) ? &j.at(p) : nullptr;
}

double num_at(const Json& j, const char* pointer) {
  const Json* v = at_ptr(j, pointer);
  return v && v->is_number() ? v->get<double>() : std::nan("");
}

std::string str_at(const Json& j, const char* pointer) {
  const Json* v = at_ptr(j, pointer);
  if (!v || v->is_null()) return "";
  return v->is_string() ? v->get<std::string>() : v->dump();
}

// Fixed decimals, "–" for a missing value.
std::string fx(double v, int prec) { return std::isfinite(v) ? fmt(v, prec) : "–"; }
// Thousands separated integers ("2,048"): counts a manager reads.
std::string grouped(double v) {
  if (!std::isfinite(v)) return "–";
  std::string digits = std::to_string(std::llround(std::fabs(v)));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3)
    digits.insert(static_cast<std::size_t>(i), ",");
  return (v < 0 ? "-" : "") + digits;
}
std::string money(double v) { return std::isfinite(v) ? "$" + human(v) : "–"; }

// A tick step of 1, 2 or 5 × 10^k giving about `n` ticks over [0, span].
double tick_step(double span, int n) {
  if (!(span > 0) || !std::isfinite(span)) return 1;
  const double raw = span / n, mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double k : {1.0, 2.0, 5.0, 10.0})
    if (raw <= k * mag) return k * mag;
  return 10 * mag;
}

std::string tick_label(double v, double step) {
  const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  return fmt(v, decimals);
}

struct BarPart {
  std::string name;
  double value;
  const char* color;
};

// Horizontal stacked bars on a shared value axis with ticks and a unit, an optional dashed
// limit line (HBM capacity), and a legend naming each part with its value.
void stacked_bars_svg(std::ostream& os, const std::string& id, const std::string& aria,
                      const std::vector<std::pair<std::string, std::vector<BarPart>>>& bars,
                      const std::string& unit, const std::string& axis_title,
                      std::optional<std::pair<std::string, double>> limit = std::nullopt) {
  constexpr double left = 190, width = 660, bar_h = 26, gap = 14, top = 10;
  double max = limit ? limit->second : 0;
  for (const auto& [label, parts] : bars) {
    double sum = 0;
    for (const auto& p : parts) sum += std::max(p.value, 0.0);
    max = std::max(max, sum);
  }
  if (!(max > 0)) max = 1;
  const double step = tick_step(max, 6);
  const double axis_max = std::ceil(max / step - 1e-9) * step;
  auto x_of = [&](double v) { return left + width * v / axis_max; };
  const double axis_y = top + static_cast<double>(bars.size()) * (bar_h + gap);
  const std::size_t legend_rows = (bars.empty() ? 0 : (bars.front().second.size() + 2) / 3);
  const double height = axis_y + 48 + 20.0 * static_cast<double>(legend_rows) + (limit ? 20 : 0);
  os << "<svg id=\"" << id << "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"880\" height=\""
     << fmt(height, 0) << "\" viewBox=\"0 0 880 " << fmt(height, 0)
     << "\" role=\"img\" aria-label=\"" << html_escape(aria) << "\" font-family=\"sans-serif\">\n";
  // Grid and ticks first, so the bars lie over them.
  for (double t = 0; t <= axis_max * 1.0001; t += step) {
    os << "<line x1=\"" << fmt(x_of(t), 1) << "\" y1=\"" << top - 4 << "\" x2=\"" << fmt(x_of(t), 1)
       << "\" y2=\"" << fmt(axis_y + 4, 1) << "\" stroke=\"#ddd\"/>"
       << "<text x=\"" << fmt(x_of(t), 1) << "\" y=\"" << fmt(axis_y + 18, 1)
       << "\" font-size=\"11\" text-anchor=\"middle\">" << tick_label(t, step) << "</text>\n";
  }
  os << "<line x1=\"" << left << "\" y1=\"" << fmt(axis_y, 1) << "\" x2=\"" << left + width
     << "\" y2=\"" << fmt(axis_y, 1) << "\" stroke=\"#333\"/>\n"
     << "<text x=\"" << left + width / 2 << "\" y=\"" << fmt(axis_y + 36, 1)
     << "\" font-size=\"12\" text-anchor=\"middle\">" << html_escape(axis_title) << "</text>\n";
  double y = top;
  for (const auto& [label, parts] : bars) {
    double sum = 0;
    for (const auto& p : parts) sum += std::max(p.value, 0.0);
    os << "<text x=\"" << left - 8 << "\" y=\"" << fmt(y + bar_h / 2 + 4, 1)
       << "\" font-size=\"12\" text-anchor=\"end\">" << html_escape(label) << "</text>\n";
    double x = 0;
    for (const auto& p : parts) {
      if (!(p.value > 0)) continue;
      os << "<rect x=\"" << fmt(x_of(x), 2) << "\" y=\"" << fmt(y, 1) << "\" width=\""
         << fmt(x_of(x + p.value) - x_of(x), 2) << "\" height=\"" << bar_h << "\" fill=\""
         << p.color << "\"><title>" << html_escape(p.name) << ": " << fmt(p.value, 3) << " "
         << unit << "</title></rect>\n";
      x += p.value;
    }
    os << "<text x=\"" << fmt(x_of(sum) + 6, 1) << "\" y=\"" << fmt(y + bar_h / 2 + 4, 1)
       << "\" font-size=\"11\">" << fmt(sum, sum >= 100 ? 1 : 3) << " " << unit << "</text>\n";
    y += bar_h + gap;
  }
  if (limit) {
    os << "<line x1=\"" << fmt(x_of(limit->second), 1) << "\" y1=\"" << top - 6 << "\" x2=\""
       << fmt(x_of(limit->second), 1) << "\" y2=\"" << fmt(axis_y, 1)
       << "\" stroke=\"#c00\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>\n";
  }
  // Legend: three entries per row, each with its value from the first bar.
  double ly = axis_y + 56;
  if (!bars.empty()) {
    const auto& first = bars.front().second;
    for (std::size_t i = 0; i < first.size(); ++i) {
      const double lx = 20 + 290.0 * static_cast<double>(i % 3);
      if (i > 0 && i % 3 == 0) ly += 20;
      os << "<rect x=\"" << fmt(lx, 0) << "\" y=\"" << fmt(ly - 10, 0)
         << "\" width=\"12\" height=\"12\" fill=\"" << first[i].color << "\"/><text x=\""
         << fmt(lx + 17, 0) << "\" y=\"" << fmt(ly, 0) << "\" font-size=\"12\">"
         << html_escape(first[i].name) << " " << fmt(first[i].value, first[i].value >= 100 ? 1 : 3)
         << " " << unit << "</text>\n";
    }
  }
  if (limit) {
    ly += 20;
    os << "<line x1=\"20\" y1=\"" << fmt(ly - 4, 0) << "\" x2=\"32\" y2=\"" << fmt(ly - 4, 0)
       << "\" stroke=\"#c00\" stroke-width=\"2\" stroke-dasharray=\"4,2\"/><text x=\"37\" y=\""
       << fmt(ly, 0) << "\" font-size=\"12\">" << html_escape(limit->first) << "</text>\n";
  }
  os << "</svg>\n";
}

// Okabe & Ito's colour-blind-safe palette, as in the GUI's charts.
const char* kPartColors[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7",
                             "#56b4e9", "#d55e00", "#000000"};

// The EP rank × EP rank dispatch bytes of one sampled layer as a heatmap, white to dark blue.
void traffic_heatmap_svg(std::ostream& os, const std::vector<double>& bytes, int ep) {
  if (ep <= 0 || bytes.size() != static_cast<std::size_t>(ep) * static_cast<std::size_t>(ep))
    return;
  double max = 0;
  for (double b : bytes) max = std::max(max, b);
  if (!(max > 0)) return;
  const double cell = std::clamp(440.0 / ep, 2.0, 24.0), map = cell * ep;
  const double left = 70, top = 20, height = top + map + 70;
  os << "<svg id=\"moe-heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << fmt(left + map + 150, 0)
     << "\" height=\"" << fmt(height, 0) << "\" viewBox=\"0 0 " << fmt(left + map + 150, 0) << " "
     << fmt(height, 0) << "\" role=\"img\" aria-label=\"MoE dispatch traffic\" "
     << "font-family=\"sans-serif\">\n";
  auto shade = [&](double v) {
    const double t = std::clamp(v / max, 0.0, 1.0);
    const int r = static_cast<int>(std::lround(255 - t * (255 - 8)));
    const int g = static_cast<int>(std::lround(255 - t * (255 - 48)));
    const int b = static_cast<int>(std::lround(255 - t * (255 - 107)));
    char buf[8];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, b);
    return std::string(buf);
  };
  for (int src = 0; src < ep; ++src)
    for (int dst = 0; dst < ep; ++dst) {
      const double v = bytes[static_cast<std::size_t>(src * ep + dst)];
      os << "<rect x=\"" << fmt(left + dst * cell, 2) << "\" y=\"" << fmt(top + src * cell, 2)
         << "\" width=\"" << fmt(cell, 2) << "\" height=\"" << fmt(cell, 2) << "\" fill=\""
         << shade(v) << "\"/>";
    }
  os << "\n<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << fmt(map, 1) << "\" height=\""
     << fmt(map, 1) << "\" fill=\"none\" stroke=\"#333\"/>\n";
  // Axes: rank numbers at a few positions, titles with what rows and columns are.
  const int label_step = ep <= 16 ? 1 : ep <= 64 ? 8 : 16;
  for (int k = 0; k < ep; k += label_step) {
    os << "<text x=\"" << fmt(left + (k + 0.5) * cell, 1) << "\" y=\"" << fmt(top + map + 14, 1)
       << "\" font-size=\"10\" text-anchor=\"middle\">" << k << "</text>"
       << "<text x=\"" << left - 4 << "\" y=\"" << fmt(top + (k + 0.5) * cell + 3, 1)
       << "\" font-size=\"10\" text-anchor=\"end\">" << k << "</text>\n";
  }
  os << "<text x=\"" << fmt(left + map / 2, 1) << "\" y=\"" << fmt(top + map + 34, 1)
     << "\" font-size=\"12\" text-anchor=\"middle\">receiving EP rank</text>\n"
     << "<text x=\"14\" y=\"" << fmt(top + map / 2, 1) << "\" font-size=\"12\" "
     << "text-anchor=\"middle\" transform=\"rotate(-90 14 " << fmt(top + map / 2, 1)
     << ")\">sending EP rank</text>\n";
  // Colour scale.
  const double sx = left + map + 30;
  for (int i = 0; i < 10; ++i)
    os << "<rect x=\"" << fmt(sx, 0) << "\" y=\"" << fmt(top + map - (i + 1) * map / 10, 1)
       << "\" width=\"16\" height=\"" << fmt(map / 10 + 0.5, 1) << "\" fill=\""
       << shade(max * (i + 0.5) / 10) << "\"/>";
  os << "\n<text x=\"" << fmt(sx + 22, 0) << "\" y=\"" << top + 10 << "\" font-size=\"11\">"
     << fmt(max / 1e6, 2) << " MB</text><text x=\"" << fmt(sx + 22, 0) << "\" y=\""
     << fmt(top + map, 1) << "\" font-size=\"11\">0 MB</text>\n</svg>\n";
}

// One table row: a label and cells (already HTML).
void row(std::ostream& os, const std::string& label, std::initializer_list<std::string> cells,
         const char* cls = nullptr) {
  os << "<tr" << (cls ? std::string(" class=\"") + cls + "\"" : "") << "><td class=\"l\">"
     << html_escape(label) << "</td>";
  for (const auto& c : cells) os << "<td class=\"l\">" << c << "</td>";
  os << "</tr>\n";
}

// A catalogue figure's cells: its value as the catalogue gives it, its flag, its source.
std::string figure_cells(const Figure* f, int prec, const std::string& unit) {
  if (!f || !f->value) return "<td>–</td><td>–</td><td class=\"l src\">not in the catalogue</td>";
  return "<td>" + fmt(*f->value, prec) + " " + unit + "</td><td>" + html_escape(f->flag) +
         "</td><td class=\"l src\">" + html_escape(f->source) + "</td>";
}

void assumption(std::ostream& os, const std::string& what, const std::string& used,
                const Figure* f, int prec, const std::string& unit) {
  os << "<tr><td class=\"l\">" << html_escape(what) << "</td><td>" << used << "</td>"
     << figure_cells(f, prec, unit) << "</tr>\n";
}

}  // namespace

std::vector<LinkUse> links_by_utilisation(std::vector<LinkUse> links) {
  std::stable_sort(links.begin(), links.end(), [](const LinkUse& a, const LinkUse& b) {
    if (a.peak_utilisation != b.peak_utilisation) return a.peak_utilisation > b.peak_utilisation;
    if (a.mean_utilisation != b.mean_utilisation) return a.mean_utilisation > b.mean_utilisation;
    if (a.bytes.value != b.bytes.value) return a.bytes.value > b.bytes.value;
    return a.name < b.name;
  });
  return links;
}

bool has_des_results(const Json& j) {
  const Json* sim = at_ptr(j, "/step/simulation");
  return str_at(j, "/step/fidelity") == "des" && sim && sim->is_object();
}

std::string des_results_html(const Json& j, const std::string& heading) {
  if (!has_des_results(j)) return {};
  std::ostringstream os;
  const double step_s = num_at(j, "/step/time_s");
  os << "<h2>" << html_escape(heading) << "</h2>\n<p>The op-level discrete-event simulation "
     << "of one step: " << grouped(num_at(j, "/step/simulation/simulated_gpus"))
     << " GPUs simulated, " << grouped(num_at(j, "/step/simulation/events")) << " events, a step of "
     << fx(step_s, 3) << " s.</p>\n";

  // Critical path by op category: adds up to the step time; most time first.
  const Json* path = at_ptr(j, "/step/simulation/critical_path_s");
  if (path && path->is_object() && !path->empty()) {
    std::vector<std::pair<std::string, double>> parts;
    for (auto it = path->begin(); it != path->end(); ++it)
      if (it.value().is_number()) parts.emplace_back(it.key(), it.value().get<double>());
    std::stable_sort(parts.begin(), parts.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    os << "<h3>Critical path by op category</h3>\n<p>Where the critical rank's step time goes; "
          "\"bubble\" is that rank waiting for work of other ranks.</p>\n"
       << "<table class=\"des-critical-path\"><tr><th class=\"l\">op category</th>"
       << "<th>seconds per step</th><th>share of the step</th></tr>\n";
    double total = 0;
    for (const auto& [category, seconds] : parts) {
      total += seconds;
      os << "<tr><td class=\"l\">" << html_escape(category) << "</td><td>" << fx(seconds, 4)
         << "</td><td>" << (step_s > 0 ? fx(100 * seconds / step_s, 1) + " %" : "–")
         << "</td></tr>\n";
    }
    os << "<tr><td class=\"l\"><b>total</b></td><td><b>" << fx(total, 4) << "</b></td><td>"
       << (step_s > 0 ? fx(100 * total / step_s, 1) + " %" : "–") << "</td></tr>\n</table>\n";
  }

  // Links, hottest first (the GUI's traffic tab's order).
  const Json* links_json = at_ptr(j, "/step/simulation/links");
  if (links_json && links_json->is_array() && !links_json->empty()) {
    std::vector<LinkUse> links;
    for (const auto& l : *links_json) {
      LinkUse u;
      u.name = l.value("link", "");
      u.bytes = Bytes(l.value("gb", 0.0) * 1e9);
      u.peak_utilisation = l.value("peak_utilisation", 0.0);
      u.mean_utilisation = l.value("mean_utilisation", 0.0);
      links.push_back(std::move(u));
    }
    links = links_by_utilisation(std::move(links));
    const std::size_t shown = links.size() <= kReportLinks ? links.size() : kReportLinks;
    os << "<h3>Links, hottest first</h3>\n<p>The simulated flows crossed " << links.size()
       << " link" << (links.size() == 1 ? "" : "s") << "; sorted by peak utilisation, then mean "
       << "utilisation and bytes. The hottest is <b>" << html_escape(links.front().name) << "</b>.";
    if (shown < links.size())
      os << " The " << shown << " hottest are listed; " << links.size() - shown
         << " more are in the report JSON (step.simulation.links).";
    os << "</p>\n<table class=\"des-links\"><tr><th>#</th><th class=\"l\">link</th>"
       << "<th>GB carried</th><th>peak utilisation</th><th>mean utilisation</th></tr>\n";
    for (std::size_t k = 0; k < shown; ++k) {
      const LinkUse& l = links[k];
      os << "<tr><td>" << k + 1 << "</td><td class=\"l\">" << html_escape(l.name) << "</td><td>"
         << fx(l.bytes.value / 1e9, 2) << "</td><td>" << fx(100 * l.peak_utilisation, 1)
         << " %</td><td>" << fx(100 * l.mean_utilisation, 1) << " %</td></tr>\n";
    }
    os << "</table>\n";
  }

  // Each simulated GPU's peak: the static part plus the activations in flight at its peak.
  const Json* gpus_json = at_ptr(j, "/step/simulation/gpu_peak_memory");
  if (gpus_json && gpus_json->is_array() && !gpus_json->empty()) {
    std::vector<const Json*> shown;
    const bool per_stage = gpus_json->size() > kReportGpus;
    if (!per_stage) {
      for (const auto& g : *gpus_json) shown.push_back(&g);
    } else {
      // Every rank simulated: the largest GPU of each stage, in stage order.
      std::map<int, const Json*> largest;
      for (const auto& g : *gpus_json) {
        const int stage = g.value("stage", 0);
        auto it = largest.find(stage);
        if (it == largest.end() || g.value("peak_gib", 0.0) > it->second->value("peak_gib", 0.0))
          largest[stage] = &g;
      }
      for (const auto& [stage, g] : largest) shown.push_back(g);
    }
    const double capacity = num_at(j, "/memory/capacity_gib");
    os << "<h3>Peak memory per simulated GPU</h3>\n<p>Weights, gradients and optimizer state "
          "plus the activations in flight at each GPU's simulated peak, against "
       << fx(capacity, 1) << " GiB usable HBM.";
    if (per_stage)
      os << " " << gpus_json->size() << " GPUs were simulated; the largest of each stage is "
         << "listed, every GPU is in the report JSON (step.simulation.gpu_peak_memory).";
    os << "</p>\n<table class=\"des-gpu-memory\"><tr><th>GPU</th><th>stage</th>"
       << "<th>weights, gradients, optimizer (GiB)</th><th>activations (GiB)</th>"
       << "<th>peak (GiB)</th></tr>\n";
    for (const Json* g : shown) {
      const double peak = g->value("peak_gib", std::nan("")),
                   acts = g->value("activations_gib", std::nan(""));
      const bool over = std::isfinite(capacity) && peak > capacity;
      os << "<tr><td>" << g->value("gpu", -1) << "</td><td>" << g->value("stage", -1)
         << "</td><td>" << fx(peak - acts, 2) << "</td><td>" << fx(acts, 2) << "</td><td"
         << (over ? " class=\"warn\"" : "") << ">" << fx(peak, 2)
         << (over ? " (does not fit)" : "") << "</td></tr>\n";
    }
    os << "</table>\n";
  }
  return os.str();
}

std::string report_html_style() {
  return "body{font-family:sans-serif;margin:2em;max-width:1000px;color:#222}"
         "h1{margin-bottom:0.2em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}"
         "table{border-collapse:collapse;font-size:13px;margin:0.5em 0}"
         "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;vertical-align:top}"
         "th{background:#f4f4f4}td.l,th.l{text-align:left}td.src{font-size:11px;color:#555}"
         ".sub{font-size:15px;color:#333}.desc{background:#f6f6f6;padding:6px 10px}"
         ".warn{color:#b00000}.big{font-size:18px;font-weight:bold}"
         "td.card{text-align:left;border:1px solid #ccc;padding:6px 10px;width:25%}";
}

std::string report_page_html(const Json& j, const ReportPageExtras& extras) {
  std::ostringstream os;
  const Json& sc = j.contains("scenario") ? j["scenario"] : Json::object();
  const double gpus = num_at(j, "/scenario/cluster/gpus");
  const std::string gpu = str_at(j, "/scenario/cluster/gpu");
  const double per_node = num_at(j, "/scenario/cluster/gpus_per_node");
  const std::string model = sc.contains("model") && sc["model"].is_object()
                                ? str_at(j, "/scenario/model/name")
                                : str_at(j, "/scenario/model");
  const bool fits = str_at(j, "/memory/fits") == "true";
  const bool mc = num_at(j, "/run/replicas") > 0;

  os << "<h1>" << html_escape(extras.heading.empty() ? str_at(j, "/scenario/name") : extras.heading)
     << "</h1>\n";
  // What was run, resolved: the cluster and layout after any overrides.
  os << "<p class=\"sub\"><b>" << grouped(gpus) << " × " << html_escape(gpu) << "</b> ("
     << grouped(gpus / per_node) << " nodes of " << fx(per_node, 0) << ") · model "
     << html_escape(model) << " · tp " << str_at(j, "/scenario/parallelism/tp") << " · cp "
     << str_at(j, "/scenario/parallelism/cp") << " · pp " << str_at(j, "/scenario/parallelism/pp")
     << " · dp " << str_at(j, "/scenario/parallelism/dp") << " · ep "
     << str_at(j, "/scenario/parallelism/ep") << " · " << html_escape(str_at(j, "/scenario/parallelism/schedule"))
     << " · " << html_escape(str_at(j, "/scenario/training/precision")) << " · "
     << html_escape(str_at(j, "/step/fidelity")) << " step model</p>\n";
  // The description is the base scenario's prose, written for its own cluster; overrides
  // (--set, a sweep point, a GUI edit) do not rewrite it, so it is labelled as such and the
  // resolved cluster above is what the figures are for.
  const std::string description = str_at(j, "/scenario/description");
  if (!description.empty())
    os << "<p class=\"desc\"><b>Base scenario's description</b>, as written in its file (the "
          "figures below are for the cluster and layout above): <i>"
       << html_escape(description) << "</i></p>\n";

  // Summary: what a planner quotes.
  const std::string days_p = mc ? "P10 " + fx(num_at(j, "/run/distribution/wall_days/p10"), 1) +
                                      " · P90 " + fx(num_at(j, "/run/distribution/wall_days/p90"), 1)
                                : "expected value";
  os << "<h2>Summary</h2>\n<table id=\"summary\"><tr>"
     << "<td class=\"card\">Wall time<br><span class=\"big\">"
     << fx(mc ? num_at(j, "/run/distribution/wall_days/p50") : num_at(j, "/run/wall_days"), 1)
     << " days</span><br>" << (mc ? "P50; " : "") << days_p << "</td>"
     << "<td class=\"card\">Cost<br><span class=\"big\">"
     << money(mc ? num_at(j, "/cost/distribution/total_usd/p50") : num_at(j, "/cost/total_usd"))
     << "</span><br>" << (mc ? "P50; " : "") << "$" << fx(num_at(j, "/cost/usd_per_million_tokens"), 3)
     << " per million tokens</td>"
     << "<td class=\"card\">GPU-hours<br><span class=\"big\">" << human(num_at(j, "/run/gpu_hours"))
     << "</span><br>" << grouped(gpus) << " GPUs</td>"
     << "<td class=\"card\">Memory per GPU<br><span class=\"big" << (fits ? "" : " warn") << "\">"
     << fx(num_at(j, "/memory/peak_gib_per_gpu"), 1) << " / " << fx(num_at(j, "/memory/capacity_gib"), 1)
     << " GiB</span><br>" << (fits ? "fits" : "<span class=\"warn\">DOES NOT FIT</span>")
     << "</td></tr><tr>"
     << "<td class=\"card\">Step time<br><span class=\"big\">" << fx(num_at(j, "/step/time_s"), 3)
     << " s</span></td>"
     << "<td class=\"card\">MFU<br><span class=\"big\">" << fx(100 * num_at(j, "/step/mfu"), 1)
     << " %</span><br>HFU " << fx(100 * num_at(j, "/step/hfu"), 1) << " %</td>"
     << "<td class=\"card\">Throughput<br><span class=\"big\">"
     << grouped(num_at(j, "/step/tokens_per_s_per_gpu")) << "</span><br>tokens/s per GPU</td>"
     << "<td class=\"card\">Energy<br><span class=\"big\">" << human(num_at(j, "/cost/energy_mwh"))
     << " MWh</span></td></tr></table>\n";

  // Step breakdown: the critical stage's rank (which sets the step) and the mean over stages.
  struct Key { const char* key; const char* name; };
  const Key keys[] = {{"compute", "compute"},           {"exposed_tp_comm", "exposed TP comm"},
                      {"exposed_ep_comm", "exposed EP comm"}, {"exposed_pp_comm", "exposed PP comm"},
                      {"exposed_dp_comm", "exposed DP comm"}, {"bubble", "pipeline bubble"},
                      {"optimizer", "optimizer"}};
  auto parts_of = [&](const char* section) {
    std::vector<BarPart> parts;
    for (std::size_t i = 0; i < std::size(keys); ++i) {
      const std::string p = std::string("/step/") + section + "/" + keys[i].key;
      parts.push_back({keys[i].name, num_at(j, p.c_str()), kPartColors[i]});
    }
    return parts;
  };
  os << "<h2>Where the step time goes</h2>\n";
  stacked_bars_svg(os, "chart-breakdown", "step time breakdown",
                   {{"critical stage " + str_at(j, "/step/critical_stage"), parts_of("breakdown_s")},
                    {"mean over stages", parts_of("mean_breakdown_s")}},
                   "s", "seconds per training step");

  // Memory per GPU against the HBM a framework can allocate.
  os << "<h2>Memory per GPU</h2>\n<p>The fullest GPU (pipeline stage " << str_at(j, "/memory/stage")
     << ") needs " << fx(num_at(j, "/memory/peak_gib_per_gpu"), 1) << " GiB of "
     << fx(num_at(j, "/memory/capacity_gib"), 1) << " GiB usable: "
     << (fits ? "it fits." : "<b class=\"warn\">it does not fit; this layout cannot run as "
                             "configured.</b>")
     << "</p>\n";
  const char* mem_keys[] = {"weights", "gradients", "optimizer", "activations"};
  std::vector<BarPart> mem;
  for (std::size_t i = 0; i < std::size(mem_keys); ++i) {
    const std::string p = std::string("/memory/breakdown_gib/") + mem_keys[i];
    mem.push_back({mem_keys[i], num_at(j, p.c_str()), kPartColors[i]});
  }
  stacked_bars_svg(os, "chart-memory", "memory per GPU", {{"stage " + str_at(j, "/memory/stage"), mem}},
                   "GiB", "GiB per GPU",
                   std::make_pair("usable HBM, " + fx(num_at(j, "/memory/capacity_gib"), 1) + " GiB",
                                  num_at(j, "/memory/capacity_gib")));

  // MoE traffic.
  if (j.contains("moe") && j["moe"].is_object()) {
    const Json& m = j["moe"];
    os << "<h2>Mixture-of-Experts traffic</h2>\n<table id=\"moe\">";
    row(os, "expert parallelism", {"EP " + str_at(j, "/moe/ep") + ", " +
                                   html_escape(str_at(j, "/moe/all_to_all")) + " all-to-all (" +
                                   html_escape(str_at(j, "/moe/method")) + ")"});
    row(os, "MoE layers sampled", {str_at(j, "/moe/sampled_layers") + " of " + str_at(j, "/moe/moe_layers")});
    row(os, "token copies, busiest vs mean EP rank",
        {fx(num_at(j, "/moe/max_rank_tokens"), 0) + " vs " + fx(num_at(j, "/moe/mean_rank_tokens"), 0) +
         " (" + fx(num_at(j, "/moe/rank_imbalance"), 2) + "×)"});
    row(os, "scale-out bytes per token and layer", {fx(num_at(j, "/moe/cross_node_bytes_per_token") / 1e3, 1) + " kB"});
    row(os, "dispatch / combine per layer and micro-batch",
        {fx(num_at(j, "/moe/dispatch_s") * 1e3, 2) + " / " + fx(num_at(j, "/moe/combine_s") * 1e3, 2) + " ms"});
    if (num_at(j, "/moe/dropped_fraction") > 0)
      row(os, "dropped token copies", {fx(100 * num_at(j, "/moe/dropped_fraction"), 2) + " %"});
    if (m.contains("hottest_link") && !str_at(j, "/moe/hottest_link").empty())
      row(os, "hottest link", {html_escape(str_at(j, "/moe/hottest_link")) + " (" +
                               fx(100 * num_at(j, "/moe/hottest_link_utilisation"), 0) + " % of peak)"});
    os << "</table>\n";
    if (extras.moe_traffic_bytes && !extras.moe_traffic_bytes->empty()) {
      os << "<p>Dispatch bytes of the first sampled MoE layer and one micro-batch, from each EP "
            "rank (rows) to each EP rank (columns):</p>\n";
      traffic_heatmap_svg(os, *extras.moe_traffic_bytes, static_cast<int>(num_at(j, "/moe/ep")));
    }
  }

  // What only the DES gives: critical path by category, links, per-GPU peaks.
  os << des_results_html(j);

  // Run and cost, with the spread of the Monte Carlo campaign.
  os << "<h2>Run and cost</h2>\n<table id=\"run\"><tr><th class=\"l\"></th><th>mean</th>"
     << (mc ? "<th>P10</th><th>P50</th><th>P90</th>" : "") << "</tr>\n";
  auto dist_row = [&](const std::string& label, const char* mean, const char* dist, int prec,
                      double scale, const std::string& unit, bool is_money) {
    auto cell = [&](double v) {
      if (is_money) return money(v);
      return (prec == 0 ? grouped(v * scale) : fx(v * scale, prec)) + (unit.empty() ? "" : " " + unit);
    };
    os << "<tr><td class=\"l\">" << html_escape(label) << "</td><td>" << cell(num_at(j, mean)) << "</td>";
    if (mc)
      for (const char* q : {"/p10", "/p50", "/p90"})
        os << "<td>" << cell(num_at(j, (std::string(dist) + q).c_str())) << "</td>";
    os << "</tr>\n";
  };
  dist_row("wall-clock time", "/run/wall_days", "/run/distribution/wall_days", 1, 1, "days", false);
  dist_row("GPU-hours", "/run/gpu_hours", "/run/distribution/gpu_hours", 0, 1, "", false);
  dist_row("interruptions", "/run/interruptions", "/run/distribution/interruptions", 0, 1, "", false);
  dist_row("goodput", "/run/goodput", "/run/distribution/goodput", 1, 100, "%", false);
  dist_row("total cost", "/cost/total_usd", "/cost/distribution/total_usd", 0, 1, "", true);
  os << "</table>\n<p>" << grouped(num_at(j, "/run/steps")) << " steps ("
     << html_escape(str_at(j, "/run/model")) << "); " << html_escape(str_at(j, "/cost/model"))
     << " at $" << fx(num_at(j, "/cost/gpu_hour_usd"), 2) << " per GPU-hour; failures add "
     << money(num_at(j, "/cost/failure_overhead_usd")) << "; checkpoint "
     << fx(num_at(j, "/run/checkpoint_gb"), 0) << " GB written in "
     << fx(num_at(j, "/run/checkpoint_write_s"), 1) << " s every "
     << fx(num_at(j, "/run/checkpoint_interval_min"), 0) << " min";
  if (std::isfinite(num_at(j, "/run/job_mtbf_hours")))
    os << "; job MTBF " << fx(num_at(j, "/run/job_mtbf_hours"), 1) << " h";
  os << ".</p>\n";

  // Hardware assumptions: the figures used, each against the catalogue's with its source.
  const GpuSpec* g = extras.gpu;
  os << "<h2>Hardware assumptions</h2>\n<p>" << html_escape(g ? g->full_name : gpu)
     << (g && !g->price.date.empty() ? "; prices as of " + html_escape(g->price.date) : "")
     << ". Flags: V vendor, P paper, S secondary, E estimate, D disputed, U unverified.</p>\n"
     << "<table id=\"assumptions\"><tr><th class=\"l\">figure</th><th>used in this run</th>"
     << "<th>catalogue</th><th>flag</th><th class=\"l\">source</th></tr>\n";
  const std::string precision = str_at(j, "/scenario/training/precision");
  auto peak = [&](const std::string& p) -> const Figure* {
    if (!g) return nullptr;
    return p == "fp8" ? &g->fp8_tflops : &g->bf16_tflops;
  };
  assumption(os, "dense BF16 peak (MFU's denominator)",
             g && g->bf16_tflops.value ? fmt(*g->bf16_tflops.value, 0) + " TFLOP/s" : "–",
             peak("bf16"), 0, "TFLOP/s");
  if (precision == "fp8")
    assumption(os, "dense FP8 peak (GEMMs in FP8)",
               g && g->fp8_tflops.value ? fmt(*g->fp8_tflops.value, 0) + " TFLOP/s" : "–",
               peak("fp8"), 0, "TFLOP/s");
  assumption(os, "HBM capacity (usable)", fx(num_at(j, "/memory/capacity_gib"), 1) + " GiB",
             g ? &g->hbm_usable_gib : nullptr, 1, "GiB");
  assumption(os, "HBM bandwidth", g && g->hbm_tbps.value ? fmt(*g->hbm_tbps.value, 2) + " TB/s" : "–",
             g ? &g->hbm_tbps : nullptr, 2, "TB/s");
  assumption(os, "scale-up per GPU, one direction",
             fx(num_at(j, "/scenario/cluster/network/scale_up_gbs_uni"), 0) + " GB/s",
             g ? &g->scale_up.gbs_uni_per_gpu : nullptr, 0, "GB/s");
  assumption(os, "scale-out per GPU", fx(num_at(j, "/scenario/cluster/network/scale_out_gbps_per_gpu"), 0) + " Gb/s",
             g ? &g->nic_gbps : nullptr, 0, "Gb/s");
  assumption(os, "rental price", "$" + fx(num_at(j, "/cost/gpu_hour_usd"), 2) + " per GPU-hour",
             g ? &g->price.rental_usd_per_gpu_hour : nullptr, 2, "$/GPU-hour");
  assumption(os, "board power (TDP)", g && g->tdp_w.value ? fmt(*g->tdp_w.value, 0) + " W" : "–",
             g ? &g->tdp_w : nullptr, 0, "W");
  os << "</table>\n<p>Where the run's figure differs from the catalogue's, the scenario set it "
        "(cluster.network, economics) or the node type supplies it ("
     << html_escape(str_at(j, "/scenario/cluster/node")) << ").</p>\n";

  // Inputs and provenance, readable.
  os << "<h2>Inputs and provenance</h2>\n<table id=\"provenance\">";
  row(os, "model", {html_escape(model) + ": " + human(num_at(j, "/model/params_total")) + " parameters, " +
                    human(num_at(j, "/model/params_active")) + " active per token"});
  row(os, "training", {human(num_at(j, "/scenario/training/tokens")) + " tokens, sequence " +
                       str_at(j, "/scenario/training/seq_len") + ", global batch " +
                       str_at(j, "/scenario/training/global_batch") + " sequences, " +
                       html_escape(precision)});
  row(os, "layout", {"micro-batch " + str_at(j, "/scenario/parallelism/micro_batch") + ", ZeRO-" +
                     str_at(j, "/scenario/parallelism/zero") + ", recompute " +
                     html_escape(str_at(j, "/scenario/parallelism/recompute")) +
                     (str_at(j, "/scenario/parallelism/vpp") != "1"
                          ? ", vpp " + str_at(j, "/scenario/parallelism/vpp") : std::string())});
  row(os, "network", {html_escape(str_at(j, "/scenario/cluster/network/topology")) + ", oversubscription " +
                      str_at(j, "/scenario/cluster/network/oversubscription")});
  row(os, "step model", {html_escape(str_at(j, "/step/fidelity")) +
                         (mc ? "; campaign: Monte Carlo, " + str_at(j, "/run/replicas") + " replicas"
                             : std::string("; campaign: expected value"))});
  row(os, "efficiency profile", {html_escape(str_at(j, "/provenance/profile"))});
  row(os, "hardware catalogue", {"fingerprint " + html_escape(str_at(j, "/provenance/catalog"))});
  row(os, "random seed", {str_at(j, "/provenance/seed")});
  row(os, "clustercost version", {html_escape(str_at(j, "/provenance/version"))});
  os << "</table>\n";
  const Json* notes = at_ptr(j, "/notes");
  const Json* warnings = at_ptr(j, "/warnings");
  if ((notes && notes->is_array() && !notes->empty()) || (warnings && warnings->is_array() && !warnings->empty())) {
    os << "<h2>Notes</h2>\n<ul>\n";
    if (warnings && warnings->is_array())
      for (const auto& w : *warnings)
        if (w.is_string()) os << "<li class=\"warn\">warning: " << html_escape(w.get<std::string>()) << "</li>\n";
    if (notes && notes->is_array())
      for (const auto& n : *notes)
        if (n.is_string()) os << "<li>" << html_escape(n.get<std::string>()) << "</li>\n";
    os << "</ul>\n";
  }
  return os.str();
}

std::string html_document(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>clustercost: " +
         html_escape(title) + "</title>\n<style>" + report_html_style() + "</style></head><body>\n" +
         body + "</body></html>\n";
}

std::string report_to_html(const Report& r) {
  ReportPageExtras extras;
  extras.gpu = &r.scenario.gpu;
  extras.moe_traffic_bytes = &r.step.moe.traffic_bytes;
  return html_document(r.scenario.name, report_page_html(report_to_json(r), extras));
}

}  // namespace clustercost
