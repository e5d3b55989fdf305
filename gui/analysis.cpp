#include "gui/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>


namespace clustercost {

// ---- scaling -------------------------------------------------------------------------------

std::vector<double> default_scaling_factors() { return {0.25, 0.5, 1.0, 2.0, 4.0}; }

namespace {

void erase_key(Json& doc, const std::string& section, const std::string& key) {
  auto it = doc.find(section);
  if (it != doc.end() && it->is_object()) it->erase(key);
}

}  // namespace

std::vector<ScalingLine> scaling_sweep(const Catalog& catalog, const DataDirs& dirs,
                                       const std::string& file, const Json& doc,
                                       const Scenario& base, const std::vector<double>& factors,
                                       const std::atomic<bool>* cancel,
                                       const std::string& fidelity) {
  std::vector<std::int64_t> counts;
  for (double f : factors) {
    const auto g = static_cast<std::int64_t>(std::llround(static_cast<double>(base.cluster.gpus) * f));
    if (g >= 1) counts.push_back(g);
  }
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());

  std::vector<ScalingLine> lines;
  // The points share routing samples (the layout is the same) and, per count, networks.
  StepCache cache;
  for (const GpuSpec& gpu : catalog.gpus()) {
    ScalingLine line{gpu.name, {}};
    Json variant = doc;
    if (!variant.is_object() || !variant.contains("cluster") || !variant["cluster"].is_object())
      break;
    // dp follows from the GPU count; a given dp would contradict every other count.
    erase_key(variant, "parallelism", "dp");
    erase_key(variant, "cluster", "pools");
    if (!fidelity.empty()) {
      if (!variant.contains("simulation") || !variant["simulation"].is_object())
        variant["simulation"] = Json::object();
      variant["simulation"]["fidelity"] = fidelity;
    }
    if (gpu.name != base.gpu.name) {
      variant["cluster"]["gpu"] = gpu.name;
      // These name or describe the scenario's own GPU; the new type takes its defaults.
      erase_key(variant, "cluster", "profile");
      erase_key(variant, "cluster", "node");
      if (variant["cluster"].contains("network") && variant["cluster"]["network"].is_object())
        variant["cluster"]["network"].erase("scale_up_gbs_uni");
      erase_key(variant, "economics", "gpu_hour_usd");
    }
    for (std::int64_t g : counts) {
      if (cancel && cancel->load()) return lines;
      variant["cluster"]["gpus"] = g;
      try {
        const Scenario s = parse_scenario(variant, file, catalog, dirs);
        const Report r = run_scenario(s, &cache);
        if (!std::isfinite(r.run.wall_days) || !std::isfinite(r.cost.total_usd)) continue;
        line.points.push_back({g, r.run.wall_days, r.cost.total_usd, r.cost.gpu_hour_usd,
                               r.step.step_time.value, r.step.memory.fits()});
      } catch (const std::exception&) {
        // Layouts that do not divide, precisions the GPU lacks, infeasible runs: not a point.
      }
    }
    if (!line.points.empty()) lines.push_back(std::move(line));
  }
  return lines;
}

// ---- timeline ------------------------------------------------------------------------------

std::vector<int> timeline_stages(int stages) {
  std::vector<int> out;
  constexpr int kEnds = 8;
  for (int st = 0; st < stages; ++st)
    if (stages <= 2 * kEnds || st < kEnds || st >= stages - kEnds) out.push_back(st);
  return out;
}

const std::string& PipelineTimeline::op_name(const TaskRecord& r) const {
  static const std::string kNone;
  return r.name >= 0 && static_cast<std::size_t>(r.name) < names.size()
             ? names[static_cast<std::size_t>(r.name)]
             : kNone;
}

std::vector<TimelineGpu> timeline_gpus(const std::vector<int>& gpus,
                                       const std::vector<int>& gpu_stage,
                                       const std::vector<int>& stage_gpu) {
  const int stages = static_cast<int>(stage_gpu.size());
  // Simulated GPUs by stage, increasing id; a run without GPU lists has the stage GPUs alone.
  std::vector<std::vector<int>> by_stage(static_cast<std::size_t>(stages));
  if (gpus.size() == gpu_stage.size() && !gpus.empty()) {
    for (std::size_t k = 0; k < gpus.size(); ++k)
      if (gpu_stage[k] >= 0 && gpu_stage[k] < stages)
        by_stage[static_cast<std::size_t>(gpu_stage[k])].push_back(gpus[k]);
  } else {
    for (int st = 0; st < stages; ++st) by_stage[static_cast<std::size_t>(st)] = {stage_gpu[static_cast<std::size_t>(st)]};
  }
  std::size_t total = 0;
  for (auto& v : by_stage) {
    std::sort(v.begin(), v.end());
    total += v.size();
  }
  const std::vector<int> shown = total <= kTimelineGpus ? [&] {
    std::vector<int> all(static_cast<std::size_t>(stages));
    for (int st = 0; st < stages; ++st) all[static_cast<std::size_t>(st)] = st;
    return all;
  }() : timeline_stages(stages);
  const std::size_t per_stage =
      total <= kTimelineGpus ? total : std::max<std::size_t>(1, kTimelineGpus / std::max<std::size_t>(1, shown.size()));
  std::vector<TimelineGpu> out;
  for (int st : shown) {
    const auto& v = by_stage[static_cast<std::size_t>(st)];
    const int first = stage_gpu[static_cast<std::size_t>(st)];
    // The stage's rank-0 GPU first (the one the report's per-stage figures describe), then
    // the stage's other GPUs by id.
    std::vector<int> pick;
    if (std::find(v.begin(), v.end(), first) != v.end() || v.empty()) pick.push_back(first);
    for (int g : v)
      if (pick.size() < per_stage && g != first) pick.push_back(g);
    std::sort(pick.begin(), pick.end());
    for (int g : pick) out.push_back({g, st});
  }
  return out;
}

