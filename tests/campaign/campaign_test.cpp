// The Monte Carlo campaign: exactness without failures, Young/Daly lost time, determinism,
// spares, conservation of time, the batch ramp, and the scenario's reliability section.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/campaign/campaign.hpp"
#include "tests/common/shipped_data.hpp"

namespace clustercost {
namespace {

using test::load_shipped;

/// A step result with the fields the campaign reads.
StepResult fake_step(const Scenario& s, double step_s) {
  StepResult r;
  r.step_time = Seconds(step_s);
  r.tokens = s.tokens_per_step();
  r.busy_fraction = 0.8;
  return r;
}

const std::vector<std::string> kNoFailures = {
    "reliability.failure_rates_per_hour={\"gpu\":0,\"hbm\":0,\"nic\":0,\"switch\":0,\"host\":0,"
    "\"software\":0}",
    "reliability.checkpoint_interval_min=0"};

/// A synthetic campaign: λ per hour over the given classes, τ, δ, R in minutes.
CampaignParams synthetic(double job_rate_per_hour, double tau_min, double delta_min,
                         double restart_min, double compute_hours, int replicas) {
  CampaignParams p;
  p.compute = SimTime::from_seconds(hours(compute_hours));
  p.steps = 1000;
  p.gpus = 1024;
  p.job_rate_per_hour[static_cast<std::size_t>(FailureClass::Software)] = job_rate_per_hour;
  p.checkpoint_interval = SimTime::from_seconds(Seconds(tau_min * 60));
  p.checkpoint_write = SimTime::from_seconds(Seconds(delta_min * 60));
  p.restart = SimTime::from_seconds(Seconds(restart_min * 60));
  p.spare_nodes = 4;
  p.repair = SimTime::from_seconds(hours(48));
  p.replicas = replicas;
  p.seed = 7;
  return p;
}

TEST(Campaign, ZeroFailureRateIsStepsTimesStepTimeExactly) {
  const Scenario s = load_shipped("deepseek-v3-h800.json", kNoFailures);
  const StepResult step = fake_step(s, 21.37);
  const RunResult r = run_campaign(s, step);
  ASSERT_GT(r.replicas, 0);
  const std::int64_t expected = SimTime::from_seconds(step.step_time).ns * s.steps();
  EXPECT_EQ(r.steps, s.steps());
  for (const auto& o : r.outcomes) {
    EXPECT_EQ(o.wall.ns, expected);
    EXPECT_EQ(o.interruptions, 0);
    EXPECT_EQ(o.checkpoints, 0);
  }
  EXPECT_DOUBLE_EQ(r.goodput, 1.0);
  EXPECT_DOUBLE_EQ(r.wall_time.value, SimTime{expected}.seconds().value);
  EXPECT_DOUBLE_EQ(r.checkpoint_interval.value, 0.0);  // nothing fails: never checkpoint
}

TEST(Campaign, ZeroFailuresWithAnIntervalAddsOnlyTheWrites) {
  CampaignParams p = synthetic(0.0, 30, 2, 10, 100, 3);
  const ReplicaOutcome o = simulate_replica(p, 0);
  // 100 h of work in 30-min segments: 200 segments, a write after each but the last.
  EXPECT_EQ(o.checkpoints, 199);
  EXPECT_EQ(o.wall.ns, p.compute.ns + 199 * p.checkpoint_write.ns);
}

TEST(Campaign, TimeIsConservedInEveryReplica) {
  CampaignParams p = synthetic(0.5, 30, 2, 10, 300, 50);
  p.job_rate_per_hour[static_cast<std::size_t>(FailureClass::Gpu)] = 0.5;
  p.spare_nodes = 1;
  const RunResult r = simulate_campaign(p);
  ASSERT_EQ(r.outcomes.size(), 50u);
  for (const auto& o : r.outcomes) {
    EXPECT_EQ(o.wall.ns, p.compute.ns + o.checkpointing.ns + o.lost_work.ns + o.restarting.ns +
                             o.waiting.ns);
    EXPECT_EQ(o.restarting.ns, o.interruptions * p.restart.ns);
    std::int64_t by_class = 0;
    for (auto n : o.by_class) by_class += n;
    EXPECT_EQ(by_class, o.interruptions);
  }
}

TEST(Campaign, MeanLostTimePerFailureMatchesTheAnalyticalExpectation) {
  // λ = 1/h, τ = 20 min, δ = 2 min, R = 10 min; ~100 failures per replica, 250 replicas.
  const double lambda = 1.0 / 3600.0, tau = 20 * 60.0, delta = 2 * 60.0, restart = 600.0;
  const CampaignParams p = synthetic(1.0, 20, 2, 10, 80, 250);
  const RunResult r = simulate_campaign(p);
  ASSERT_GT(r.interruptions * r.replicas, 20000);
  // Up-time since the last checkpoint is an exponential gap modulo the cycle c = τ + δ.
  const double c = tau + delta;
  const double exact = 1.0 / lambda - c / std::expm1(lambda * c);
  EXPECT_NEAR(r.lost_work_per_interruption.value, exact, 0.02 * exact);
  const double per_failure = (r.mean_lost_work + r.mean_restarting).value / r.interruptions;
  EXPECT_NEAR(per_failure, exact + restart, 0.02 * (exact + restart));
  // Young/Daly's first-order c/2 overestimates it at this λc = 0.37 (c/2 = 660 s).
  EXPECT_LT(r.lost_work_per_interruption.value, c / 2.0);
  // With rare failures (λc = 0.018) the first-order τ/2 + δ/2 holds.
  const RunResult rare = simulate_campaign(synthetic(1.0, 1, 0.1, 10, 80, 250));
  EXPECT_NEAR(rare.lost_work_per_interruption.value, 33.0, 0.02 * 33.0);
}

TEST(Campaign, SameSeedSameResultsAndReplicasAreIndependentOfTheirCount) {
  CampaignParams p = synthetic(0.3, 30, 2, 10, 500, 40);
  const RunResult a = simulate_campaign(p), b = simulate_campaign(p);
  ASSERT_EQ(a.outcomes.size(), b.outcomes.size());
  for (std::size_t i = 0; i < a.outcomes.size(); ++i) {
    EXPECT_EQ(a.outcomes[i].wall.ns, b.outcomes[i].wall.ns);
    EXPECT_EQ(a.outcomes[i].interruptions, b.outcomes[i].interruptions);
  }
  EXPECT_EQ(a.wall_days_dist.p50, b.wall_days_dist.p50);
  CampaignParams fewer = p;
  fewer.replicas = 5;
  const RunResult c = simulate_campaign(fewer);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(c.outcomes[i].wall.ns, a.outcomes[i].wall.ns);
  CampaignParams other = p;
  other.seed = 8;
  const RunResult d = simulate_campaign(other);
  int same = 0;
  for (std::size_t i = 0; i < a.outcomes.size(); ++i) same += d.outcomes[i].wall.ns == a.outcomes[i].wall.ns;
  EXPECT_LT(same, 3);
}

TEST(Campaign, PercentilesAreOrderedAndBracketTheMean) {
  const RunResult r = simulate_campaign(synthetic(0.3, 30, 2, 10, 500, 200));
  for (const Distribution* d : {&r.wall_days_dist, &r.gpu_hours_dist, &r.interruptions_dist,
                                &r.goodput_dist}) {
    EXPECT_LE(d->p10, d->p50);
    EXPECT_LE(d->p50, d->p90);
    EXPECT_LT(d->p10, d->p90);  // failures vary between replicas
    EXPECT_GE(d->mean, d->p10 * 0.9);
    EXPECT_LE(d->mean, d->p90 * 1.1);
  }
  EXPECT_EQ(r.wall_days, r.wall_days_dist.mean);
  EXPECT_NEAR(r.gpu_hours, r.wall_days * 24 * 1024, 1e-6 * r.gpu_hours);
}

TEST(Campaign, SummarizeInterpolatesBetweenOrderStatistics) {
  const Distribution d = summarize({5, 1, 4, 2, 3});
  EXPECT_DOUBLE_EQ(d.mean, 3.0);
  EXPECT_DOUBLE_EQ(d.p50, 3.0);
  EXPECT_DOUBLE_EQ(d.p10, 1.4);
  EXPECT_DOUBLE_EQ(d.p90, 4.6);
}

TEST(Campaign, WithoutSparesEveryHardwareFailureWaitsForARepair) {
  CampaignParams p = synthetic(0.0, 30, 2, 10, 200, 20);
  p.job_rate_per_hour[static_cast<std::size_t>(FailureClass::Gpu)] = 0.2;
  p.spare_nodes = 0;
  p.repair = SimTime::from_seconds(hours(6));
  const RunResult none = simulate_campaign(p);
  for (const auto& o : none.outcomes) EXPECT_EQ(o.waiting.ns, o.interruptions * p.repair.ns);
  EXPECT_GT(none.mean_waiting.value, 0);
  p.spare_nodes = 1000;
  const RunResult plenty = simulate_campaign(p);
  for (const auto& o : plenty.outcomes) EXPECT_EQ(o.waiting.ns, 0);
  EXPECT_LT(plenty.wall_days, none.wall_days);
  // One spare: waits only when two failures fall within a repair time.
  p.spare_nodes = 1;
  const RunResult one = simulate_campaign(p);
  EXPECT_GT(one.mean_waiting.value, 0);
  EXPECT_LT(one.mean_waiting.value, none.mean_waiting.value);
}

TEST(Campaign, SoftwareFailuresNeverWaitForSpares) {
  CampaignParams p = synthetic(0.3, 30, 2, 10, 200, 20);
  p.spare_nodes = 0;
  const RunResult r = simulate_campaign(p);
  EXPECT_GT(r.interruptions, 10);
  EXPECT_EQ(r.mean_waiting.value, 0.0);
}

TEST(Campaign, DefaultRatesAddUpToTheGpuMtbfAndClassesFollowTheirShares) {
  // Plenty of spares: the expected-value model below does not model them.
  const Scenario s = load_shipped("deepseek-v3-h800.json", {"reliability.spare_nodes=100"});
  const RunResult r = run_campaign(s, fake_step(s, 20.0));
  const double job_rate = static_cast<double>(s.cluster.gpus) / s.reliability.gpu_mtbf_hours;
  EXPECT_NEAR(r.job_mtbf.value, 3600.0 / job_rate, 1e-6 * r.job_mtbf.value);
  // Llama 3: faulty GPUs (196 of 419) outnumber software (63) about 3:1.
  const double gpu = r.mean_by_class[static_cast<std::size_t>(FailureClass::Gpu)];
  const double sw = r.mean_by_class[static_cast<std::size_t>(FailureClass::Software)];
  EXPECT_NEAR(gpu / r.interruptions, 196.0 / 419.0, 0.03);
  EXPECT_NEAR(sw / r.interruptions, 63.0 / 419.0, 0.03);
  // The Monte Carlo mean agrees with the first-order expected-value model within a few %.
  const RunResult ev = estimate_run(s, fake_step(s, 20.0));
  EXPECT_NEAR(r.wall_days, ev.wall_days, 0.03 * ev.wall_days);
  EXPECT_NEAR(r.interruptions, ev.interruptions, 0.05 * ev.interruptions);
  EXPECT_EQ(r.model, "monte-carlo (200 replicas)");
}

TEST(Campaign, YoungDalyIntervalByDefault) {
  const Scenario s = load_shipped("llama3-70b-h100.json");
  const ComputePlan plan = plan_compute(s, {static_cast<double>(s.training.global_batch),
                                            Seconds(10.0), 0, Seconds()});
  const CampaignParams p = campaign_params(s, plan);
  const double lambda = p.total_rate_per_hour() / 3600.0;
  const double delta = p.checkpoint_write.seconds().value;
  EXPECT_NEAR(p.checkpoint_interval.seconds().value, std::sqrt(2 * delta / lambda), 1e-6);
  // Checkpoint write from the state size over the storage bandwidth.
  EXPECT_NEAR(delta, s.reliability.checkpoint_gb / s.reliability.storage_gbs, 1e-6);
}

TEST(Campaign, ZeroReplicasGivesTheExpectedValueModel) {
  const Scenario s = load_shipped("deepseek-v3-h800.json", {"reliability.replicas=0"});
  const RunResult r = run_campaign(s, fake_step(s, 20.0));
  EXPECT_EQ(r.model, "expected-value");
  EXPECT_TRUE(r.outcomes.empty());
  EXPECT_GT(r.interruptions, 1);
}

TEST(Campaign, ImpossibleFailureRatesAreInfeasible) {
  const Scenario s = load_shipped("deepseek-v3-h800.json", {"reliability.gpu_mtbf_hours=100"});
  EXPECT_THROW(run_campaign(s, fake_step(s, 20.0)), InfeasibleError);
}

TEST(BatchRamp, ClosedFormMatchesStepByStepIntegration) {
  const Scenario s = load_shipped(
      "deepseek-v3-h800.json",
      {"training.batch_ramp={\"start_batch\":3072,\"tokens\":469e9}"});
  ASSERT_TRUE(s.training.batch_ramp);
  // DualPipe, pp 16, dp 128: the smallest valid batch ≥ 3072 has 2·pp = 32 micro-batches.
  ASSERT_EQ(ramp_probe_batch(s), std::optional<std::int64_t>(4096));
  const StepTimeCurve curve{15360, Seconds(20.0), 4096, Seconds(7.0)};
  const ComputePlan plan = plan_compute(s, curve);
  // Step by step: batch at the tokens seen so far, until the ramp's tokens are done.
  const double seq = s.training.seq_len, x_end = 469e9;
  double x = 0, t = 0;
  std::int64_t steps = 0;
  while (x < x_end) {
    const double b = 3072 + (15360 - 3072) * x / x_end;
    t += curve.at(b).value;
    x += b * seq;
    ++steps;
  }
  EXPECT_NEAR(static_cast<double>(plan.ramp_steps), static_cast<double>(steps), 0.002 * steps);
  EXPECT_NEAR(plan.ramp_time.value, t, 0.002 * t);
  // The ramp is slower per token than the full batch (the fixed part of the step weighs more).
  const Scenario flat = load_shipped("deepseek-v3-h800.json");
  const ComputePlan flat_plan = plan_compute(flat, curve);
  EXPECT_GT(plan.compute_time.value, flat_plan.compute_time.value);
  EXPECT_GT(plan.steps, flat_plan.steps);
}

TEST(BatchRamp, ProportionalCurveKeepsThroughput) {
  const Scenario s = load_shipped("llama3-70b-h100.json",
                                  {"training.batch_ramp={\"start_batch\":512,\"tokens\":1e12}"});
  const StepTimeCurve one_point{2048, Seconds(8.0), 0, Seconds()};
  const ComputePlan plan = plan_compute(s, one_point);
  const double per_token = 8.0 / (2048.0 * s.training.seq_len);
  EXPECT_NEAR(plan.ramp_time.value, per_token * 1e12, 1e-9 * plan.ramp_time.value);
}

TEST(ScenarioReliability, RatesPoolsAndRampAreValidated) {
  EXPECT_THROW(load_shipped("deepseek-v3-h800.json",
                            {"reliability.failure_rates_per_hour={\"gpus\":1e-5}"}),
               InputError);
  EXPECT_THROW(load_shipped("deepseek-v3-h800.json",
                            {"reliability.failure_rates_per_hour={\"gpu\":-1}"}),
               InputError);
  EXPECT_THROW(load_shipped("deepseek-v3-h800.json",
                            {"training.batch_ramp={\"start_batch\":20000,\"tokens\":1e9}"}),
               InputError);
  // A given class replaces its default; the others keep theirs.
  const Scenario s = load_shipped("deepseek-v3-h800.json",
                                  {"reliability.failure_rates_per_hour={\"hbm\":1e-4}"});
  EXPECT_DOUBLE_EQ(s.reliability.failure_rates_per_hour[1], 1e-4);
  EXPECT_NEAR(s.reliability.failure_rates_per_hour[0], 196.0 / 419.0 / 50000.0, 1e-15);
  // Host failures count per node: 8 GPUs' share.
  EXPECT_NEAR(s.reliability.failure_rates_per_hour[4], 8 * 46.0 / 419.0 / 50000.0, 1e-15);
  // Pools: dates are checked; a frozen pool cannot hold more spares than it has.
  const std::string pool = "cluster.pools=[{\"gpu\":\"H800-SXM\",\"count\":2064,"
                           "\"available_from\":\"2023-06-01\",\"frozen_after\":\"2023-10-17\"}]";
  const Scenario ok = load_shipped("deepseek-v3-h800.json", {pool});
  EXPECT_EQ(ok.reliability.spare_nodes, 2);  // default 3 (1% of 256 nodes), pool holds 2
  const RunResult r = run_campaign(ok, fake_step(ok, 20.0));
  EXPECT_EQ(r.start_date, "2023-06-01");
  EXPECT_LE(r.end_date_p50, r.end_date_p90);
  EXPECT_GT(r.end_date_p50, "2023-07-01");
  try {
    load_shipped("deepseek-v3-h800.json", {pool, "reliability.spare_nodes=5"});
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "reliability.spare_nodes");
    EXPECT_NE(std::string(e.what()).find("2088"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_shipped("deepseek-v3-h800.json",
                            {"cluster.pools=[{\"gpu\":\"H800-SXM\",\"count\":2048,"
                             "\"available_from\":\"2023-13-01\"}]"}),
               InputError);
}

}  // namespace
}  // namespace clustercost
