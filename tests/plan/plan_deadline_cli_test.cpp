// `clustercost plan --deadline-days` through the real binary (issue 17, item 1): layouts that
// meet the deadline rank first by the objective, each says whether it does, none ranks above a
// cheaper one that also meets it, and when none does the plan says so and lists the closest.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/cli/cli_test_util.hpp"

using namespace cli_test;
using Json = nlohmann::ordered_json;

namespace {

// Llama 3 70B on 256, 384 and 512 H100: the fastest layouts take about 455, 310 and 230 days,
// so a 300-day deadline splits the candidates, and the cheaper smaller counts miss it.
const std::string kSearch =
    " --tp 2,4,8 --pp 1,2,4 --cp 1,2 --micro-batch 1 --gpu-counts 256,384,512 --confirm 2 -j 2";

std::string llama() { return (data_dir() / "scenarios" / "llama3-70b-h100.json").string(); }

Json plan_json(const std::string& args) {
  const Result r = run("plan " + llama() + kSearch + args + " --format json");
  EXPECT_EQ(r.code, 0) << r.err;
  return Json::parse(r.out);
}

}  // namespace

TEST(CliPlanDeadline, LayoutsInTimeRankFirstByCostAndEachSaysWhetherItIs) {
  const double deadline = 300;
  const Json j = plan_json(" --objective cost --deadline-days 300 --top 400");
  ASSERT_FALSE(j["ranked"].empty());
  EXPECT_EQ(j["deadline_days"].get<double>(), deadline);
  EXPECT_TRUE(j["deadline_met"].get<bool>());
  std::size_t in_time = 0, late = 0;
  bool seen_late = false;
  double previous_cost = 0, previous_days = 0;
  for (const auto& c : j["ranked"]) {
    ASSERT_TRUE(c["meets_deadline"].is_boolean()) << c.dump();
    const bool meets = c["meets_deadline"].get<bool>();
    const double days = c["wall_days"].get<double>(), cost = c["total_usd"].get<double>();
    EXPECT_EQ(meets, days <= deadline) << c["layout"];
    if (meets) {
      EXPECT_FALSE(seen_late) << "a layout in time ranks after a late one: " << c["layout"];
      // Objective cost: none ranks above a cheaper one that also meets the deadline.
      if (in_time > 0) {
        EXPECT_GE(cost, previous_cost) << c["layout"];
      }
      previous_cost = cost;
      ++in_time;
    } else {
      // The late ones follow, closest (fastest) first.
      if (late > 0) {
        EXPECT_GE(days, previous_days) << c["layout"];
      }
      previous_days = days;
      seen_late = true;
      ++late;
    }
  }
  EXPECT_GT(in_time, 0u);
  EXPECT_GT(late, 0u) << "the search should hold layouts that miss 300 days";
  EXPECT_LE(in_time, static_cast<std::size_t>(j["meeting_deadline"].get<long>()));
  // Some layout that misses the deadline is cheaper than the first one in time: the deadline,
  // not the cost alone, decided the order.
  bool cheaper_late = false;
  for (const auto& c : j["ranked"])
    cheaper_late = cheaper_late || (!c["meets_deadline"].get<bool>() &&
                                    c["total_usd"].get<double>() < j["ranked"][0]["total_usd"].get<double>());
  EXPECT_TRUE(cheaper_late);
  // Per type, "best" is the first row and is not more expensive than "cheapest".
  ASSERT_EQ(j["types"].size(), 1u);
  const Json& t = j["types"][0];
  ASSERT_TRUE(t["best"].is_object());
  EXPECT_TRUE(t["best"]["meets_deadline"].get<bool>());
  EXPECT_EQ(t["best"]["layout"], j["ranked"][0]["layout"]);
  ASSERT_TRUE(t["cheapest"].is_object());
  EXPECT_LE(t["best"]["total_usd"].get<double>(), t["cheapest"]["total_usd"].get<double>());
  EXPECT_GE(t["best"]["total_usd"].get<double>(), t["cheapest"]["total_usd"].get<double>());
  EXPECT_TRUE(t["closest"].is_null());
  EXPECT_TRUE(j["baseline"]["meets_deadline"].is_boolean());
}

TEST(CliPlanDeadline, NoneInTimeSaysSoAndListsTheClosest) {
  const Json j = plan_json(" --objective cost --deadline-days 20 --top 6");
  EXPECT_FALSE(j["deadline_met"].get<bool>());
  EXPECT_EQ(j["meeting_deadline"], 0);
  double previous = 0;
  for (const auto& c : j["ranked"]) {
    EXPECT_FALSE(c["meets_deadline"].get<bool>());
    EXPECT_GE(c["wall_days"].get<double>(), previous) << "closest first";
    previous = c["wall_days"].get<double>();
  }
  const Json& t = j["types"][0];
  EXPECT_TRUE(t["best"].is_null());
  EXPECT_TRUE(t["cheapest"].is_null());
  ASSERT_TRUE(t["closest"].is_object());
  EXPECT_EQ(t["closest"]["layout"], j["ranked"][0]["layout"]);

  const Result r = run("plan " + llama() + kSearch + " --objective cost --deadline-days 20 --top 6");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("No layout finishes within 20.0 days: the closest (fastest) are ranked below"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("nothing within 20.0 days; closest: "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("best"), std::string::npos) << "no \"best\" when nothing is in time";
}

TEST(CliPlanDeadline, WithoutADeadlineMeetsDeadlineIsNull) {
  const Json j = plan_json(" --top 3");
  EXPECT_TRUE(j["deadline_met"].is_null());
  for (const auto& c : j["ranked"]) EXPECT_TRUE(c["meets_deadline"].is_null());
}

TEST(CliPlanDeadline, TextColumnsAreSizedToTheirContent) {
  // Interleaved layouts have the longest labels ("... interleaved vpp5 mb1 zero1 selective sp").
  const Result r = run("plan " + llama() + kSearch + " --deadline-days 300 --top 12");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::string header;
  std::vector<std::string> rows;
  for (std::string l; std::getline(in, l);) {
    if (l.find("  #  GPUs") != std::string::npos || l.find(" #  GPUs") != std::string::npos) header = l;
    else if (!header.empty() && rows.size() < 12 && l.find(" H100-SXM x") != std::string::npos &&
             l.find("fidelity") == std::string::npos)
      rows.push_back(l);
  }
  ASSERT_FALSE(header.empty()) << r.out;
  ASSERT_EQ(rows.size(), 12u) << r.out;
  const std::size_t step_end = header.find("step s") + std::string("step s").size();
  const std::size_t layout_at = header.find("layout");
  std::size_t longest = 0;
  for (const auto& row : rows) {
    // The right-aligned step time ends under its header, after at least two spaces.
    ASSERT_GT(row.size(), step_end) << row;
    EXPECT_NE(row[step_end - 1], ' ') << row;
    EXPECT_EQ(row[step_end], ' ') << row;
    const std::size_t label_end = row.find_last_not_of(' ', row.rfind(' ', step_end - 1));
    EXPECT_LT(label_end + 2, step_end) << row;
    // The layout column starts under its header.
    EXPECT_NE(row[layout_at], ' ') << row;
    EXPECT_EQ(row[layout_at - 1], ' ') << row;
    longest = std::max(longest, label_end + 1 - layout_at);
  }
  // And is exactly as wide as its longest label, then the two-space gap.
  EXPECT_EQ(header.find("step s") - layout_at, longest + 2) << header;
  EXPECT_NE(r.out.find("in time"), std::string::npos);
}