PipelineTimeline pipeline_timeline(const DesStep& des, const Scenario& s) {
  PipelineTimeline t;
  t.stages = static_cast<int>(des.stage_gpu.size());
  t.gpus = timeline_gpus(des.run.gpus, des.run.gpu_stage, des.stage_gpu);
  for (const auto& g : t.gpus)
    if (t.shown_stages.empty() || t.shown_stages.back() != g.stage) t.shown_stages.push_back(g.stage);
  t.simulated_gpus = des.run.gpus.empty() ? t.stages : static_cast<std::int64_t>(des.run.gpus.size());
  t.step_time_s = des.result.step_time.value;
  t.schedule = schedule_name(s.parallelism.schedule);
  t.micro_batches = s.micro_batches();
  t.total_tasks = des.run.task_records.size();
  t.names = des.run.names;
  std::vector<int> drawn;
  for (const auto& g : t.gpus) drawn.push_back(g.gpu);
  std::sort(drawn.begin(), drawn.end());
  for (const auto& r : des.run.task_records) {
    if (r.stage < 0 || r.stage >= t.stages) continue;
    TaskRecord rec = r;
    // -1: the stage's rank-0 GPU (op_sim.hpp).
    if (rec.gpu < 0) rec.gpu = des.stage_gpu[static_cast<std::size_t>(r.stage)];
    if (std::binary_search(drawn.begin(), drawn.end(), rec.gpu)) t.tasks.push_back(rec);
  }
  return t;
}

PipelineTimeline pipeline_timeline(const Scenario& s) {
  try {
    DesOptions options;
    options.record_tasks = true;
    return pipeline_timeline(simulate_step_des_detailed(s, options), s);
  } catch (const std::exception& e) {
    PipelineTimeline t;
    t.error = e.what();
    return t;
  }
}

std::string task_group(TaskKind kind) {
  switch (kind) {
    case TaskKind::Forward: return "forward";
    case TaskKind::Backward:
    case TaskKind::BackwardInput: return "backward";
    case TaskKind::WeightGrad: return "weight grad";
    case TaskKind::TpComm: return "TP comm";
    case TaskKind::EpComm: return "EP comm";
    case TaskKind::Optimizer: return "optimizer";
    case TaskKind::SendActivation:
    case TaskKind::SendGradient: return "PP send";
    case TaskKind::DpReduceScatter:
    case TaskKind::DpAllGather: return "DP comm";
  }
  return "other";
}

std::string lane_name(StreamLane lane) {
  switch (lane) {
    case StreamLane::Compute: return "compute";
    case StreamLane::SendForward: return "send fwd";
    case StreamLane::SendBackward: return "send bwd";
    case StreamLane::DataParallel: return "DP";
    case StreamLane::Comm: return "comm";
    case StreamLane::WgradCompute: return "wgrad";
    case StreamLane::CommAsync: return "comm async";
  }
  return "other";
}

// ---- compare -------------------------------------------------------------------------------

std::string layout_label(const Report& r) {
  const auto& s = r.scenario;
  const auto& p = s.parallelism;
  std::string out = std::to_string(s.cluster.gpus) + "×" + s.gpu.name + " tp" +
                    std::to_string(p.tp) + " pp" + std::to_string(p.pp);
  if (p.cp > 1) out += " cp" + std::to_string(p.cp);
  if (p.ep > 1 || s.model.is_moe()) out += " ep" + std::to_string(p.ep);
  if (p.vpp > 1) out += " vpp" + std::to_string(p.vpp);
  return out;
}

std::vector<Metric> key_metrics(const Report& r) {
  return {{"GPUs", "", static_cast<double>(r.scenario.cluster.gpus), "GPUs"},
          {"step time", "s", r.step.step_time.value, "step"},
          {"MFU", "%", 100.0 * r.step.mfu, "MFU"},
          {"tokens/s/GPU", "", r.step.tokens_per_s_per_gpu, "tok/s/GPU"},
          {"wall time", "days", r.run.wall_days, "days"},
          {"GPU-hours", "", r.run.gpu_hours, "GPU-h"},
          {"cost", "USD", r.cost.total_usd, "cost"},
          {"cost per M tokens", "USD", r.cost.usd_per_million_tokens, "$/M tok"},
          {"memory per GPU", "GiB", to_gib(r.step.memory.total()), "memory"},
          {"energy", "MWh", r.cost.energy_mwh, "energy"}};
}

double delta_percent(double value, double base) {
  if (base == 0 || !std::isfinite(base) || !std::isfinite(value)) return 0.0;
  return 100.0 * (value - base) / base;
}

// ---- formatting ----------------------------------------------------------------------------

std::string format_si(double v) {
  if (!std::isfinite(v)) return "n/a";
  static const char* suffix[] = {"", " K", " M", " B", " T", " P"};
  int u = 0;
  if (std::fabs(v) >= 1e4) {
    while (std::fabs(v) >= 1000 && u < 5) {
      v /= 1000;
      ++u;
    }
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.4g%s", v, suffix[u]);
  return buf;
}

std::string format_fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace clustercost
