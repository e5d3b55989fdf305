#include "sim/report/report.hpp"

#include <cmath>
#include <cstdio>
#include <iomanip>
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

Report run_scenario(const Scenario& s) {
  Report r;
  r.scenario = s;
  r.version = clustercost_version();
  r.params = count_parameters(s.model);
  r.step = s.simulation.fidelity == "des" ? simulate_step_des(s) : simulate_step_analytical(s);
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
    ramp_probe = s.simulation.fidelity == "des" ? simulate_step_des(probe)
                                                : simulate_step_analytical(probe);
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

std::string report_to_html(const Report& r) {
  const auto& st = r.step;
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>clustercost: "
     << html_escape(r.scenario.name) << "</title>\n<style>body{font-family:sans-serif;margin:2em;"
     << "max-width:960px}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px "
     << "solid #ddd;text-align:right}th:first-child,td:first-child{text-align:left}"
     << ".warn{color:#b00}</style></head><body>\n";
  os << "<h1>" << html_escape(r.scenario.name) << "</h1>\n<p>" << html_escape(r.scenario.description)
     << "</p>\n<pre>" << html_escape(report_to_text(r)) << "</pre>\n";
  // Stacked horizontal bar of the step breakdown, inline SVG.
  struct Part { const char* name; double v; const char* color; };
  const auto& b = st.critical;
  Part parts[] = {{"compute", b.compute.value, "#4e79a7"},
                  {"exposed TP", b.exposed_tp_comm.value, "#f28e2b"},
                  {"exposed EP", b.exposed_ep_comm.value, "#e15759"},
                  {"exposed PP", b.exposed_pp_comm.value, "#76b7b2"},
                  {"exposed DP", b.exposed_dp_comm.value, "#59a14f"},
                  {"bubble", b.bubble.value, "#edc948"},
                  {"optimizer", b.optimizer.value, "#b07aa1"}};
  const double total = st.step_time.value;
  os << "<h2>Step-time breakdown (s)</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" "
        "height=\"120\" role=\"img\" aria-label=\"step breakdown\">\n";
  double x = 0;
  int legend_x = 0;
  for (const auto& p : parts) {
    double w = total > 0 ? 880.0 * p.v / total : 0;
    os << "<rect x=\"" << fmt(10 + x, 1) << "\" y=\"10\" width=\"" << fmt(w, 1)
       << "\" height=\"40\" fill=\"" << p.color << "\"><title>" << p.name << ": " << fmt(p.v, 3)
       << " s</title></rect>\n";
    x += w;
    os << "<rect x=\"" << 10 + legend_x << "\" y=\"70\" width=\"12\" height=\"12\" fill=\""
       << p.color << "\"/><text x=\"" << 26 + legend_x << "\" y=\"81\" font-size=\"12\">" << p.name
       << " " << fmt(p.v, 2) << " s</text>\n";
    legend_x += 125;
  }
  os << "</svg>\n";
  os << "<h2>Inputs and provenance</h2>\n<pre>" << html_escape(report_to_json(r).dump(2))
     << "</pre>\n</body></html>\n";
  return os.str();
}

}  // namespace clustercost
