#include <gtest/gtest.h>

#include "sim/report/report.hpp"
#include "sim/step/analytical_step.hpp"
#include "sim/step/step_cache.hpp"
#include "tests/common/shipped_data.hpp"

using namespace clustercost;

namespace {
Scenario load(const std::string& name, std::vector<std::string> sets = {}) {
  return test::load_shipped(name, sets);
}
std::string report_bytes(const Scenario& s, StepCache* cache) {
  return report_to_json(run_scenario(s, cache)).dump();
}
}  // namespace

// The cache changes speed, never an output: the same report bytes with and without it, on the
// first call (which fills it) and on later ones (which read it), across scenarios that share
// some entries and not others.
TEST(StepCache, ReportsAreByteIdenticalWithAndWithoutTheCache) {
  StepCache cache;
  const std::vector<Scenario> scenarios = {
      load("deepseek-v3-h800.json", {"simulation.fidelity=analytical"}),
      load("deepseek-v3-h800.json", {"simulation.fidelity=analytical", "training.global_batch=7680"}),
      load("deepseek-v3-h800.json", {"simulation.fidelity=analytical", "moe_routing.node_limit=2"}),
      load("mixtral-8x7b-h20.json", {"simulation.fidelity=analytical"}),
      load("llama3-70b-h100.json", {"simulation.fidelity=analytical"}),
  };
  for (int round = 0; round < 2; ++round)
    for (const Scenario& s : scenarios)
      EXPECT_EQ(report_bytes(s, &cache), report_bytes(s, nullptr)) << s.file << " round " << round;
  const auto& st = cache.stats();
  // DeepSeek's three variants share one network; its node-limit variant routes anew.
  EXPECT_GT(st.topology_hits, 0u);
  EXPECT_GT(st.routing_hits, 0u);
  EXPECT_LE(st.topology_builds, 3u);
}

TEST(StepCache, KeysOnEveryInputOfTheSamples) {
  StepCache cache;
  const Scenario a = load("deepseek-v3-h800.json", {"simulation.fidelity=analytical"});
  const Scenario seed2 =
      load("deepseek-v3-h800.json", {"simulation.fidelity=analytical", "simulation.seed=2"});
  const Scenario slower = load("deepseek-v3-h800.json", {"simulation.fidelity=analytical",
                                                         "cluster.network.scale_out_gbps_per_gpu=100"});
  (void)simulate_step_analytical(a, cache);
  const auto after_a = cache.stats();
  (void)simulate_step_analytical(seed2, cache);  // same network, other token draws
  EXPECT_EQ(cache.stats().topology_builds, after_a.topology_builds);
  EXPECT_GT(cache.stats().routing_samples, after_a.routing_samples);
  const auto after_seed = cache.stats();
  (void)simulate_step_analytical(slower, cache);  // other network, same routing
  EXPECT_EQ(cache.stats().topology_builds, after_seed.topology_builds + 1);
  EXPECT_EQ(cache.stats().routing_samples, after_seed.routing_samples);
  EXPECT_EQ(report_to_json(run_scenario(slower, &cache)).dump(),
            report_to_json(run_scenario(slower, nullptr)).dump());
}

TEST(StepCache, StaysWithinItsCapacity) {
  StepCache cache(2);
  for (int gpus : {1024, 2048, 4096, 2048}) {
    const Scenario s = load("deepseek-v3-h800.json",
                            {"simulation.fidelity=analytical", "cluster.gpus=" + std::to_string(gpus)});
    (void)cache.topology(s);
  }
  // 1024, 2048, 4096 built; 1024 evicted; 2048 still held.
  EXPECT_EQ(cache.stats().topology_builds, 3u);
  EXPECT_EQ(cache.stats().topology_hits, 1u);
}
