#pragma once
/// A transformer model as described by models/presets/NAME.json or inline under "model" in a
/// scenario (format: docs/design.md, "Model"). Pure description: counting lives in
/// accounting.hpp.
///
/// Keys beyond the DESIGN.md example (all optional, defaults in brackets): "source" (where the
/// figures come from) [""], "kv_heads" [heads], "head_dim" [hidden/heads], "activation"
/// [swiglu], "norm" [rmsnorm], "tied_embeddings" [false], "attention" [mha when kv_heads ==
/// heads, else gqa], "mtp_depth" [0], "bias" (biases on every linear layer, GPT-2/3 and
/// Megatron GPT) [false], "learned_position_embeddings" (rows of a learned absolute position
/// table, GPT-3 and Megatron GPT: 2048; 0 for rotary models) [0], "qk_norm" (per-head RMSNorm
/// of queries and keys, Qwen3) [false], and under "moe": "n_groups" / "topk_groups" [1 / 1].
/// Unknown keys are errors.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

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
  bool bias = false;   // biases on the linear layers (GPT-3, Megatron GPT)
  int learned_position_embeddings = 0;  // rows of a learned position table (0: rotary)
  bool qk_norm = false;                 // per-head RMSNorm on queries and keys (Qwen3)
  bool dropout = false;                 // dropout layers in training (GPT-3 / Megatron GPT: 0.1;
                                        // Llama 3, DeepSeek, Mixtral, Qwen3 train without): their
                                        // masks are stored activations (Korthikanti et al. §4.1)

  bool is_moe() const { return moe.has_value(); }
  /// True when layer `i` (0-based) has an MoE FFN.
  bool layer_is_moe(int i) const;
  /// Number of layers with an MoE FFN.
  int moe_layer_count() const;
  /// Per-head width of queries/keys: qk_nope + qk_rope for MLA, head_dim otherwise.
  int qk_head_dim() const;
  /// Per-head width of values: v_head_dim for MLA, head_dim otherwise.
  int v_head_dim() const;
  /// Heads whose K/V are materialised for the attention kernel: kv_heads for MHA/GQA, heads for
  /// MLA (the latent is up-projected per head before the score matmul).
  int attention_kv_heads() const;
};

/// Parses and validates a model object; errors name `file` and paths under `path`.
ModelSpec parse_model_spec(const Json& j, const std::string& file, const std::string& path);
/// Loads models/presets/NAME.json from `presets_dir`; unknown names give an InputError that
/// lists the available presets.
ModelSpec load_model_preset(const std::filesystem::path& presets_dir, const std::string& name,
                            const std::string& referring_file, const std::string& referring_path);
/// The resolved model as JSON (the preset format), for the report's resolved scenario.
/// parse_model_spec(model_spec_to_json(m)) gives back `m`.
Json model_spec_to_json(const ModelSpec& m);
/// Names of the presets in `presets_dir` (file stems of *.json), sorted; empty when the folder
/// is missing.
std::vector<std::string> list_model_presets(const std::filesystem::path& presets_dir);

}  // namespace clustercost
