#pragma once
/// What the result tabs compute beyond one report, without Qt: the GPU-count × GPU-type
/// scaling sweep, the pipeline Gantt sketch of one step, the metrics of the compare table, and
/// the number formatting shared by the cards and the table.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "hardware/spec/catalog.hpp"
#include "sim/report/report.hpp"

namespace clustercost {

// ---- scaling -------------------------------------------------------------------------------

struct ScalingPoint {
  std::int64_t gpus = 0;
  double wall_days = 0;
  double total_usd = 0;
  double gpu_hour_usd = 0;
  bool fits = true;  // memory fits in HBM
};

/// One GPU type's points, in increasing GPU count.
struct ScalingLine {
  std::string gpu;
  std::vector<ScalingPoint> points;
};

/// The GPU-count multipliers of the scaling tab.
std::vector<double> default_scaling_factors();

/// Runs `doc` with `cluster.gpus` = round(base × factor) for each factor and each GPU type of
/// the catalogue, keeping the model and the layout. Points that fail to validate or to run are
/// skipped (GPU types with no point are left out); points that do not fit in memory are kept
/// with `fits` false, so the user sees the trend and where it stops being feasible. For GPU types
/// other than the scenario's own, GPU-specific keys (profile, node, scale-up bandwidth, pools)
/// are dropped and the price is the catalogue's rental price. Stops early (returning what it
/// has) when `cancel` becomes true. Only reads its arguments, so it may run on a worker thread
/// while the GUI keeps editing its own copy of the document.
std::vector<ScalingLine> scaling_sweep(const Catalog& catalog, const DataDirs& dirs,
                                       const std::string& file, const Json& doc,
                                       const Scenario& base,
                                       const std::vector<double>& factors,
                                       const std::atomic<bool>* cancel = nullptr);

// ---- timeline ------------------------------------------------------------------------------

struct TimelineBlock {
  int stage = 0;
  int micro_batch = 0;
  bool backward = false;
  double start_s = 0;
  double end_s = 0;
};

/// A Gantt sketch of one step's pipeline from the per-stage forward and backward compute times
/// (StepResult::stages): no communication, so the gaps are the bubble of the schedule.
struct TimelineSketch {
  int stages = 0;
  int micro_batches = 0;        // drawn
  std::int64_t micro_batches_total = 0;
  double makespan_s = 0;
  std::string schedule;         // what was drawn ("1F1B", "GPipe")
  std::string note;             // approximations made
  std::vector<TimelineBlock> blocks;
  std::vector<double> busy_s;   // per stage
};

/// GPipe draws all forwards then all backwards; every other schedule is drawn as 1F1B
/// (PipeDream-flush, Narayanan et al. 2021) and says so in `note`. At most
/// `max_micro_batches` are drawn.
TimelineSketch sketch_pipeline(const StepResult& step, Schedule schedule,
                               std::int64_t micro_batches, int max_micro_batches = 256);

// ---- compare -------------------------------------------------------------------------------

struct Metric {
  std::string name;
  std::string unit;
  double value = 0;
  std::string short_name;  // chart category label
};

/// The metrics of the compare table, in display order.
std::vector<Metric> key_metrics(const Report& r);
/// (value − base) / base in percent; 0 when base is 0.
double delta_percent(double value, double base);

// ---- formatting ----------------------------------------------------------------------------

/// 4 significant digits with a K/M/B/T suffix above 10 000 ("2.788 M", "57.29", "0.3921").
std::string format_si(double v);
/// Fixed decimals ("39.21").
std::string format_fixed(double v, int decimals);

}  // namespace clustercost
