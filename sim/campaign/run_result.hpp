#pragma once
/// A whole training run from a step result: steps, wall time, GPU-hours, interruptions.
/// This is the expected-value model (first-order Young/Daly); the Monte Carlo campaign
/// refines it with distributions.

#include <cstdint>
#include <string>

#include "sim/scenario/scenario.hpp"
#include "sim/step/step_result.hpp"

namespace clustercost {

struct RunResult {
  std::int64_t steps = 0;
  Seconds compute_time;          // steps × step time, no failures
  Seconds wall_time;             // with checkpoints, failures, restarts
  double wall_days = 0;
  double gpu_hours = 0;
  double interruptions = 0;      // expected number of unexpected interruptions
  double goodput = 0;            // compute_time / wall_time
  Seconds checkpoint_interval;   // used (given, or the Young/Daly optimum)
  Seconds job_mtbf;              // mean time between failures of the whole job
  std::string model = "expected-value";
};

/// Expected-value run: job failure rate λ = GPUs / GPU MTBF; checkpoints every τ (default
/// Young/Daly τ = √(2δ/λ), Young 1974, Daly 2006) cost δ each; each failure loses τ/2 of work
/// plus the restart R, so wall = T·(1 + δ/τ) / (1 − λ(τ/2 + R)). Throws InfeasibleError when
/// failures arrive faster than the job can make progress.
RunResult estimate_run(const Scenario& s, const StepResult& step);

}  // namespace clustercost
