#include "models/model_spec.hpp"

#include <algorithm>
#include <cstdint>
#include <system_error>

namespace clustercost {

bool ModelSpec::layer_is_moe(int i) const {
  if (!moe) return false;
  if (i < moe->first_dense_layers) return false;
  return (i - moe->first_dense_layers) % moe->layer_freq == 0;
}

int ModelSpec::moe_layer_count() const {
  int n = 0;
  for (int i = 0; i < layers; ++i) n += layer_is_moe(i) ? 1 : 0;
  return n;
}

int ModelSpec::qk_head_dim() const {
  return attention == AttentionKind::Mla ? mla.qk_nope_head_dim + mla.qk_rope_head_dim : head_dim;
}

int ModelSpec::v_head_dim() const {
  return attention == AttentionKind::Mla ? mla.v_head_dim : head_dim;
}

int ModelSpec::attention_kv_heads() const {
  return attention == AttentionKind::Mla ? heads : kv_heads;
}

namespace {

// Far above any real model dimension (DeepSeek-V3's largest is 129280), low enough that products
// of two dimensions stay exact in double and sums of a few stay inside int.
constexpr std::int64_t kMaxDimension = std::int64_t{1} << 26;

int checked_int(ObjectReader& r, std::string_view key, std::int64_t v, std::int64_t lo) {
  if (v < lo)
    r.fail(key, "expected an integer >= " + std::to_string(lo) + ", got " + std::to_string(v));
  if (v > kMaxDimension)
    r.fail(key, "value " + std::to_string(v) + " is out of range (at most " +
                    std::to_string(kMaxDimension) + ")");
  return static_cast<int>(v);
}

int required_int(ObjectReader& r, std::string_view key, std::int64_t lo) {
  return checked_int(r, key, r.integer(key), lo);
}

// Counts that size per-layer and per-expert work (operator lists, routing matrices) get tighter
// limits than dimensions: far above real models (Megatron-1T: 128 layers; DeepSeek-V3: 256
// routed experts), low enough that a typo cannot exhaust memory.
constexpr std::int64_t kMaxLayers = 4096;
constexpr std::int64_t kMaxExperts = 65536;

int count_at_most(ObjectReader& r, std::string_view key, int v, std::int64_t limit,
                  const char* what) {
  if (v > limit)
    r.fail(key, std::to_string(v) + " " + what + " exceeds the limit of " +
                    std::to_string(limit) + " " + what);
  return v;
}

int optional_int(ObjectReader& r, std::string_view key, std::int64_t lo, std::int64_t fallback) {
  return checked_int(r, key, r.integer_or(key, fallback), lo);
}

const char* to_string(AttentionKind k) {
  switch (k) {
    case AttentionKind::Mha: return "mha";
    case AttentionKind::Gqa: return "gqa";
    case AttentionKind::Mla: return "mla";
  }
  return "mha";
}

const char* to_string(Activation a) {
  switch (a) {
    case Activation::SwiGlu: return "swiglu";
    case Activation::Gelu: return "gelu";
    case Activation::Relu: return "relu";
  }
  return "swiglu";
}

const char* to_string(Norm n) { return n == Norm::LayerNorm ? "layernorm" : "rmsnorm"; }

// Preset names become file names: keep them to a safe alphabet (no path separators, no "..").
bool valid_preset_name(const std::string& name) {
  if (name.empty() || name.size() > 100 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

}  // namespace

ModelSpec parse_model_spec(const Json& j, const std::string& file, const std::string& path) {
  ObjectReader r(j, file, path);
  ModelSpec m;
  m.name = r.string("name");
  if (m.name.empty()) r.fail("name", "must not be empty");
  m.source = r.string_or("source", "");
  m.layers = count_at_most(r, "layers", required_int(r, "layers", 1), kMaxLayers, "layers");
  m.hidden = required_int(r, "hidden", 1);
  m.heads = required_int(r, "heads", 1);
  m.kv_heads = optional_int(r, "kv_heads", 1, m.heads);
  if (r.has("head_dim")) {
    m.head_dim = required_int(r, "head_dim", 1);
  } else {
    if (m.hidden % m.heads != 0)
      r.fail("head_dim", "required: hidden (" + std::to_string(m.hidden) +
                             ") is not divisible by heads (" + std::to_string(m.heads) + ")");
    m.head_dim = m.hidden / m.heads;
  }
  m.ffn_hidden = required_int(r, "ffn_hidden", 0);
  m.vocab = required_int(r, "vocab", 1);

  const std::string act = r.one_of_or("activation", {"swiglu", "gelu", "relu"}, "swiglu");
  m.activation = act == "gelu"   ? Activation::Gelu
                 : act == "relu" ? Activation::Relu
                                 : Activation::SwiGlu;
  m.norm = r.one_of_or("norm", {"rmsnorm", "layernorm"}, "rmsnorm") == "layernorm" ? Norm::LayerNorm
                                                                                   : Norm::RmsNorm;
  m.tied_embeddings = r.boolean_or("tied_embeddings", false);
  m.bias = r.boolean_or("bias", false);
  m.learned_position_embeddings = optional_int(r, "learned_position_embeddings", 0, 0);
  m.qk_norm = r.boolean_or("qk_norm", false);
  m.dropout = r.boolean_or("dropout", false);
  m.mtp_depth = count_at_most(r, "mtp_depth", optional_int(r, "mtp_depth", 0, 0), kMaxLayers,
                              "layers");  // each MTP module is one more transformer layer

  // The number of K/V heads must divide the query heads (each K/V head serves a whole group).
  if (m.kv_heads > m.heads)
    r.fail("kv_heads", "kv_heads (" + std::to_string(m.kv_heads) + ") exceeds heads (" +
                           std::to_string(m.heads) + ")");
  if (m.heads % m.kv_heads != 0)
    r.fail("kv_heads", "heads (" + std::to_string(m.heads) + ") is not divisible by kv_heads (" +
                           std::to_string(m.kv_heads) + ")");

  if (auto ar = r.optional_object("attention")) {
    const std::string kind = ar->one_of("kind", {"mha", "gqa", "mla"});
    if (kind == "mha") {
      m.attention = AttentionKind::Mha;
      if (m.kv_heads != m.heads)
        r.fail("kv_heads", "attention kind \"mha\" needs kv_heads == heads (" +
                               std::to_string(m.heads) + "), got " + std::to_string(m.kv_heads) +
                               "; use \"gqa\"");
    } else if (kind == "gqa") {
      m.attention = AttentionKind::Gqa;
      if (m.kv_heads >= m.heads)
        r.fail("kv_heads", "attention kind \"gqa\" needs kv_heads < heads (" +
                               std::to_string(m.heads) + "), got " + std::to_string(m.kv_heads) +
                               "; use \"mha\"");
    } else {
      m.attention = AttentionKind::Mla;
      // q_lora_rank 0 means uncompressed queries (DeepSeek-V2-Lite); the others are needed.
      m.mla.q_lora_rank = required_int(*ar, "q_lora_rank", 0);
      m.mla.kv_lora_rank = required_int(*ar, "kv_lora_rank", 1);
      m.mla.qk_nope_head_dim = required_int(*ar, "qk_nope_head_dim", 1);
      m.mla.qk_rope_head_dim = required_int(*ar, "qk_rope_head_dim", 1);
      m.mla.v_head_dim = required_int(*ar, "v_head_dim", 1);
      if (m.kv_heads != m.heads)
        r.fail("kv_heads",
               "attention kind \"mla\" up-projects K/V for every head: kv_heads must "
               "equal heads (" +
                   std::to_string(m.heads) + ") or be omitted");
    }
    ar->finish();
  } else {
    m.attention = m.kv_heads == m.heads ? AttentionKind::Mha : AttentionKind::Gqa;
  }
  if (m.qk_norm && m.attention == AttentionKind::Mla)
    r.fail("qk_norm", "MLA normalises its latents, not per-head queries/keys");
  if (m.bias && m.attention == AttentionKind::Mla)
    r.fail("bias", "linear-layer biases are not modelled for MLA (no MLA model uses them)");

  if (auto mr = r.optional_object("moe")) {
    MoeSpec e;
    e.routed_experts = count_at_most(*mr, "routed_experts", required_int(*mr, "routed_experts", 1),
                                     kMaxExperts, "experts");
    e.shared_experts = count_at_most(*mr, "shared_experts", optional_int(*mr, "shared_experts", 0, 0),
                                     kMaxExperts, "experts");
    e.top_k = required_int(*mr, "top_k", 1);
    e.expert_ffn_hidden = required_int(*mr, "expert_ffn_hidden", 1);
    e.first_dense_layers = optional_int(*mr, "first_dense_layers", 0, 0);
    e.layer_freq = optional_int(*mr, "layer_freq", 1, 1);
    e.n_groups = optional_int(*mr, "n_groups", 1, 1);
    e.topk_groups = optional_int(*mr, "topk_groups", 1, 1);
    mr->finish();
    if (e.top_k > e.routed_experts)
      mr->fail("top_k", "top_k (" + std::to_string(e.top_k) + ") exceeds routed_experts (" +
                            std::to_string(e.routed_experts) + ")");
    if (e.first_dense_layers > m.layers)
      mr->fail("first_dense_layers", "first_dense_layers (" + std::to_string(e.first_dense_layers) +
                                         ") exceeds layers (" + std::to_string(m.layers) + ")");
    if (e.routed_experts % e.n_groups != 0)
      mr->fail("n_groups", "routed_experts (" + std::to_string(e.routed_experts) +
                               ") is not divisible by n_groups (" + std::to_string(e.n_groups) +
                               ")");
    if (e.topk_groups > e.n_groups)
      mr->fail("topk_groups", "topk_groups (" + std::to_string(e.topk_groups) +
                                  ") exceeds n_groups (" + std::to_string(e.n_groups) + ")");
    // Group-limited routing picks top_k experts inside the topk_groups selected groups.
    const int reachable = e.topk_groups * (e.routed_experts / e.n_groups);
    if (e.top_k > reachable)
      mr->fail("top_k", "top_k (" + std::to_string(e.top_k) + ") exceeds the " +
                            std::to_string(reachable) + " experts reachable in topk_groups (" +
                            std::to_string(e.topk_groups) + ") of n_groups (" +
                            std::to_string(e.n_groups) + ")");
    m.moe = e;
  }
  r.finish();

  if (m.ffn_hidden == 0) {
    for (int i = 0; i < m.layers; ++i) {
      if (!m.layer_is_moe(i))
        r.fail("ffn_hidden", "must be > 0: layer " + std::to_string(i) + " has a dense FFN");
    }
  }
  return m;
}

std::vector<std::string> list_model_presets(const std::filesystem::path& presets_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  if (!std::filesystem::is_directory(presets_dir, ec)) return names;
  for (std::filesystem::directory_iterator it(presets_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const auto& p = it->path();
    if (p.extension() == ".json" && it->is_regular_file(ec)) names.push_back(p.stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

ModelSpec load_model_preset(const std::filesystem::path& presets_dir, const std::string& name,
                            const std::string& referring_file, const std::string& referring_path) {
  const auto available = list_model_presets(presets_dir);
  std::string known;
  for (const auto& n : available) known += (known.empty() ? "" : ", ") + n;
  if (known.empty()) known = "(none found in " + presets_dir.string() + ")";

  if (!valid_preset_name(name) ||
      std::find(available.begin(), available.end(), name) == available.end()) {
    std::string msg = "unknown model preset \"" + name + "\"";
    // Suggest the nearest name for a typo ("deepseek-v4" -> "deepseek-v3").
    std::string best;
    std::size_t best_d = 4;
    for (const auto& n : available) {
      auto dist = edit_distance(n, name);
      if (dist < best_d) {
        best_d = dist;
        best = n;
      }
    }
    if (!best.empty()) msg += " (did you mean \"" + best + "\"?)";
    msg += "; available presets: " + known;
    throw InputError(referring_file, referring_path, msg);
  }

  const auto file = presets_dir / (name + ".json");
  const Json j = load_json_file(file);
  ModelSpec m = parse_model_spec(j, file.string(), "");
  if (m.name != name)
    throw InputError(file.string(), "name",
                     "preset file " + name + ".json declares name \"" + m.name +
                         "\"; the name must match the file name");
  return m;
}

Json model_spec_to_json(const ModelSpec& m) {
  Json j;
  j["name"] = m.name;
  j["layers"] = m.layers;
  j["hidden"] = m.hidden;
  j["heads"] = m.heads;
  j["kv_heads"] = m.kv_heads;
  j["head_dim"] = m.head_dim;
  j["ffn_hidden"] = m.ffn_hidden;
  j["vocab"] = m.vocab;
  j["activation"] = to_string(m.activation);
  j["norm"] = to_string(m.norm);
  j["tied_embeddings"] = m.tied_embeddings;
  Json a;
  a["kind"] = to_string(m.attention);
  if (m.attention == AttentionKind::Mla) {
    a["q_lora_rank"] = m.mla.q_lora_rank;
    a["kv_lora_rank"] = m.mla.kv_lora_rank;
    a["qk_nope_head_dim"] = m.mla.qk_nope_head_dim;
    a["qk_rope_head_dim"] = m.mla.qk_rope_head_dim;
    a["v_head_dim"] = m.mla.v_head_dim;
  }
  j["attention"] = a;
  if (m.moe) {
    Json e;
    e["routed_experts"] = m.moe->routed_experts;
    e["shared_experts"] = m.moe->shared_experts;
    e["top_k"] = m.moe->top_k;
    e["expert_ffn_hidden"] = m.moe->expert_ffn_hidden;
    e["first_dense_layers"] = m.moe->first_dense_layers;
    e["layer_freq"] = m.moe->layer_freq;
    if (m.moe->n_groups != 1 || m.moe->topk_groups != 1) {
      e["n_groups"] = m.moe->n_groups;
      e["topk_groups"] = m.moe->topk_groups;
    }
    j["moe"] = e;
  }
  j["mtp_depth"] = m.mtp_depth;
  // Extensions only when they differ from the default, so common presets stay in the DESIGN.md
  // shape.
  if (m.bias) j["bias"] = true;
  if (m.learned_position_embeddings > 0)
    j["learned_position_embeddings"] = m.learned_position_embeddings;
  if (m.qk_norm) j["qk_norm"] = true;
  if (m.dropout) j["dropout"] = true;
  if (!m.source.empty()) j["source"] = m.source;
  return j;
}

}  // namespace clustercost
