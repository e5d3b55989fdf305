// The op-level DES through the CLI (issue 15): determinism with variation, what was simulated,
// the results' critical path / links / memory, the trace's --ranks filter, input errors.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "cli_test_util.hpp"

using namespace cli_test;
using Json = nlohmann::ordered_json;

namespace {
std::string llama64() {
  return (data_dir() / "scenarios/llama3-70b-h100.json").string() +
         " --set cluster.gpus=64 --set training.global_batch=32 --set parallelism.schedule=1f1b"
         " --set parallelism.vpp=1";
}
}  // namespace

TEST(CliDes, SameScenarioAndSeedGiveByteIdenticalJsonWithVariation) {
  const std::string args = "run " + llama64() +
                           " --set cluster.variation.compute_spread=0.03"
                           " --set cluster.variation.step_jitter=0.01"
                           " --set cluster.variation.replicas=3 --replicas 0 --format json -o ";
  const auto a = temp_dir() / "var-a.json", b = temp_dir() / "var-b.json";
  Result ra = run(args + a.string()), rb = run(args + b.string());
  ASSERT_EQ(ra.code, 0) << ra.err;
  ASSERT_EQ(rb.code, 0) << rb.err;
  EXPECT_EQ(slurp(a), slurp(b));
  const Json j = Json::parse(slurp(a));
  const Json& sim = j["step"]["simulation"];
  EXPECT_EQ(sim["simulated_gpus"].get<int>(), 64);
  EXPECT_EQ(sim["variation"]["replicas"].get<int>(), 3);
  EXPECT_LE(sim["variation"]["step_time_p50_s"].get<double>(),
            sim["variation"]["step_time_p90_s"].get<double>());
  EXPECT_FALSE(sim["critical_path_s"].empty());
  EXPECT_FALSE(sim["links"].empty());
  EXPECT_EQ(sim["gpu_peak_memory"].size(), 64u);
}

TEST(CliDes, TraceRanksFilterAndUnsimulatedRank) {
  const auto out = temp_dir() / "trace-ranks.json";
  Result r = run("trace " + llama64() + " --set simulation.ranks=all --ranks 0,9 -o " + out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  std::set<int> pids;
  // The parsed document must outlive the loop (a range-for over a member of a temporary dangles).
  const Json doc = Json::parse(slurp(out));
  for (const auto& e : doc["traceEvents"]) pids.insert(e["pid"].get<int>());
  EXPECT_EQ(pids, (std::set<int>{0, 9}));
  // By default one GPU per stage is simulated: GPU 9 is not, and the message says how to get it.
  Result bad = run("trace " + llama64() + " --ranks 9 -o " + (temp_dir() / "no.json").string());
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("simulation.ranks=all"), std::string::npos) << bad.err;
}

TEST(CliDes, BadRanksAndVariationNameTheirJsonPath) {
  Result r = run("run " + llama64() + " --set simulation.ranks=some");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("simulation.ranks"), std::string::npos) << r.err;
  Result f = run("run " + llama64() + " --set cluster.variation.factors=[1,2]");
  EXPECT_EQ(f.code, 2);
  EXPECT_NE(f.err.find("cluster.variation.factors"), std::string::npos) << f.err;
}
