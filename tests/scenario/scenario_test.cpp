#include <gtest/gtest.h>

#include <cstdlib>

#include "hardware/spec/catalog.hpp"
#include "sim/scenario/scenario.hpp"
#include "tests/common/shipped_data.hpp"

using namespace clustercost;

namespace {
DataDirs dirs() { return test::data_dirs(); }
}  // namespace

TEST(Scenario, SplitLayersIsMegatronStyleUneven) {
  auto s = split_layers(61, 16);
  int sum = 0;
  for (int n : s) sum += n;
  EXPECT_EQ(sum, 61);
  // 13 extra layers go to stages 1..13; the first and the last two stay at 3.
  EXPECT_EQ(s.front(), 3);
  EXPECT_EQ(s.back(), 3);
  EXPECT_EQ(s[1], 4);
  EXPECT_EQ(*std::max_element(s.begin(), s.end()), 4);
  EXPECT_EQ(split_layers(80, 4), (std::vector<int>{20, 20, 20, 20}));
  EXPECT_EQ(split_layers(10, 4), (std::vector<int>{2, 3, 3, 2}));
  EXPECT_EQ(split_layers(11, 4), (std::vector<int>{2, 3, 3, 3}));  // then the last stage
  EXPECT_EQ(split_layers(7, 2), (std::vector<int>{3, 4}));
}

TEST(Scenario, ShippedScenariosLoadWithDefaults) {
  Catalog c = Catalog::load(dirs().catalog());
  for (const auto& e : std::filesystem::directory_iterator(dirs().scenarios())) {
    if (e.path().extension() != ".json") continue;
    Scenario s = load_scenario(e.path(), {}, c, dirs());
    EXPECT_EQ(s.parallelism.tp * s.parallelism.cp * s.parallelism.pp * s.parallelism.dp,
              s.cluster.gpus) << e.path();
    EXPECT_GT(s.economics.gpu_hour_usd, 0) << e.path();
    EXPECT_FALSE(s.profile.gemm.empty());
  }
}

TEST(Scenario, UnevenSplitIsReportedAsANote) {
  Catalog c = Catalog::load(dirs().catalog());
  Scenario s = load_scenario(dirs().scenarios() / "deepseek-v3-h800.json", {}, c, dirs());
  ASSERT_FALSE(s.notes.empty());
  EXPECT_NE(s.notes.front().find("61 layers"), std::string::npos);
}

TEST(Scenario, OverridesCreatePathsAndParseValues) {
  Json j = Json::parse(R"({"a": {"b": 1}})");
  apply_override(j, "a.b=2");
  apply_override(j, "a.c.d=[1,2]");
  apply_override(j, "e=H100-SXM");
  EXPECT_EQ(j["a"]["b"], 2);
  EXPECT_EQ(j["a"]["c"]["d"][1], 2);
  EXPECT_EQ(j["e"], "H100-SXM");
  EXPECT_THROW(apply_override(j, "novalue"), InputError);
  EXPECT_THROW(apply_override(j, "e.x=1"), InputError);  // e is a string
  EXPECT_THROW(apply_override(j, "a..b=1"), InputError);
}

TEST(Scenario, DualPipeNeedsEvenStages) {
  Catalog c = Catalog::load(dirs().catalog());
  try {
    load_scenario(dirs().scenarios() / "deepseek-v3-h800.json",
                  {"parallelism.pp=1", "cluster.gpus=64", "training.global_batch=6400"}, c, dirs());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "parallelism.schedule") << e.what();
  }
}

TEST(Scenario, RecomputeModulesAreValidatedAgainstTheModel) {
  Catalog c = Catalog::load(dirs().catalog());
  auto expect_path = [&](const std::string& file, const std::vector<std::string>& sets,
                         const std::string& path) {
    try {
      load_scenario(dirs().scenarios() / file, sets, c, dirs());
      FAIL() << "accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(e.json_path(), path) << e.what();
    }
  };
  expect_path("llama3-70b-h100.json", {"parallelism.recompute_modules=[\"moe_act\"]"},
              "parallelism.recompute_modules[0]");
  expect_path("llama3-70b-h100.json", {"parallelism.recompute_modules=[\"mla_up_proj\"]"},
              "parallelism.recompute_modules[0]");
  expect_path("deepseek-v3-h800.json", {"parallelism.recompute_modules=[\"everything\"]"},
              "parallelism.recompute_modules[0]");
  expect_path("deepseek-v3-h800.json", {"parallelism.recompute=full"},
              "parallelism.recompute_modules");
}
