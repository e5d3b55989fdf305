#include "sim/cost/cost_result.hpp"

namespace clustercost {

CostResult estimate_cost(const Scenario& s, const StepResult& step, const RunResult& run,
                         bool include_energy) {
  CostResult c;
  c.gpu_hour_usd = s.economics.gpu_hour_usd;
  c.gpu_rental_usd = run.gpu_hours * c.gpu_hour_usd;
  c.average_gpu_power_w = s.gpu.tdp_w.get() * step.busy_fraction;
  const double it_kwh = run.gpu_hours * c.average_gpu_power_w / 1000.0;
  const double facility_kwh = it_kwh * s.economics.pue;
  c.energy_mwh = facility_kwh / 1000.0;
  c.energy_usd = include_energy ? facility_kwh * s.economics.usd_per_kwh : 0.0;
  c.total_usd = c.gpu_rental_usd + c.energy_usd;
  c.usd_per_million_tokens = c.total_usd / (s.training.tokens / 1e6);
  return c;
}

}  // namespace clustercost
