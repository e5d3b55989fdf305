#include "sim/campaign/campaign_bench.hpp"

#include <chrono>
#include <cmath>

#include "sim/campaign/campaign.hpp"

namespace clustercost {

CampaignBench bench_campaign(const Scenario& s, Seconds step_time, double compute_days,
                             int replicas) {
  ComputePlan plan;
  plan.step_time = step_time;
  plan.steps = static_cast<std::int64_t>(std::ceil(days(compute_days) / step_time));
  plan.compute_time = days(compute_days);
  plan.compute = SimTime::from_seconds(plan.compute_time);
  CampaignParams p = campaign_params(s, plan);
  p.replicas = replicas;
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = simulate_campaign(p);
  CampaignBench b;
  b.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  b.replicas = replicas;
  b.gpus = s.cluster.gpus;
  b.compute_days = compute_days;
  b.mean_wall_days = r.wall_days;
  b.mean_interruptions = r.interruptions;
  return b;
}

}  // namespace clustercost
