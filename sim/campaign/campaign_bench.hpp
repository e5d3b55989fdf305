#pragma once
/// Timing of the Monte Carlo campaign for `clustercost bench` (a separate header so the bench,
/// which also includes the engine, does not see the campaign's RunResult).

#include <cstdint>

#include "sim/scenario/scenario.hpp"

namespace clustercost {

struct CampaignBench {
  int replicas = 0;
  std::int64_t gpus = 0;
  double compute_days = 0;
  double wall_seconds = 0;        // real time of the whole Monte Carlo
  double mean_wall_days = 0;
  double mean_interruptions = 0;
};

/// Runs `replicas` replicas of a campaign of the scenario's cluster and reliability section, with
/// `compute_days` of failure-free work at steps of `step_time`, and times it.
CampaignBench bench_campaign(const Scenario& s, Seconds step_time, double compute_days,
                             int replicas);

}  // namespace clustercost
