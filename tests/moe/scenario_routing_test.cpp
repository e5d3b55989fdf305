#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "sim/moe/routing.hpp"
#include "tests/common/shipped_data.hpp"

using namespace clustercost;

namespace {

// A scenario folder of its own: the shipped DeepSeek-V3/H800 scenario with a `moe_routing`
// section, and the histogram fixture beside it (relative paths start at the scenario's folder).
std::filesystem::path scenario_with(const Json& moe_routing, const std::string& tag) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("clustercost-moe-" + tag + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "data");
  std::filesystem::copy_file(test::data_root() / "tests" / "moe" / "data" / "skewed8.csv",
                             dir / "data" / "skewed8.csv",
                             std::filesystem::copy_options::overwrite_existing);
  Json j = load_json_file(test::data_dirs().scenarios() / "deepseek-v3-h800.json");
  j["moe_routing"] = moe_routing;
  std::ofstream(dir / "scenario.json") << j.dump(2);
  return dir / "scenario.json";
}

Scenario load(const std::filesystem::path& file, const std::vector<std::string>& sets = {}) {
  return load_scenario(file, sets, test::shipped_catalog(), test::data_dirs());
}

std::string load_error(const std::filesystem::path& file, const std::vector<std::string>& sets = {}) {
  try {
    load(file, sets);
  } catch (const InputError& e) {
    return e.json_path() + ": " + e.message();
  }
  return "";
}

}  // namespace

TEST(MoeScenario, NodeLimitCutsScaleOutTrafficOnDeepSeekV3H800) {
  const Scenario limited = test::load_shipped("deepseek-v3-h800.json");
  ASSERT_EQ(limited.moe_routing.node_limit, 4);
  EXPECT_EQ(limited.moe_routing.all_to_all, "hierarchical");
  EXPECT_TRUE(limited.moe_routing.node_dedup);
  const Scenario open = test::load_shipped("deepseek-v3-h800.json", {"moe_routing.node_limit=null"});
  EXPECT_EQ(open.moe_routing.all_to_all, "direct");
  const RoutingModel ml = RoutingModel::from_scenario(limited);
  const RoutingModel mo = RoutingModel::from_scenario(open);
  EXPECT_EQ(ml.nodes(), 8);
  EXPECT_EQ(ml.setup().tokens_per_rank, 4096);
  for (int layer : {0, 57}) {
    const RoutingSample a = ml.sample(layer, 0), b = mo.sample(layer, 0);
    EXPECT_LT(a.cross_node_copies_per_token(true), b.cross_node_copies_per_token(true));
    // Without deduplication the limit saves nothing under uniform routing: every copy's node is
    // still uniform, k·(N−1)/N = 7 remote copies per token either way.
    EXPECT_NEAR(a.cross_node_copies_per_token(false), 7.0, 0.05);
    EXPECT_NEAR(b.cross_node_copies_per_token(false), 7.0, 0.05);
    // Scale-out bytes: deduplicated tokens sent to other nodes, over the whole EP group.
    auto scale_out = [](const RoutingSample& r) {
      std::int64_t sum = 0;
      for (int src = 0; src < r.ep; ++src)
        for (int n = 0; n < r.nodes; ++n)
          if (n != r.node_of_rank[static_cast<std::size_t>(src)]) sum += r.node_tokens(src, n);
      return sum;
    };
    EXPECT_EQ(scale_out(a), a.remote_token_nodes);
    EXPECT_LT(scale_out(a), scale_out(b));
  }
}

