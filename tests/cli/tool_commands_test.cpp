#include <gtest/gtest.h>

#include <set>

#include "cli_test_util.hpp"

using namespace cli_test;
using Json = nlohmann::ordered_json;

TEST(CliTrace, WritesAChromeTraceForTheRequestedStages) {
  auto out = temp_dir() / "trace.json";
  std::filesystem::remove(out);
  Result r = run("trace " + (data_dir() / "scenarios/llama3-70b-h100.json").string() +
                 " --stages 0,3 -o " + out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  Json t = Json::parse(slurp(out));
  ASSERT_TRUE(t.contains("traceEvents"));
  std::set<int> pids;
  int complete = 0;
  for (const auto& e : t["traceEvents"]) {
    pids.insert(e["pid"].get<int>());
    if (e["ph"] == "X") ++complete;
  }
  EXPECT_EQ(pids.size(), 2u);  // the two requested stages' GPUs
  EXPECT_GT(complete, 100);
  Result bad = run("trace " + (data_dir() / "scenarios/llama3-70b-h100.json").string() +
                   " --ranks 9 -o " + (temp_dir() / "bad-trace.json").string());
  EXPECT_EQ(bad.code, 2);
  EXPECT_FALSE(std::filesystem::exists(temp_dir() / "bad-trace.json"));
}

TEST(CliBench, PrintsEventRatesForTheReferenceCases) {
  Result r = run("bench");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("deepseek-v3-h800"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("llama3-405b"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("events/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("probe --device cpu --quick: "), std::string::npos) << r.out;
  // JSON: the event loop is a part of the simulation, which is a part of the whole call, and
  // events/s is over the loop alone.
  Result j = run("bench --format json");
  ASSERT_EQ(j.code, 0) << j.err;
  const Json doc = Json::parse(j.out);
  ASSERT_GE(doc["des"].size(), 3u);
  for (const Json& c : doc["des"]) {
    const double loop = c["loop_s"], sim = c["sim_wall_s"], whole = c["step_wall_s"];
    EXPECT_GT(loop, 0.0) << c["name"];
    EXPECT_LE(loop, sim) << c["name"];
    EXPECT_LE(sim, whole) << c["name"];
    EXPECT_NEAR(c["events_per_s"].get<double>(), c["events"].get<double>() / loop,
                1e-6 * c["events_per_s"].get<double>())
        << c["name"];
  }
}

TEST(CliCalibration, ProbeCalibrateValidateRoundTrip) {
  auto m = temp_dir() / "measurements.json", p = temp_dir() / "profile.json";
  Result probe = run("probe --quick -o " + m.string());
  ASSERT_EQ(probe.code, 0) << probe.err;
  Result cal = run("calibrate " + m.string() + " -o " + p.string());
  ASSERT_EQ(cal.code, 0) << cal.err;
  Json prof = Json::parse(slurp(p));
  EXPECT_EQ(prof["schema"], "clustercost.profile/1");
  EXPECT_TRUE(prof["fit"].is_object());
  Result val = run("validate --measurements " + m.string() + " --profile " + p.string());
  ASSERT_EQ(val.code, 0) << val.err;
  EXPECT_NE(val.out.find("MAPE"), std::string::npos) << val.out;
  Result missing = run("calibrate /nonexistent.json -o " + p.string());
  EXPECT_EQ(missing.code, 2);
  Result cuda = run("probe --device cuda -o " + (temp_dir() / "cuda.json").string());
  EXPECT_EQ(cuda.code, 2);
  EXPECT_NE(cuda.err.find("no CUDA device"), std::string::npos) << cuda.err;
}
