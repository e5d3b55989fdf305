#pragma once
/// A transformer model as described by models/presets/NAME.json or inline under "model" in a
/// scenario (format: ../shared/DESIGN.md, "Model"). Pure description: counting lives in
/// accounting.hpp.

#include <filesystem>
#include <optional>
#include <string>

#include "sim/common/json_reader.hpp"

namespace clustercost {

enum class AttentionKind { Mha, Gqa, Mla };
enum class Activation { SwiGlu, Gelu, Relu };
enum class Norm { RmsNorm, LayerNorm };

struct MlaDims {
  int q_lora_rank = 0;  // 0: queries are not compressed (DeepSeek-V2-Lite style)
  int kv_lora_rank = 0;
  int qk_nope_head_dim = 0;
  int qk_rope_head_dim = 0;
  int v_head_dim = 0;
};

struct MoeSpec {
  int routed_experts = 0;
  int shared_experts = 0;
  int top_k = 0;
  int expert_ffn_hidden = 0;
  int first_dense_layers = 0;  // leading layers with a dense FFN
  int layer_freq = 1;          // every layer_freq-th layer after those is MoE
  // Optional routing-group structure (DeepSeek-V3: 8 groups, top-4 groups; V2: device-limited).
  int n_groups = 1;
  int topk_groups = 1;
};

struct ModelSpec {
  std::string name;
  int layers = 0;
  int hidden = 0;
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int ffn_hidden = 0;  // dense FFN intermediate size
  int vocab = 0;
  Activation activation = Activation::SwiGlu;
  Norm norm = Norm::RmsNorm;
  bool tied_embeddings = false;
  AttentionKind attention = AttentionKind::Mha;
  MlaDims mla;
  std::optional<MoeSpec> moe;
  int mtp_depth = 0;  // DeepSeek-V3 multi-token prediction modules
  std::string source;  // where the architecture figures come from (paper, config.json)

  bool is_moe() const { return moe.has_value(); }
  /// True when layer `i` (0-based) has an MoE FFN.
  bool layer_is_moe(int i) const;
};

/// Parses and validates a model object; errors name `file` and paths under `path`.
ModelSpec parse_model_spec(const Json& j, const std::string& file, const std::string& path);
/// Loads models/presets/NAME.json from `presets_dir`; unknown names give an InputError that
/// lists the available presets.
ModelSpec load_model_preset(const std::filesystem::path& presets_dir, const std::string& name,
                            const std::string& referring_file, const std::string& referring_path);
/// The resolved model as JSON (the preset format), for the report's resolved scenario.
Json model_spec_to_json(const ModelSpec& m);

}  // namespace clustercost