TEST(MoeScenario, SummaryCoversEveryMoeLayer) {
  const Scenario s = test::load_shipped("deepseek-v3-h800.json", {"moe_routing.imbalance.kind=zipf",
                                                                  "moe_routing.imbalance.s=1.0",
                                                                  "moe_routing.capacity_factor=1.0",
                                                                  "training.seq_len=512"});
  // 58 layer-samples; short sequences keep this the test suite's only slow-ish test.
  const auto layers = summarize_routing(s, {1});
  ASSERT_EQ(static_cast<int>(layers.size()), s.model.moe_layer_count());
  EXPECT_EQ(layers.front().layer, s.model.moe->first_dense_layers);
  const double copies_per_rank = 512.0 * 8;
  for (const auto& l : layers) {
    EXPECT_EQ(l.samples, 1);
    EXPECT_GE(l.max_rank_tokens, l.mean_rank_tokens);
    EXPECT_GT(l.dropped_tokens, 0);  // zipf s=1 with capacity factor 1 drops
    // Mean per rank + drops per rank = copies per rank.
    EXPECT_NEAR(l.mean_rank_tokens + l.dropped_tokens / 64.0, copies_per_rank, 1e-6);
    EXPECT_NEAR(l.mean_tokens.sum() + l.dropped_tokens, copies_per_rank * 64, 1e-6);
    EXPECT_GT(l.cross_node_copies_per_token, 0);
    EXPECT_LE(l.cross_node_copies_per_token, 4.0);
    EXPECT_NEAR(l.cross_node_bytes_per_token, l.cross_node_copies_per_token * 7168 * (1 + 4.0 / 128), 1e-6);
    EXPECT_EQ(l.mean_node_tokens.cols(), 8);
  }
  EXPECT_TRUE(summarize_routing(test::load_shipped("llama3-70b-h100.json")).empty());
}

TEST(MoeScenario, RoutingKeysParseResolveAndRoundTrip) {
  Json mr = {{"imbalance", {{"kind", "histogram"}, {"file", "data/skewed8.csv"}}},
             {"node_limit", 4},
             {"redundant_experts", 16},
             {"node_dedup", false},
             {"all_to_all", "direct"}};
  const auto file = scenario_with(mr, "keys");
  const Scenario s = load(file);
  const auto& m = s.moe_routing;
  EXPECT_EQ(m.imbalance.histogram_file, "data/skewed8.csv");
  EXPECT_EQ(m.imbalance.histogram_path, file.parent_path() / "data" / "skewed8.csv");
  EXPECT_EQ(m.redundant_experts, 16);
  EXPECT_FALSE(m.node_dedup);
  EXPECT_EQ(m.all_to_all, "direct");
  const Json out = scenario_to_json(s);
  EXPECT_EQ(out["moe_routing"]["imbalance"]["file"], "data/skewed8.csv");
  EXPECT_EQ(out["moe_routing"]["redundant_experts"], 16);
  EXPECT_EQ(out["moe_routing"]["node_dedup"], false);
  EXPECT_EQ(out["moe_routing"]["all_to_all"], "direct");
  EXPECT_TRUE(out["moe_routing"]["placement"].is_null());
  // The histogram has 8 experts; DeepSeek-V3 has 256: the routing model refuses it.
  try {
    RoutingModel::from_scenario(s);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(e.message().find("256 routed experts"), std::string::npos);
  }
  std::filesystem::remove_all(file.parent_path());
}

TEST(MoeScenario, RoutingKeyErrorsNameThePath) {
  const auto file = scenario_with(Json{{"imbalance", {{"kind", "uniform"}}}}, "errors");
  EXPECT_EQ(load_error(file), "");
  EXPECT_NE(load_error(file, {"moe_routing.placement=nowhere.json"}).find("moe_routing.placement: file \"nowhere.json\" not found"),
            std::string::npos);
  EXPECT_NE(load_error(file, {"moe_routing.imbalance.kind=histogram", "moe_routing.imbalance.file=none.csv"})
                .find("moe_routing.imbalance.file"), std::string::npos);
  EXPECT_NE(load_error(file, {"moe_routing.redundant_experts=-1"}).find("moe_routing.redundant_experts"),
            std::string::npos);
  EXPECT_NE(load_error(file, {"moe_routing.redundant_experts=257"}).find("at most 256"), std::string::npos);
  EXPECT_NE(load_error(file, {"moe_routing.node_dedup=3"}).find("moe_routing.node_dedup"), std::string::npos);
  EXPECT_NE(load_error(file, {"moe_routing.all_to_all=ring"}).find("moe_routing.all_to_all"), std::string::npos);
  EXPECT_NE(load_error(file, {"moe_routing.node_dedupe=true"}).find("node_dedup"), std::string::npos);
  std::filesystem::remove_all(file.parent_path());
}
