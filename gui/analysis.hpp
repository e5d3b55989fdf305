#pragma once
/// What the result tabs compute beyond one report, without Qt: the GPU-count × GPU-type
/// scaling sweep, the discrete-event timeline of one step, the metrics of the compare table, and
/// the number formatting shared by the cards and the table.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "hardware/spec/catalog.hpp"
#include "sim/report/report.hpp"
#include "sim/workload/des_step.hpp"
#include "sim/workload/pipeline_sim.hpp"

namespace clustercost {

// ---- scaling -------------------------------------------------------------------------------

struct ScalingPoint {
  std::int64_t gpus = 0;
  double wall_days = 0;
  double total_usd = 0;
  double gpu_hour_usd = 0;
  double step_s = 0;  // step time at the sweep's fidelity (the note compares it with the DES's)
  bool fits = true;   // memory fits in HBM
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
/// while the GUI keeps editing its own copy of the document. `fidelity` ("analytical" or "des")
/// sets `simulation.fidelity` of every point; empty keeps the scenario's own. The points share
/// one StepCache (topology and routing samples).
std::vector<ScalingLine> scaling_sweep(const Catalog& catalog, const DataDirs& dirs,
                                       const std::string& file, const Json& doc,
                                       const Scenario& base,
                                       const std::vector<double>& factors,
                                       const std::atomic<bool>* cancel = nullptr,
                                       const std::string& fidelity = {});

/// The fidelity the GUI's scaling tab runs its points at: the analytical step model. The tab is
/// a what-if chart of ~50 points (every catalogue GPU type × 5 counts); the DES takes up to a
/// second per point on large scenarios, the analytical model milliseconds, and the tab says
/// which model it shows next to the scenario's own DES step.
inline constexpr const char* kScalingFidelity = "analytical";

// ---- timeline ------------------------------------------------------------------------------

/// One GPU the timeline draws: a group of rows, one per stream it uses.
struct TimelineGpu {
  int gpu = -1;    ///< GPU id (-1: the stage's GPU, for timelines built without GPU ids)
  int stage = 0;   ///< its pipeline stage
};

/// The op-level discrete-event simulation of one step (sim/workload/des_step.hpp) as the
/// timeline tab draws it: the task records of the drawn GPUs (timeline_gpus), each task one op
/// of the op program on one of its GPU's streams, named by `names`.
struct PipelineTimeline {
  int stages = 0;                   ///< pipeline stages simulated
  std::vector<int> shown_stages;    ///< stages with a drawn GPU, increasing (timeline_stages)
  std::vector<TimelineGpu> gpus;    ///< drawn GPUs in row order (by stage, then GPU id)
  std::int64_t simulated_gpus = 0;  ///< GPUs the DES simulated (run.gpus)
  double step_time_s = 0;           ///< DES makespan (its step time)
  std::string schedule;             ///< schedule_name of the scenario
  std::int64_t micro_batches = 0;   ///< per pipeline per step
  std::size_t total_tasks = 0;      ///< task records of every simulated GPU
  /// The records of the drawn GPUs, in task-id order; `gpu` is filled in (never -1) when the
  /// timeline comes from pipeline_timeline.
  std::vector<TaskRecord> tasks;
  std::vector<std::string> names;   ///< op names, indexed by TaskRecord::name
  std::string error;                ///< why there is no timeline (the DES threw); else empty

  /// The op name of `r` ("" when it has none).
  const std::string& op_name(const TaskRecord& r) const;
};

/// Stages the timeline draws: all of them up to 16, else the first 8 and the last 8 (the ends
/// of the pipeline, where warm-up and cool-down bubbles are, stay readable at ~60 rows).
std::vector<int> timeline_stages(int stages);

/// GPUs the timeline draws, from the simulated GPUs `gpus` (with their stages `gpu_stage`) and
/// each stage's rank-0 GPU `stage_gpu`: every simulated GPU when there are at most
/// kTimelineGpus; else, for each stage of timeline_stages, its rank-0 GPU and the next GPUs of
/// that stage by id, at most max(1, kTimelineGpus / shown stages) per stage. By stage, then id.
inline constexpr std::size_t kTimelineGpus = 16;
std::vector<TimelineGpu> timeline_gpus(const std::vector<int>& gpus,
                                       const std::vector<int>& gpu_stage,
                                       const std::vector<int>& stage_gpu);

/// The timeline of a finished DES run (`des.run.task_records` filled), keeping the records of
/// timeline_gpus.
PipelineTimeline pipeline_timeline(const DesStep& des, const Scenario& s);

/// Runs the DES of `s` with task records, whatever `s.simulation.fidelity` says, and returns its
/// timeline; a scenario the DES rejects gives an empty timeline whose `error` says why. Only
/// reads its argument (safe on a worker thread).
PipelineTimeline pipeline_timeline(const Scenario& s);

/// Legend name of a task kind ("forward", "backward", "weight grad", "TP comm", "EP comm",
/// "PP send", "DP comm", "optimizer"): kinds that share a colour share a name.
std::string task_group(TaskKind kind);
/// Row name of a stream ("compute", "send fwd", "send bwd", "DP").
std::string lane_name(StreamLane lane);

// ---- links ---------------------------------------------------------------------------------

// links_by_utilisation (sim/report/report.hpp) orders the traffic tab's links, as the
// reports list them.

// ---- compare -------------------------------------------------------------------------------

struct Metric {
  std::string name;
  std::string unit;
  double value = 0;
  std::string short_name;  // chart category label
};

/// What a result is, in one line: "2048×H800-SXM tp1 pp16 ep64" (cp, vpp and dp when they
/// are not implied: cp > 1, vpp > 1).
std::string layout_label(const Report& r);

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
