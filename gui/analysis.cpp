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
                                       const std::atomic<bool>* cancel) {
  std::vector<std::int64_t> counts;
  for (double f : factors) {
    const auto g = static_cast<std::int64_t>(std::llround(static_cast<double>(base.cluster.gpus) * f));
    if (g >= 1) counts.push_back(g);
  }
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());

  std::vector<ScalingLine> lines;
  for (const GpuSpec& gpu : catalog.gpus()) {
    ScalingLine line{gpu.name, {}};
    Json variant = doc;
    if (!variant.is_object() || !variant.contains("cluster") || !variant["cluster"].is_object())
      break;
    // dp follows from the GPU count; a given dp would contradict every other count.
    erase_key(variant, "parallelism", "dp");
    erase_key(variant, "cluster", "pools");
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
        const Report r = run_scenario(s);
        if (!std::isfinite(r.run.wall_days) || !std::isfinite(r.cost.total_usd)) continue;
        line.points.push_back({g, r.run.wall_days, r.cost.total_usd, r.cost.gpu_hour_usd,
                               r.step.memory.fits()});
      } catch (const std::exception&) {
        // Layouts that do not divide, precisions the GPU lacks, infeasible runs: not a point.
      }
    }
    if (!line.points.empty()) lines.push_back(std::move(line));
  }
  return lines;
}

// ---- timeline ------------------------------------------------------------------------------

TimelineSketch sketch_pipeline(const StepResult& step, Schedule schedule,
                               std::int64_t micro_batches, int max_micro_batches) {
  TimelineSketch t;
  t.stages = static_cast<int>(step.stages.size());
  t.micro_batches_total = micro_batches;
  const int p = t.stages;
  const int m = static_cast<int>(std::clamp<std::int64_t>(micro_batches, 0, max_micro_batches));
  t.micro_batches = m;
  if (p == 0 || m == 0) return t;

  const bool gpipe = schedule == Schedule::GPipe;
  t.schedule = gpipe ? "GPipe" : "1F1B";
  if (!gpipe && schedule != Schedule::OneFOneB)
    t.note = "drawn as 1F1B: the " + schedule_name(schedule) +
             " schedule's finer interleaving is not sketched; ";
  if (m < micro_batches)
    t.note += "first " + std::to_string(m) + " of " + std::to_string(micro_batches) +
              " micro-batches; ";
  t.note += "compute only (communication not drawn), so gaps are pipeline bubble";

  // Per stage, the order in which it runs its operations: (backward?, micro-batch).
  std::vector<std::vector<std::pair<bool, int>>> order(static_cast<std::size_t>(p));
  for (int s = 0; s < p; ++s) {
    auto& o = order[static_cast<std::size_t>(s)];
    if (gpipe) {
      for (int i = 0; i < m; ++i) o.push_back({false, i});
      for (int i = 0; i < m; ++i) o.push_back({true, i});
    } else {
      const int warmup = std::min(p - s - 1, m);
      for (int i = 0; i < warmup; ++i) o.push_back({false, i});
      for (int i = 0; i < m - warmup; ++i) {
        o.push_back({false, warmup + i});
        o.push_back({true, i});
      }
      for (int i = m - warmup; i < m; ++i) o.push_back({true, i});
    }
  }

  const auto P = static_cast<std::size_t>(p), M = static_cast<std::size_t>(m);
  std::vector<std::vector<double>> f_end(P, std::vector<double>(M, -1.0));
  std::vector<std::vector<double>> b_end(P, std::vector<double>(M, -1.0));
  std::vector<std::size_t> next(P, 0);
  std::vector<double> free_at(P, 0.0);
  t.busy_s.assign(P, 0.0);
  bool progress = true;
  while (progress) {
    progress = false;
    for (std::size_t s = 0; s < P; ++s) {
      while (next[s] < order[s].size()) {
        const auto [bwd, i] = order[s][next[s]];
        const auto k = static_cast<std::size_t>(i);
        double ready = 0;
        if (!bwd) {
          if (s > 0) {
            if (f_end[s - 1][k] < 0) break;
            ready = f_end[s - 1][k];
          }
        } else if (s + 1 < P) {
          if (b_end[s + 1][k] < 0) break;
          ready = b_end[s + 1][k];
        } else {
          ready = f_end[s][k];
        }
        const auto& st = step.stages[s];
        const double dur = std::max(0.0, bwd ? st.backward.value : st.forward.value);
        const double start = std::max(free_at[s], ready);
        const double end = start + dur;
        (bwd ? b_end : f_end)[s][k] = end;
        free_at[s] = end;
        t.busy_s[s] += dur;
        t.blocks.push_back({static_cast<int>(s), i, bwd, start, end});
        ++next[s];
        progress = true;
      }
    }
  }
  for (double f : free_at) t.makespan_s = std::max(t.makespan_s, f);
  return t;
}

// ---- compare -------------------------------------------------------------------------------

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
