// Presets and the strict model parser: every preset loads and round-trips, malformed models are
// InputErrors that name the offending JSON path, unknown preset names list the available ones.

#include "models/model_spec.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "models_test_util.hpp"

using namespace clustercost;

namespace {

// The error `parse_model_spec` throws for `j` under the path "model"; fails the test if none.
InputError parse_error(const Json& j) {
  try {
    parse_model_spec(j, "scenario.json", "model");
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << j.dump();
  return InputError("", "", "");
}

Json preset_json(const std::string& name) {
  return load_json_file(test::presets_dir() / (name + ".json"));
}

}  // namespace

TEST(ModelPresets, EveryShippedPresetLoadsAndRoundTrips) {
  const auto names = list_model_presets(test::presets_dir());
  for (const char* expected :
       {"deepseek-v3", "deepseek-v2", "mixtral-8x7b", "mixtral-8x22b", "llama3-8b", "llama3-70b",
        "llama3-405b", "gpt3-175b", "qwen3-235b-a22b", "megatron-1.7b", "megatron-3.6b",
        "megatron-7.5b", "megatron-18.4b", "megatron-39.1b", "megatron-76.1b", "megatron-145.6b",
        "megatron-310.1b", "megatron-529.6b", "megatron-1t"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const ModelSpec m = load_model_preset(test::presets_dir(), name, "s.json", "model");
    EXPECT_EQ(m.name, name);
    EXPECT_FALSE(m.source.empty()) << "every preset cites where its figures come from";
    const Json j = model_spec_to_json(m);
    const ModelSpec back = parse_model_spec(j, "<roundtrip>", "model");
    EXPECT_EQ(model_spec_to_json(back), j);
  }
}

TEST(ModelPresets, ArchitectureFiguresAsPublished) {
  const ModelSpec v3 = load_model_preset(test::presets_dir(), "deepseek-v3", "s.json", "model");
  EXPECT_EQ(v3.attention, AttentionKind::Mla);
  EXPECT_EQ(v3.layers, 61);
  EXPECT_EQ(v3.qk_head_dim(), 192);
  EXPECT_EQ(v3.v_head_dim(), 128);
  ASSERT_TRUE(v3.moe);
  EXPECT_EQ(v3.moe->routed_experts, 256);
  EXPECT_EQ(v3.moe->n_groups, 8);
  EXPECT_EQ(v3.moe->topk_groups, 4);
  EXPECT_EQ(v3.moe_layer_count(), 58);
  EXPECT_FALSE(v3.layer_is_moe(2));
  EXPECT_TRUE(v3.layer_is_moe(3));
  EXPECT_EQ(v3.mtp_depth, 1);

  const ModelSpec q = load_model_preset(test::presets_dir(), "qwen3-235b-a22b", "s.json", "model");
  EXPECT_EQ(q.attention, AttentionKind::Gqa);
  EXPECT_EQ(q.head_dim, 128);  // not hidden/heads = 64
  EXPECT_TRUE(q.qk_norm);
  EXPECT_EQ(q.moe_layer_count(), 94);

  const ModelSpec g = load_model_preset(test::presets_dir(), "gpt3-175b", "s.json", "model");
  EXPECT_TRUE(g.tied_embeddings);
  EXPECT_TRUE(g.bias);
  EXPECT_EQ(g.activation, Activation::Gelu);
  EXPECT_EQ(g.norm, Norm::LayerNorm);
  EXPECT_EQ(g.learned_position_embeddings, 2048);
}

TEST(ModelPresets, UnknownNameListsAvailablePresets) {
  try {
    load_model_preset(test::presets_dir(), "deepseek-v3x", "run.json", "model");
    FAIL() << "unknown preset accepted";
  } catch (const InputError& e) {
    std::printf("  message: %s\n", e.what());
    EXPECT_EQ(e.file(), "run.json");
    EXPECT_EQ(e.json_path(), "model");
    EXPECT_NE(e.message().find("available presets"), std::string::npos);
    EXPECT_NE(e.message().find("llama3-405b"), std::string::npos);
    EXPECT_NE(e.message().find("did you mean \"deepseek-v3\""), std::string::npos);
  }
  // Names are file names: path tricks are unknown names, not file reads.
  EXPECT_THROW(
      load_model_preset(test::presets_dir(), "../models/presets/llama3-8b", "r.json", "model"),
      InputError);
  EXPECT_THROW(load_model_preset(test::presets_dir(), "", "r.json", "model"), InputError);
}

TEST(ModelPresets, PresetNameMustMatchFileName) {
  const auto dir = std::filesystem::temp_directory_path() / "clustercost_models_test_presets";
  std::filesystem::create_directories(dir);
  Json j = preset_json("llama3-8b");
  j["name"] = "llama3-8b-copy";
  std::ofstream(dir / "mine.json") << j.dump();
  try {
    load_model_preset(dir, "mine", "r.json", "model");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "name");
    EXPECT_NE(e.file().find("mine.json"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST(ModelSpecParse, UnknownKeyIsAnErrorWithItsPath) {
  Json j = preset_json("llama3-70b");
  j["layer"] = 80;
  InputError e = parse_error(j);
  EXPECT_EQ(e.file(), "scenario.json");
  EXPECT_EQ(e.json_path(), "model.layer");
  EXPECT_NE(e.message().find("did you mean \"layers\""), std::string::npos) << e.what();

  Json k = preset_json("deepseek-v3");
  k["moe"]["topk"] = 8;
  EXPECT_EQ(parse_error(k).json_path(), "model.moe.topk");

  // MLA dimensions under a GQA model are unknown there.
  Json g = preset_json("llama3-8b");
  g["attention"]["kv_lora_rank"] = 512;
  EXPECT_EQ(parse_error(g).json_path(), "model.attention.kv_lora_rank");
}

TEST(ModelSpecParse, HeadsMustBeDivisibleByKvHeads) {
  Json j = preset_json("llama3-70b");
  j["kv_heads"] = 6;
  InputError e = parse_error(j);
  EXPECT_EQ(e.json_path(), "model.kv_heads");
  EXPECT_NE(e.message().find("not divisible"), std::string::npos) << e.what();

  j["kv_heads"] = 128;  // more K/V heads than query heads
  EXPECT_EQ(parse_error(j).json_path(), "model.kv_heads");

  // gqa needs fewer K/V heads than query heads; mha needs as many.
  Json g = preset_json("llama3-8b");
  g["kv_heads"] = 32;
  EXPECT_EQ(parse_error(g).json_path(), "model.kv_heads");
  Json m = preset_json("gpt3-175b");
  m["kv_heads"] = 8;
  EXPECT_EQ(parse_error(m).json_path(), "model.kv_heads");
}

TEST(ModelSpecParse, MoeTopKMustNotExceedExperts) {
  Json j = preset_json("mixtral-8x7b");
  j["moe"]["top_k"] = 9;
  InputError e = parse_error(j);
  EXPECT_EQ(e.json_path(), "model.moe.top_k");
  EXPECT_NE(e.message().find("routed_experts"), std::string::npos) << e.what();

  // Group-limited routing: top_k must fit in the experts of topk_groups groups.
  Json v3 = preset_json("deepseek-v3");
  v3["moe"]["topk_groups"] = 1;
  v3["moe"]["top_k"] = 33;
  EXPECT_EQ(parse_error(v3).json_path(), "model.moe.top_k");

  Json f = preset_json("deepseek-v3");
  f["moe"]["first_dense_layers"] = 62;
  EXPECT_EQ(parse_error(f).json_path(), "model.moe.first_dense_layers");

  Json ng = preset_json("deepseek-v3");
  ng["moe"]["n_groups"] = 7;
  EXPECT_EQ(parse_error(ng).json_path(), "model.moe.n_groups");
}

TEST(ModelSpecParse, MlaNeedsItsDimensions) {
  Json j = preset_json("deepseek-v2");
  j["attention"].erase("kv_lora_rank");
  InputError e = parse_error(j);
  EXPECT_EQ(e.json_path(), "model.attention.kv_lora_rank");
  EXPECT_NE(e.message().find("missing"), std::string::npos);

  Json z = preset_json("deepseek-v2");
  z["attention"]["v_head_dim"] = 0;
  EXPECT_EQ(parse_error(z).json_path(), "model.attention.v_head_dim");

  // q_lora_rank 0 is DeepSeek-V2-Lite's uncompressed queries: allowed.
  Json lite = preset_json("deepseek-v2");
  lite["attention"]["q_lora_rank"] = 0;
  EXPECT_NO_THROW(parse_model_spec(lite, "s.json", "model"));
}

TEST(ModelSpecParse, BadValuesNeverCrash) {
  const Json base = preset_json("llama3-8b");
  struct Case {
    const char* key;
    Json value;
  } cases[] = {{"layers", 0},
               {"layers", -3},
               {"layers", "many"},
               {"hidden", 1.5},
               {"hidden", 1e12},
               {"heads", nullptr},
               {"vocab", Json::array()},
               {"activation", "tanh"},
               {"norm", 3},
               {"tied_embeddings", "no"},
               {"attention", 5},
               {"mtp_depth", -1},
               {"ffn_hidden", -1}};
  for (const auto& c : cases) {
    Json j = base;
    j[c.key] = c.value;
    SCOPED_TRACE(std::string(c.key) + " = " + c.value.dump());
    EXPECT_EQ(parse_error(j).json_path(), std::string("model.") + c.key);
  }
  EXPECT_THROW(parse_model_spec(Json::array(), "s.json", "model"), InputError);
  EXPECT_THROW(parse_model_spec(Json("llama"), "s.json", "model"), InputError);

  Json missing = base;
  missing.erase("hidden");
  EXPECT_EQ(parse_error(missing).json_path(), "model.hidden");

  // A dense layer needs a dense FFN width.
  Json noffn = base;
  noffn["ffn_hidden"] = 0;
  EXPECT_EQ(parse_error(noffn).json_path(), "model.ffn_hidden");
}

TEST(ModelSpecParse, DefaultsForOptionalKeys) {
  Json j = Json::parse(R"({"name": "tiny", "layers": 2, "hidden": 256, "heads": 4,
                           "ffn_hidden": 1024, "vocab": 1000})");
  const ModelSpec m = parse_model_spec(j, "s.json", "model");
  EXPECT_EQ(m.kv_heads, 4);
  EXPECT_EQ(m.head_dim, 64);
  EXPECT_EQ(m.attention, AttentionKind::Mha);
  EXPECT_EQ(m.activation, Activation::SwiGlu);
  EXPECT_EQ(m.norm, Norm::RmsNorm);
  EXPECT_FALSE(m.is_moe());
  EXPECT_EQ(m.mtp_depth, 0);

  j["kv_heads"] = 2;
  EXPECT_EQ(parse_model_spec(j, "s.json", "model").attention, AttentionKind::Gqa);

  j["hidden"] = 250;  // not divisible by 4 heads and no head_dim given
  EXPECT_EQ(parse_error(j).json_path(), "model.head_dim");
}
