// `clustercost plan` through the real binary: output formats, progress, exit codes.
#include <gtest/gtest.h>

#include "tests/cli/cli_test_util.hpp"

using namespace cli_test;
using Json = nlohmann::ordered_json;

namespace {

std::string scenario(const std::string& name) { return (data_dir() / "scenarios" / name).string(); }

// A small search around the shipped DeepSeek-V3/H800 layout.
const std::string kSmall =
    " --tp 1,2 --pp 8,16 --ep 32,64 --micro-batch 1 --zero 1,2 --recompute none,full"
    " --schedule dualpipe,1f1b --gpu-counts 2048 --confirm 1 -j 1";

}  // namespace

TEST(CliPlan, JsonDocumentRanksLayoutsThatFit) {
  Result r = run("plan " + scenario("deepseek-v3-h800.json") + kSmall + " --top 4 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["schema"], "clustercost.plan/1");
  EXPECT_EQ(j["objective"], "time");
  ASSERT_TRUE(j["ranked"].is_array());
  ASSERT_FALSE(j["ranked"].empty());
  EXPECT_LE(j["ranked"].size(), 4u);
  for (const auto& c : j["ranked"]) {
    EXPECT_LE(c["memory"]["peak_gib_per_gpu"].get<double>(), c["memory"]["capacity_gib"].get<double>());
    const auto& p = c["parallelism"];
    EXPECT_EQ(p["tp"].get<int>() * p["cp"].get<int>() * p["pp"].get<int>() * p["dp"].get<int>(),
              c["gpus"].get<int>());
    EXPECT_TRUE(c["set"].is_array());
  }
  // The first row is confirmed with the discrete-event step.
  EXPECT_EQ(j["ranked"][0]["fidelity"], "des");
  EXPECT_FALSE(j["ranked"][0]["des"].is_null());
  // The scenario's own layout is ranked with the others when it fits, else the plan says why.
  if (j["baseline"].is_null()) {
    EXPECT_NE(j["baseline_note"].get<std::string>().find("does not fit"), std::string::npos);
  } else {
    EXPECT_LE(j["ranked"][0]["wall_days"].get<double>(), j["baseline"]["wall_days"].get<double>());
  }
  for (const char* k : {"generated", "divisible", "memory_pruned", "dominated", "evaluated", "fits", "confirmed"})
    EXPECT_TRUE(j["counts"].contains(k)) << k;
  // Progress on stderr: one line per searched group (stderr is a file here: plain lines).
  EXPECT_NE(r.err.find("H800-SXM x2048"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" fit ("), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("\r"), std::string::npos);
}

TEST(CliPlan, TextSummaryAndReproduction) {
  Result r = run("plan " + scenario("deepseek-v3-h800.json") + kSmall + " --objective cost");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("objective: cost"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reproduce #1: clustercost run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cheapest type:"), std::string::npos) << r.out;
}

TEST(CliPlan, NothingFitsExitsTwoWithTheReason) {
  Result r = run("plan " + scenario("deepseek-v3-h800.json") +
                 " --gpu-counts 16 --tp 1 --pp 1,2 --ep 8,16 --micro-batch 1 --confirm 0 -j 1");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("no layout fits in"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("smallest footprint"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(CliPlan, BadUsageExitsTwo) {
  EXPECT_EQ(run("plan " + scenario("mixtral-8x7b-h20.json") + " --objective fast").code, 2);
  EXPECT_EQ(run("plan " + scenario("mixtral-8x7b-h20.json") + " --gpu-types H9000").code, 2);
  EXPECT_EQ(run("plan " + scenario("mixtral-8x7b-h20.json") + " --recompute sometimes").code, 2);
  EXPECT_EQ(run("plan /nonexistent.json").code, 2);
}
