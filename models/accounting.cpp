#include "models/accounting.hpp"

#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "sim/common/input_error.hpp"

namespace clustercost {

namespace {

// ---------------------------------------------------------------------------------------------
// Parameters of the building blocks. Shapes follow the HF reference implementations the presets
// cite (modeling_deepseek.py for MLA/DeepSeekMoE, modeling_llama / mixtral / qwen3_moe for GQA)
// and Megatron-LM's GPT (biases, learned positions, LayerNorm with scale and shift).
// ---------------------------------------------------------------------------------------------

// RMSNorm has a scale per channel; LayerNorm a scale and a shift.
double norm_params(const ModelSpec& m, double width) {
  return m.norm == Norm::LayerNorm ? 2.0 * width : width;
}

// SwiGLU FFNs have gate, up and down matrices (3·h·f, Shazeer 2020); GELU/ReLU up and down (2·h·f).
double ffn_matrices(const ModelSpec& m) { return m.activation == Activation::SwiGlu ? 3.0 : 2.0; }
double ffn_weights(const ModelSpec& m, double f) { return ffn_matrices(m) * m.hidden * f; }
// Biases of the column-parallel matrices (gate/up: f each) and of the down projection (h).
double ffn_column_biases(const ModelSpec& m, double f) {
  return m.bias ? (ffn_matrices(m) - 1.0) * f : 0.0;
}
double ffn_row_bias(const ModelSpec& m) { return m.bias ? m.hidden : 0.0; }

struct AttentionWeights {
  double replicated = 0;       // matrices whole on every TP rank (MLA down-projections)
  double sharded = 0;          // matrices split by tp (Q/K/V or up-projections, output)
  double norms = 0;            // MLA latent norms, Qwen3 per-head q/k norms (replicated)
  double sharded_bias = 0;     // Q/K/V biases (split by tp)
  double replicated_bias = 0;  // output-projection bias (whole on every rank, Megatron)
  double matmul() const { return replicated + sharded; }
  double total() const { return replicated + sharded + norms + sharded_bias + replicated_bias; }
};

AttentionWeights attention_weights(const ModelSpec& m) {
  AttentionWeights a;
  const double h = m.hidden, heads = m.heads;
  if (m.attention == AttentionKind::Mla) {
    // DeepSeek-V2 paper (arXiv 2405.04434) §2.1.2-2.1.3 and the V3 config: queries through a
    // q_lora bottleneck with its RMSNorm, keys/values through a kv_lora latent (+ the shared
    // decoupled RoPE key) with its RMSNorm, up-projected per head, output from heads·v to h.
    const MlaDims& d = m.mla;
    const double qk = d.qk_nope_head_dim + d.qk_rope_head_dim;
    if (d.q_lora_rank > 0) {
      a.replicated += h * d.q_lora_rank;
      a.norms += norm_params(m, d.q_lora_rank);
      a.sharded += static_cast<double>(d.q_lora_rank) * heads * qk;
    } else {
      a.sharded += h * heads * qk;  // DeepSeek-V2-Lite: plain query projection
    }
    a.replicated += h * (d.kv_lora_rank + d.qk_rope_head_dim);
    a.norms += norm_params(m, d.kv_lora_rank);
    a.sharded += static_cast<double>(d.kv_lora_rank) * heads * (d.qk_nope_head_dim + d.v_head_dim);
    a.sharded += heads * d.v_head_dim * h;
  } else {
    // q: h×heads·d, k and v: h×kv_heads·d each, o: heads·d×h (GQA, Ainslie et al. 2023).
    const double d = m.head_dim, kv = m.kv_heads;
    a.sharded = h * (heads + 2.0 * kv) * d + heads * d * h;
    if (m.qk_norm) a.norms = 2.0 * norm_params(m, d);  // Qwen3: RMSNorm(head_dim) on q and k
    if (m.bias) {
      a.sharded_bias = (heads + 2.0 * kv) * d;
      a.replicated_bias = h;
    }
  }
  return a;
}

// Whether the `d`-th MTP module's block has an MoE FFN: DeepSeek-V3's MTP layer (index 61) is
// built like the main layers at that index, i.e. MoE.
bool mtp_block_is_moe(const ModelSpec& m, int d) {
  return m.is_moe() && m.layer_is_moe(m.layers + d);
}

struct BlockParams {
  double attention = 0, dense_ffn = 0, routed = 0, shared = 0, router = 0, norms = 0, biases = 0;
  double routed_active = 0;
  double total() const { return attention + dense_ffn + routed + shared + router + norms; }
};

BlockParams block_params(const ModelSpec& m, bool moe_block) {
  BlockParams b;
  const AttentionWeights a = attention_weights(m);
  b.attention = a.matmul() + a.sharded_bias + a.replicated_bias;
  b.norms = a.norms + 2.0 * norm_params(m, m.hidden);  // pre-attention and pre-FFN norms
  b.biases = a.sharded_bias + a.replicated_bias;
  if (moe_block) {
    const MoeSpec& e = *m.moe;
    const double fe = e.expert_ffn_hidden;
    const double expert = ffn_weights(m, fe) + ffn_column_biases(m, fe) + ffn_row_bias(m);
    b.routed = e.routed_experts * expert;
    b.routed_active = e.top_k * expert;
    b.shared = e.shared_experts * expert;
    b.router = static_cast<double>(e.routed_experts) * m.hidden;
    b.biases +=
        (e.routed_experts + e.shared_experts) * (ffn_column_biases(m, fe) + ffn_row_bias(m));
  } else {
    b.dense_ffn =
        ffn_weights(m, m.ffn_hidden) + ffn_column_biases(m, m.ffn_hidden) + ffn_row_bias(m);
    b.biases += ffn_column_biases(m, m.ffn_hidden) + ffn_row_bias(m);
  }
  return b;
}

// MTP module (DeepSeek-V3 §2.2): RMSNorms on the previous hidden state and on the next token's
// embedding, a projection M (2h → h), one transformer block, and the output head's norm
// (shared_head.norm in the released weights); embedding and output head are shared.
double mtp_module_params(const ModelSpec& m, int d) {
  const double h = m.hidden;
  return 2.0 * h * h + 3.0 * norm_params(m, h) + block_params(m, mtp_block_is_moe(m, d)).total();
}

// Forward weight-matmul FLOPs of one token through one block (2 per multiply-add).
double block_gemm_fwd(const ModelSpec& m, bool moe_block) {
  double w = attention_weights(m).matmul();
  if (moe_block) {
    const MoeSpec& e = *m.moe;
    w += (e.top_k + e.shared_experts) * ffn_weights(m, e.expert_ffn_hidden);
    w += static_cast<double>(e.routed_experts) * m.hidden;  // router
  } else {
    w += ffn_weights(m, m.ffn_hidden);
  }
  return 2.0 * w;
}

// Score (QK^T) and context (PV) FLOPs of one token in one layer: 2·d_qk and 2·d_v per key and
// head; a causal query sees seq/2 keys on average (FlashAttention's "halved for causal").
double block_attention_fwd(const ModelSpec& m, int seq_len, bool causal) {
  const double keys = causal ? 0.5 * seq_len : static_cast<double>(seq_len);
  return 2.0 * m.heads * (m.qk_head_dim() + m.v_head_dim()) * keys;
}

}  // namespace

ParameterCounts count_parameters(const ModelSpec& m) {
  ParameterCounts c;
  const double h = m.hidden;
  c.embedding =
      static_cast<double>(m.vocab) * h + static_cast<double>(m.learned_position_embeddings) * h;
  c.lm_head = m.tied_embeddings ? 0.0 : static_cast<double>(m.vocab) * h;
  double routed_active = 0;
  for (int i = 0; i < m.layers; ++i) {
    const BlockParams b = block_params(m, m.layer_is_moe(i));
    c.attention += b.attention;
    c.dense_ffn += b.dense_ffn;
    c.routed_experts += b.routed;
    c.shared_experts += b.shared;
    c.router += b.router;
    c.norms += b.norms;
    c.biases += b.biases;
    routed_active += b.routed_active;
  }
  c.norms += norm_params(m, h);  // final norm before the LM head
  c.total = c.embedding + c.lm_head + c.attention + c.dense_ffn + c.routed_experts +
            c.shared_experts + c.router + c.norms;
  c.active = c.total - c.routed_experts + routed_active;
  c.active_excluding_embedding = c.active - c.embedding;
  for (int d = 0; d < m.mtp_depth; ++d) c.mtp += mtp_module_params(m, d);
  return c;
}

FlopsPerToken flops_per_token_breakdown(const ModelSpec& m, int seq_len, bool causal) {
  FlopsPerToken f;
  const double head = 2.0 * m.hidden * static_cast<double>(m.vocab);
  double gemm = head, attn = 0;
  for (int i = 0; i < m.layers; ++i) {
    gemm += block_gemm_fwd(m, m.layer_is_moe(i));
    attn += block_attention_fwd(m, seq_len, causal);
  }
  f.gemm_fwd = FlopCount(gemm);
  f.attention_fwd = FlopCount(attn);
  double mtp_gemm = 0, mtp_attn = 0;
  for (int d = 0; d < m.mtp_depth; ++d) {
    // projection 2h→h, the block, and the (shared) output head run once more per module.
    mtp_gemm += 2.0 * 2.0 * m.hidden * static_cast<double>(m.hidden) +
                block_gemm_fwd(m, mtp_block_is_moe(m, d)) + head;
    mtp_attn += block_attention_fwd(m, seq_len, causal);
  }
  f.mtp_gemm_fwd = FlopCount(mtp_gemm);
  f.mtp_attention_fwd = FlopCount(mtp_attn);
  return f;
}

FlopCount training_flops_per_token(const ModelSpec& m, int seq_len) {
  return flops_per_token_breakdown(m, seq_len, true).training();
}

FlopCount forward_flops_per_token(const ModelSpec& m, int seq_len) {
  return flops_per_token_breakdown(m, seq_len, true).forward();
}

// ---------------------------------------------------------------------------------------------
// Per-rank plans
// ---------------------------------------------------------------------------------------------

namespace {

// How one rank divides the model's weights.
struct Shard {
  const ModelSpec& m;
  const ShardContext& c;
  double t = 1;  // tp
};

// Weights one rank holds of one transformer block, and the routed-expert part of them.
std::pair<double, double> block_params_on_rank(const ModelSpec& m, const Shard& s, bool moe_block) {
  const AttentionWeights a = attention_weights(m);
  double p = a.replicated + a.sharded / s.t + a.norms + a.sharded_bias / s.t + a.replicated_bias +
             2.0 * norm_params(m, m.hidden);
  double experts = 0;
  if (moe_block) {
    const MoeSpec& e = *m.moe;
    const double fe = e.expert_ffn_hidden;
    const double expert = ffn_weights(m, fe) + ffn_column_biases(m, fe) + ffn_row_bias(m);
    experts = static_cast<double>(e.routed_experts / s.c.ep) * expert;
    p += static_cast<double>(e.routed_experts) * m.hidden + experts;
    p += e.shared_experts *
         ((ffn_weights(m, fe) + ffn_column_biases(m, fe)) / s.t + ffn_row_bias(m));
  } else {
    const double f = m.ffn_hidden;
    p += (ffn_weights(m, f) + ffn_column_biases(m, f)) / s.t + ffn_row_bias(m);
  }
  return {p, experts};
}

[[noreturn]] void infeasible(const std::string& path, const std::string& msg) {
  throw InfeasibleError("", path, msg);
}

void check_context(const ModelSpec& m, const ShardContext& c) {
  auto positive = [](int v, const char* path) {
    if (v < 1) throw InputError("", path, "expected a positive integer, got " + std::to_string(v));
  };
  positive(c.tp, "parallelism.tp");
  positive(c.cp, "parallelism.cp");
  positive(c.ep, "parallelism.ep");
  positive(c.seq_len, "training.seq_len");
  positive(c.micro_batch, "parallelism.micro_batch");
  const std::string tp = std::to_string(c.tp);
  if (m.heads % c.tp != 0)
    infeasible("parallelism.tp", "tp " + tp + " does not divide the " + std::to_string(m.heads) +
                                     " attention heads of " + m.name);
  if (m.attention_kv_heads() % c.tp != 0)
    infeasible("parallelism.tp", "tp " + tp + " does not divide the " +
                                     std::to_string(m.attention_kv_heads()) + " K/V heads of " +
                                     m.name + " (Megatron needs num_query_groups % tp == 0)");
  bool dense_layers = false;
  for (int i = 0; i < m.layers && !dense_layers; ++i) dense_layers = !m.layer_is_moe(i);
  if (dense_layers && m.ffn_hidden % c.tp != 0)
    infeasible("parallelism.tp", "tp " + tp + " does not divide ffn_hidden " +
                                     std::to_string(m.ffn_hidden) + " of " + m.name);
  if (c.seq_len % c.cp != 0)
    infeasible("parallelism.cp", "cp " + std::to_string(c.cp) + " does not divide seq_len " +
                                     std::to_string(c.seq_len));
  if (m.moe) {
    const long shared = static_cast<long>(m.moe->shared_experts) * m.moe->expert_ffn_hidden;
    if (shared % c.tp != 0)
      infeasible("parallelism.tp", "tp " + tp + " does not divide the shared-expert width " +
                                       std::to_string(shared) + " of " + m.name);
    if (m.moe->routed_experts % c.ep != 0)
      infeasible("parallelism.ep", "ep " + std::to_string(c.ep) + " does not divide the " +
                                       std::to_string(m.moe->routed_experts) +
                                       " routed experts of " + m.name);
  } else if (c.ep > 1) {
    infeasible("parallelism.ep",
               "ep " + std::to_string(c.ep) + " needs an MoE model; " + m.name + " is dense");
  }
}

}  // namespace

std::vector<LayerPlan> plan_layers(const ModelSpec& m, const ShardContext& ctx) {
  check_context(m, ctx);
  const Shard s{m, ctx, static_cast<double>(ctx.tp)};
  const double h = m.hidden;
  std::vector<LayerPlan> plan;
  plan.reserve(static_cast<std::size_t>(m.layers + m.mtp_depth + 2));

  LayerPlan emb;
  emb.kind = LayerKind::Embedding;
  emb.index = -1;
  // Vocabulary-parallel embedding: the table split by tp.
  emb.params_on_rank = static_cast<double>(m.vocab) * h / s.t +
                       static_cast<double>(m.learned_position_embeddings) * h;
  plan.push_back(emb);

  for (int i = 0; i < m.layers; ++i) {
    const bool moe_block = m.layer_is_moe(i);
    LayerPlan l;
    l.kind = moe_block ? LayerKind::Moe : LayerKind::Dense;
    l.index = i;
    std::tie(l.params_on_rank, l.expert_params_on_rank) = block_params_on_rank(m, s, moe_block);
    plan.push_back(l);
  }

  for (int d = 0; d < m.mtp_depth; ++d) {
    // DeepSeek-V3 §2.2: embed the token k ahead (shared table), normalise it and the previous
    // depth's hidden state, project the concatenation 2h → h, run one block, share the head.
    const bool moe_block = mtp_block_is_moe(m, d);
    LayerPlan l;
    l.kind = LayerKind::Mtp;
    l.index = m.layers + d;
    auto [p, experts] = block_params_on_rank(m, s, moe_block);
    l.params_on_rank = p + 2.0 * h * h / s.t + 3.0 * norm_params(m, h);
    l.expert_params_on_rank = experts;
    plan.push_back(l);
  }

  LayerPlan head;
  head.kind = LayerKind::LmHead;
  head.index = -1;
  head.params_on_rank =
      (m.tied_embeddings ? 0.0 : static_cast<double>(m.vocab) * h / s.t) + norm_params(m, h);
  plan.push_back(head);
  return plan;
}

StateMemory state_memory(double params_on_rank, const StatePrecision& p, int zero, int dp) {
  if (zero < 0 || zero > 3)
    throw InputError("", "parallelism.zero",
                     "expected a ZeRO stage 0..3, got " + std::to_string(zero));
  if (dp < 1) throw InputError("", "parallelism.dp", "expected dp >= 1, got " + std::to_string(dp));
  if (!(params_on_rank >= 0)) throw std::invalid_argument("state_memory: negative parameter count");
  // ZeRO (Rajbhandari et al. 2020, arXiv 1910.02054): stage 1 shards the optimizer state
  // (master weights and moments), stage 2 also the gradients, stage 3 also the weights.
  const double n = dp;
  StateMemory s;
  s.optimizer =
      Bytes(params_on_rank * (p.master_bytes + p.optimizer_bytes) / (zero >= 1 ? n : 1.0));
  s.grads = Bytes(params_on_rank * p.grad_bytes / (zero >= 2 ? n : 1.0));
  s.weights = Bytes(params_on_rank * p.weight_bytes / (zero >= 3 ? n : 1.0));
  return s;
}

}  // namespace clustercost
