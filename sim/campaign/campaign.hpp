#pragma once
/// The training campaign: the whole run, step after step, with failures, checkpoints, restarts,
/// spare nodes and repairs, as a discrete-event Monte Carlo over replicas.
///
/// Model (one replica). The job needs `compute_time` of failure-free work. It checkpoints after
/// every `checkpoint_interval` of work; a write takes `checkpoint_write` (the job stops
/// meanwhile). Failures of six classes (scenario.hpp FailureClass) arrive as Poisson processes
/// while the job runs (computing or writing); their superposition is drawn once (exponential
/// inter-arrival at the total rate), then the class by its share of the rate. A failure loses
/// everything since the last completed checkpoint, then the job restarts (`restart`). A hardware
/// failure (gpu, hbm, nic, host) swaps the node for a spare and sends it to repair for `repair`;
/// with no spare left the job waits for the earliest repair, then restarts. Switch/cable and
/// software failures only restart. Components are assumed not to fail while the job is down
/// (restart health checks absorb them). Checkpoints are placed by work, not snapped to step
/// boundaries (a step is seconds, an interval tens of minutes), and no checkpoint is written
/// after the last segment. Lost time per failure is then exactly the up-time since the last
/// checkpoint modulo the cycle c = τ + δ: E = 1/Λ − c/(e^{Λc} − 1) ≈ c/2 (plus the restart).
///
/// Each replica draws from its own generator seeded from (seed, replica index), so a replica's
/// result does not depend on how many replicas run, and runs are identical for the same seed on
/// every platform (our own xoshiro256** and transforms; no std::*_distribution).

#include <array>
#include <cstdint>
#include <optional>

#include "sim/campaign/run_result.hpp"

namespace clustercost {

/// Step time as a function of the global batch (sequences): the line through two simulated
/// steps (a pipeline step is affine in its micro-batch count: (m + p − 1) slots plus fixed
/// data-parallel and optimizer time), or proportional to the batch (constant throughput) when
/// only one point is known. Never below 1% of the proportional value (guards extrapolation).
struct StepTimeCurve {
  double batch_a = 0;
  Seconds time_a;
  double batch_b = 0;   // 0: one point only
  Seconds time_b;
  Seconds at(double batch) const;
};

/// The longest campaign simulated: 100 years, well inside the 292 years that int64 nanoseconds
/// span, so checkpoints, restarts and waits on top of the compute cannot overflow the clock.
inline constexpr double kCampaignHorizonYears = 100.0;

/// Failure-free compute of the whole run.
struct ComputePlan {
  std::int64_t steps = 0;
  SimTime compute;                // failure-free time, integer ns (exact: steps × step ns)
  Seconds compute_time;           // the same, in seconds
  Seconds step_time;              // at the full global batch
  std::int64_t ramp_steps = 0;    // steps inside the batch ramp (0 without one)
  Seconds ramp_time;
};

/// Without a ramp: steps × step time (exactly, in integer ns). With `training.batch_ramp` the
/// batch grows linearly in tokens, B(x) = B0 + (B1 − B0)·x/X; steps and time over the ramp are
/// the integrals ∫dx/(B·seq) = X·ln(B1/B0)/((B1 − B0)·seq) and ∫T(B)/(B·seq) dx (closed form for
/// an affine T), then steps at the full batch for the remaining tokens.
/// Throws InfeasibleError (training.tokens, with the numbers) when the compute alone exceeds
/// kCampaignHorizonYears.
ComputePlan plan_compute(const Scenario& s, const StepTimeCurve& curve);

/// The batch at which to simulate the curve's second point for a batch ramp: the smallest batch
/// ≥ the ramp's start that the scenario's schedule accepts (a multiple of dp·micro_batch, of
/// pp micro-batches for interleaved, at least 2·pp micro-batches for DualPipe); nullopt without a
/// ramp or when no such batch is below global_batch.
std::optional<std::int64_t> ramp_probe_batch(const Scenario& s);

/// Everything one campaign needs, resolved; a plain struct so tools (bench, tests) can set it.
struct CampaignParams {
  SimTime compute;                  // failure-free work
  std::int64_t steps = 0;
  std::int64_t gpus = 0;
  std::array<double, kFailureClassCount> job_rate_per_hour{};  // whole job, per class
  SimTime checkpoint_interval;      // work between checkpoints; zero: never checkpoint
  SimTime checkpoint_write;
  SimTime restart;
  std::int64_t spare_nodes = 0;
  SimTime repair;
  int replicas = 0;
  std::uint64_t seed = 1;
  /// Stop a replica (InfeasibleError) when it has not finished after this long.
  SimTime horizon = SimTime::from_seconds(days(kCampaignHorizonYears * 365.0));

  double total_rate_per_hour() const;
};

/// Resolves the scenario's reliability section against a compute plan: job rate per class =
/// per-unit rate × units (GPUs, NICs = GPUs, or nodes); interval given or Young/Daly
/// τ = √(2δ/Λ), at least one step, none when nothing fails.
CampaignParams campaign_params(const Scenario& s, const ComputePlan& plan);

/// One replica (index `replica`, generator seeded from (p.seed, replica)).
ReplicaOutcome simulate_replica(const CampaignParams& p, std::uint64_t replica);

/// p.replicas replicas, summarised into a RunResult (headline fields: the Monte Carlo means;
/// model "monte-carlo (N replicas)").
RunResult simulate_campaign(const CampaignParams& p);

/// The expected-value model (run_result.hpp, estimate_run) on a plan and resolved parameters.
RunResult expected_run(const Scenario& s, const ComputePlan& plan, const CampaignParams& p);

/// The run of a scenario: plan_compute from the step (and, with a batch ramp, the step simulated
/// at ramp_probe_batch), the expected-value model, then the Monte Carlo campaign unless
/// reliability.replicas is 0. Throws InfeasibleError when the job cannot make progress.
RunResult run_campaign(const Scenario& s, const StepResult& step,
                       const StepResult* ramp_probe = nullptr);

}  // namespace clustercost
