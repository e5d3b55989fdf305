#pragma once
/// A whole training run from a step result: steps, wall time, GPU-hours, interruptions.
/// Two models fill it: the expected-value model here (first-order Young/Daly, closed form) and
/// the Monte Carlo campaign of campaign.hpp (distributions over replicas), which `run` uses by
/// default. RunResult's headline fields are then the Monte Carlo means.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/scenario/scenario.hpp"
#include "sim/step/step_result.hpp"

namespace clustercost {

/// Mean and percentiles of one quantity over Monte Carlo replicas (percentiles interpolate
/// linearly between order statistics, Hyndman & Fan type 7, as numpy's default).
struct Distribution {
  double mean = 0, p10 = 0, p50 = 0, p90 = 0;
};
Distribution summarize(std::vector<double> samples);

/// What one replica of the campaign did. Time adds up exactly (integer ns):
/// wall = compute + checkpointing + lost_work + restarting + waiting.
struct ReplicaOutcome {
  SimTime wall;
  SimTime checkpointing;   // checkpoint writes whose work survived
  SimTime lost_work;       // work (and partial checkpoint writes) since the last checkpoint, lost
  SimTime restarting;      // restart after each interruption
  SimTime waiting;         // no spare node: waiting for a repaired one
  std::int64_t interruptions = 0;
  std::int64_t checkpoints = 0;
  std::array<std::int64_t, kFailureClassCount> by_class{};
};

struct RunResult {
  std::int64_t steps = 0;
  Seconds compute_time;          // Σ step times, no failures (with the batch ramp, if any)
  Seconds wall_time;             // with checkpoints, failures, restarts
  double wall_days = 0;
  double gpu_hours = 0;          // job GPUs × wall time (spares not included)
  double interruptions = 0;      // expected number of unexpected interruptions
  double goodput = 0;            // compute_time / wall_time
  Seconds checkpoint_interval;   // work between checkpoints (given, or the Young/Daly optimum)
  Seconds checkpoint_write;
  double checkpoint_gb = 0;
  Seconds job_mtbf;              // mean time between failures of the whole job (∞ when none)
  std::string model = "expected-value";

  /// Monte Carlo only (replicas > 0): distributions and the mean time budget.
  int replicas = 0;
  Distribution wall_days_dist, gpu_hours_dist, interruptions_dist, goodput_dist;
  Seconds mean_checkpointing, mean_lost_work, mean_restarting, mean_waiting;
  std::array<double, kFailureClassCount> mean_by_class{};
  Seconds lost_work_per_interruption;  // mean over all interruptions of all replicas
  std::vector<ReplicaOutcome> outcomes;  // per replica (the cost distribution uses them)
  /// With the batch ramp: steps and failure-free time of the ramp phase.
  std::int64_t ramp_steps = 0;
  Seconds ramp_time;
  /// Calendar, when the pool the run uses has `available_from` (the campaign starts then).
  std::string start_date, end_date_p50, end_date_p90;
};

/// Expected-value run: job failure rate λ = Σ class rates × units (GPUs / gpu_mtbf_hours with
/// the defaults); checkpoints every τ of work (default Young/Daly τ = √(2δ/λ), Young 1974,
/// Daly 2006, at least one step) cost δ each; each failure loses τ/2 of work plus the restart
/// R, so wall = T·(1 + δ/τ) / (1 − λ(τ/2 + R)). Spares are not modelled here. Throws
/// InfeasibleError when failures arrive faster than the job can make progress.
RunResult estimate_run(const Scenario& s, const StepResult& step);

}  // namespace clustercost
