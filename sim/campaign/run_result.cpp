#include "sim/campaign/run_result.hpp"

#include <algorithm>
#include <cmath>

#include "sim/campaign/campaign.hpp"

namespace clustercost {

Distribution summarize(std::vector<double> samples) {
  Distribution d;
  if (samples.empty()) return d;
  std::sort(samples.begin(), samples.end());
  double sum = 0;
  for (double v : samples) sum += v;
  d.mean = sum / static_cast<double>(samples.size());
  // Hyndman & Fan type 7: h = (n − 1)·q, interpolate between floor(h) and floor(h) + 1.
  auto quantile = [&](double q) {
    const double h = (static_cast<double>(samples.size()) - 1.0) * q;
    const auto lo = static_cast<std::size_t>(std::floor(h));
    const std::size_t hi = std::min(lo + 1, samples.size() - 1);
    return samples[lo] + (h - static_cast<double>(lo)) * (samples[hi] - samples[lo]);
  };
  d.p10 = quantile(0.1);
  d.p50 = quantile(0.5);
  d.p90 = quantile(0.9);
  return d;
}

RunResult estimate_run(const Scenario& s, const StepResult& step) {
  const StepTimeCurve curve{static_cast<double>(s.training.global_batch), step.step_time, 0,
                            Seconds()};
  const ComputePlan plan = plan_compute(s, curve);
  return expected_run(s, plan, campaign_params(s, plan));
}

}  // namespace clustercost
