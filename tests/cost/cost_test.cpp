// Cost: rental vs ownership, idle time still costs, energy, CO2 and the distribution.
#include <gtest/gtest.h>

#include "sim/campaign/campaign.hpp"
#include "sim/cost/cost_result.hpp"
#include "tests/common/shipped_data.hpp"

namespace clustercost {
namespace {

using test::load_shipped;

StepResult fake_step(const Scenario& s, double step_s, double busy) {
  StepResult r;
  r.step_time = Seconds(step_s);
  r.tokens = s.tokens_per_step();
  r.busy_fraction = busy;
  return r;
}

const std::string kNoFailures =
    "reliability.failure_rates_per_hour={\"gpu\":0,\"hbm\":0,\"nic\":0,\"switch\":0,\"host\":0,"
    "\"software\":0}";

TEST(Cost, RentalBillsGpuHoursIncludingIdleTime) {
  const Scenario s = load_shipped("deepseek-v3-h800.json");
  const StepResult step = fake_step(s, 20.0, 0.8);
  const RunResult run = run_campaign(s, step);
  const CostResult c = estimate_cost(s, step, run);
  EXPECT_EQ(c.model, "rental");
  EXPECT_NEAR(c.total_usd, run.gpu_hours * 2.0, 1e-9 * c.total_usd);
  EXPECT_EQ(c.energy_usd, 0.0);  // priced into the rate
  EXPECT_GT(c.energy_mwh, 0.0);
  // Failures make the bill bigger than the failure-free compute: GPUs idle in restarts cost.
  const double ideal = run.compute_time.value / 3600.0 * 2048 * 2.0;
  EXPECT_NEAR(c.failure_overhead_usd, c.total_usd - ideal, 1e-6 * c.total_usd);
  EXPECT_GT(c.failure_overhead_usd, 0.0);
  EXPECT_NEAR(c.usd_per_million_tokens, c.total_usd / 14.8e6, 1e-9 * c.total_usd);
  EXPECT_LE(c.total_usd_dist.p10, c.total_usd_dist.p50);
  EXPECT_LE(c.total_usd_dist.p50, c.total_usd_dist.p90);
  EXPECT_NEAR(c.total_usd_dist.mean, c.total_usd, 1e-9 * c.total_usd);
  EXPECT_FALSE(c.co2_tonnes);
}

TEST(Cost, NoFailuresNoOverhead) {
  const Scenario s = load_shipped("deepseek-v3-h800.json", {kNoFailures, "reliability.checkpoint_interval_min=0"});
  const StepResult step = fake_step(s, 20.0, 0.8);
  const CostResult c = estimate_cost(s, step, run_campaign(s, step));
  EXPECT_NEAR(c.failure_overhead_usd, 0.0, 1e-9 * c.total_usd);
  EXPECT_EQ(c.total_usd_dist.p10, c.total_usd_dist.p90);
}

TEST(Cost, OwnershipAmortisesHardwareAndPaysEnergy) {
  const Scenario s = load_shipped(
      "deepseek-v3-h800.json",
      {kNoFailures, "reliability.checkpoint_interval_min=0", "economics.model=ownership",
       "economics.purchase_usd=30000", "economics.server_share_usd=10000",
       "economics.network_share_usd=2000", "economics.lifetime_years=5",
       "economics.idle_power_fraction=0.2", "economics.co2_kg_per_kwh=0.5",
       "reliability.spare_nodes=4"});
  const StepResult step = fake_step(s, 20.0, 0.5);
  const RunResult run = run_campaign(s, step);
  const CostResult c = estimate_cost(s, step, run);
  EXPECT_EQ(c.model, "ownership");
  const double wall_h = run.wall_time.value / 3600.0;
  const double owned = 2048 + 4 * 8;
  const double per_gpu_h = 42000.0 / (5 * 8766.0);
  EXPECT_NEAR(c.hardware_usd, owned * wall_h * per_gpu_h, 1e-6 * c.hardware_usd);
  EXPECT_NEAR(c.capex_usd, owned * 42000.0, 1e-6 * c.capex_usd);
  EXPECT_EQ(c.gpu_rental_usd, 0.0);
  // Power: the HGX-H800 server's draw per GPU at half busy, × PUE 1.3, at $0.08/kWh.
  ASSERT_TRUE(s.node);
  const double full_w = s.node->node_power_w.get() / 8;
  const double busy_w = full_w * (0.2 + 0.8 * 0.5);
  const double kwh = 2048 * wall_h * busy_w / 1000 * 1.3;
  EXPECT_NEAR(c.energy_mwh, kwh / 1000, 1e-6 * c.energy_mwh);
  EXPECT_NEAR(c.energy_usd, kwh * 0.08, 1e-6 * c.energy_usd);
  EXPECT_NEAR(c.total_usd, c.hardware_usd + c.energy_usd, 1e-9 * c.total_usd);
  ASSERT_TRUE(c.co2_tonnes);
  EXPECT_NEAR(*c.co2_tonnes, kwh * 0.5 / 1000, 1e-6 * *c.co2_tonnes);
  // Owning at these prices is cheaper per GPU-hour than renting at $2.
  const Scenario rent = load_shipped("deepseek-v3-h800.json", {kNoFailures, "reliability.checkpoint_interval_min=0"});
  const CostResult rc = estimate_cost(rent, step, run_campaign(rent, step));
  EXPECT_LT(c.total_usd, rc.total_usd);
}

TEST(Cost, IdleGpusDrawLessButStillDraw) {
  const Scenario s = load_shipped("deepseek-v3-h800.json", {"economics.model=ownership"});
  const StepResult step = fake_step(s, 20.0, 1.0);
  const RunResult run = run_campaign(s, step);
  const CostResult c = estimate_cost(s, step, run);
  ASSERT_TRUE(s.node);
  const double full_w = s.node->node_power_w.get() / 8;
  const double wall_h = run.wall_time.value / 3600.0;
  // Between "all idle" and "all busy" for the wall time.
  EXPECT_GT(c.energy_mwh, 2048 * wall_h * full_w * 0.25 * 1.3 / 1e6);
  EXPECT_LT(c.energy_mwh, 2048 * wall_h * full_w * 1.3 / 1e6);
  EXPECT_GT(c.failure_overhead_usd, 0.0);
}

TEST(Cost, DefaultsComeFromTheCatalogueAndThePool) {
  const Scenario s = load_shipped("llama3-70b-h100.json", {"economics.model=ownership"});
  EXPECT_DOUBLE_EQ(s.economics.purchase_usd, 25000.0);  // H100 catalogue street price
  ASSERT_TRUE(s.node);
  EXPECT_DOUBLE_EQ(s.economics.server_share_usd, s.node->server_share_usd.get());
  const Scenario pooled = load_shipped(
      "llama3-70b-h100.json",
      {"cluster.pools=[{\"gpu\":\"H100-SXM\",\"count\":1024,\"gpu_hour_usd\":1.5,\"purchase_usd\":20000}]",
       "economics={\"usd_per_kwh\":0.1}"});
  EXPECT_DOUBLE_EQ(pooled.economics.gpu_hour_usd, 1.5);
  EXPECT_DOUBLE_EQ(pooled.economics.purchase_usd, 20000.0);
  EXPECT_THROW(load_shipped("llama3-70b-h100.json", {"economics.model=lease"}), InputError);
}

}  // namespace
}  // namespace clustercost
