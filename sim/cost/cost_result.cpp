#include "sim/cost/cost_result.hpp"

#include <algorithm>
#include <vector>

namespace clustercost {

namespace {

constexpr double kHoursPerYear = 8766.0;  // 365.25 days

/// Cost of one run given its wall time and the time its GPUs spent computing.
struct RunCost {
  double rental = 0, hardware = 0, energy_usd = 0, facility_kwh = 0;
  double total() const { return rental + hardware + energy_usd; }
};

struct CostModel {
  bool ownership = false;
  bool price_energy = false;
  double gpus = 0;
  double owned_gpus = 0;        // job + spares (ownership)
  double rate_usd_per_gpu_h = 0;
  double owned_usd_per_gpu_h = 0;
  double busy_w = 0, idle_w = 0;  // per GPU
  double pue = 1, usd_per_kwh = 0;

  RunCost at(double wall_s, double busy_s) const {
    RunCost c;
    const double wall_h = wall_s / 3600.0;
    const double busy_h = std::min(busy_s, wall_s) / 3600.0;
    if (ownership) c.hardware = owned_gpus * wall_h * owned_usd_per_gpu_h;
    else c.rental = gpus * wall_h * rate_usd_per_gpu_h;
    const double it_kwh = gpus * (busy_h * busy_w + (wall_h - busy_h) * idle_w) / 1000.0;
    c.facility_kwh = it_kwh * pue;
    if (price_energy) c.energy_usd = c.facility_kwh * usd_per_kwh;
    return c;
  }
};

}  // namespace

CostResult estimate_cost(const Scenario& s, const StepResult& step, const RunResult& run,
                         bool include_energy) {
  const auto& ec = s.economics;
  CostResult out;
  out.model = ec.model;
  CostModel m;
  m.ownership = ec.model == "ownership";
  m.price_energy = include_energy || m.ownership;
  m.gpus = static_cast<double>(s.cluster.gpus);
  m.owned_gpus = m.gpus + static_cast<double>(s.reliability.spare_nodes * s.cluster.gpus_per_node);
  m.rate_usd_per_gpu_h = ec.gpu_hour_usd;
  const double per_gpu_capex = ec.purchase_usd + ec.server_share_usd + ec.network_share_usd;
  m.owned_usd_per_gpu_h = per_gpu_capex / (ec.lifetime_years * kHoursPerYear);
  double full_w = s.gpu.tdp_w.get();
  if (s.node && s.node->node_power_w.get() > 0 && s.node->gpus_per_node > 0)
    full_w = s.node->node_power_w.get() / s.node->gpus_per_node;
  const double f = ec.idle_power_fraction;
  m.busy_w = full_w * (f + (1.0 - f) * step.busy_fraction);
  m.idle_w = full_w * f;
  m.pue = ec.pue;
  m.usd_per_kwh = ec.usd_per_kwh;

  const double compute_s = run.compute_time.value;
  std::vector<double> totals;
  RunCost mean;
  if (!run.outcomes.empty()) {
    const double n = static_cast<double>(run.outcomes.size());
    for (const auto& o : run.outcomes) {
      const RunCost c = m.at(o.wall.seconds().value, compute_s + o.lost_work.seconds().value);
      totals.push_back(c.total());
      mean.rental += c.rental / n;
      mean.hardware += c.hardware / n;
      mean.energy_usd += c.energy_usd / n;
      mean.facility_kwh += c.facility_kwh / n;
    }
  } else {
    // Expected value: each interruption loses half an interval of work on average.
    const double lost = run.interruptions * run.checkpoint_interval.value / 2.0;
    mean = m.at(run.wall_time.value, compute_s + lost);
    totals.push_back(mean.total());
  }
  const RunCost ideal = m.at(compute_s, compute_s);

  out.gpu_hour_usd = m.ownership ? m.owned_usd_per_gpu_h : ec.gpu_hour_usd;
  out.gpu_rental_usd = mean.rental;
  out.hardware_usd = mean.hardware;
  out.energy_usd = mean.energy_usd;
  out.energy_mwh = mean.facility_kwh / 1000.0;
  out.total_usd = mean.total();
  out.total_usd_dist = summarize(totals);
  out.capex_usd = m.ownership ? m.owned_gpus * per_gpu_capex : 0.0;
  out.average_gpu_power_w = m.busy_w;
  out.failure_overhead_usd = out.total_usd - ideal.total();
  out.usd_per_million_tokens = out.total_usd / (s.training.tokens / 1e6);
  if (ec.co2_kg_per_kwh) out.co2_tonnes = mean.facility_kwh * *ec.co2_kg_per_kwh / 1000.0;
  return out;
}

}  // namespace clustercost
