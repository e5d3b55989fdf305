#pragma once
/// What a run costs: GPU time (rented, or owned and amortised), energy at the wall (server draw
/// × PUE), dollars per million tokens, and optionally CO2.
///
/// Rental (economics.model "rental", the default): job GPU-hours × USD per GPU-hour, which is
/// what DeepSeek-V3's $5.576M assumes (arXiv 2412.19437); energy is in the rate and reported for
/// information only. Ownership: (purchase + server share + network share) per GPU, amortised
/// linearly over lifetime_years, for the job's GPUs and the spare nodes, for the wall time of
/// the run; plus the energy. Either way GPUs idle in checkpoint writes, restarts and waits for
/// spares still cost: the bill runs on wall time, not on compute time.
///
/// Power (per GPU, the server's draw shared over its GPUs): full draw P = node_power_w / GPUs
/// per node (hardware.md §3, the server at max), or the GPU TDP when the node is unknown.
/// Computing: P·(f + (1 − f)·busy) with busy the step's compute fraction; idle (restarts, waits,
/// checkpoint writes): P·f, f = economics.idle_power_fraction (an ESTIMATE, flagged).

#include <optional>
#include <string>

#include "sim/campaign/run_result.hpp"

namespace clustercost {

struct CostResult {
  std::string model = "rental";   // "rental" or "ownership"
  double total_usd = 0;           // Monte Carlo mean when the run has replicas
  double usd_per_million_tokens = 0;
  double energy_mwh = 0;          // facility energy (IT × PUE)
  double gpu_rental_usd = 0;      // rental: GPU-hours × rate (includes idle time in restarts)
  double hardware_usd = 0;        // ownership: amortised purchase + server + network, spares too
  double energy_usd = 0;          // energy × USD/kWh; zero under rental (priced into the rate)
  double gpu_hour_usd = 0;        // rental rate, or the ownership cost of one GPU-hour
  double capex_usd = 0;           // ownership: what the job's GPUs and spares cost to buy
  double average_gpu_power_w = 0; // while computing, per GPU (server share)
  /// What failures add: this run's cost minus the same run without failures, checkpoints or
  /// restarts (idle GPUs still cost).
  double failure_overhead_usd = 0;
  std::optional<double> co2_tonnes;  // when economics.co2_kg_per_kwh is given
  Distribution total_usd_dist;       // over replicas (all equal to the mean without them)
};

/// The cost of a run. `include_energy` prices the energy under rental too.
CostResult estimate_cost(const Scenario& s, const StepResult& step, const RunResult& run,
                         bool include_energy = false);

}  // namespace clustercost
