#pragma once
/// What a run costs: rental GPU-hours, energy at the wall (GPU draw × PUE) and dollars.

#include "sim/campaign/run_result.hpp"

namespace clustercost {

struct CostResult {
  double total_usd = 0;
  double usd_per_million_tokens = 0;
  double energy_mwh = 0;          // facility energy (IT × PUE)
  double gpu_rental_usd = 0;      // GPU-hours × rental price (includes idle time in restarts)
  double energy_usd = 0;          // energy × USD/kWh; zero under rental (priced into the rate)
  double gpu_hour_usd = 0;
  double average_gpu_power_w = 0;
};

/// Rental model: GPU-hours × USD per GPU-hour (what DeepSeek-V3's $5.576M assumes); energy is
/// reported for information and priced only when `include_energy` (ownership).
/// GPU power: TDP while computing, and while idle in the pipeline or waiting on communication
/// we count TDP × busy fraction only (idle draw is not in the sourced data; an underestimate).
CostResult estimate_cost(const Scenario& s, const StepResult& step, const RunResult& run,
                         bool include_energy = false);

}  // namespace clustercost
