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

// What one rank holds of one micro-batch, derived once from the ShardContext.
struct Shard {
  const ModelSpec& m;
  const ShardContext& c;
  double t = 1;          // tp
  double tokens = 0;     // query rows on this rank: micro_batch·seq_len/cp
  double norm_rows = 0;  // rows of norms/residuals: tokens/tp with sequence parallelism
  double rep = 1;        // 1/tp for the parts sequence parallelism splits, else 1
  bool norms_replicated = false;
  double moe_tokens = 0;       // tokens this rank routes: tokens/tp (the TP group splits them)
  double routed_rows = 0;      // routed token copies the rank's experts process
  double e = 2, p = 2, g = 4;  // activation, weight, gradient bytes
  double heads_r = 0;          // query heads on the rank
  double kv_heads_r = 0;       // K/V heads on the rank
};

Shard make_shard(const ModelSpec& m, const ShardContext& c) {
  Shard s{m, c};
  s.t = c.tp;
  s.tokens = static_cast<double>(c.micro_batch) * c.seq_len / c.cp;
  s.norms_replicated = c.tp > 1 && !c.sequence_parallel;
  s.rep = c.sequence_parallel ? 1.0 / c.tp : 1.0;
  s.norm_rows = s.tokens * s.rep;
  s.moe_tokens = s.tokens / c.tp;
  if (m.moe) {
    s.routed_rows =
        c.routed_tokens_on_rank >= 0 ? c.routed_tokens_on_rank : s.moe_tokens * m.moe->top_k;
  }
  s.e = c.bytes_per_activation;
  s.p = c.bytes_per_param;
  s.g = c.bytes_per_grad;
  s.heads_r = static_cast<double>(m.heads) / c.tp;
  s.kv_heads_r = static_cast<double>(m.attention_kv_heads()) / c.tp;
  return s;
}

// C[m×n] = A[m×k]·B[k×n]. Backward: dgrad (read W and dC, write dA) and wgrad (read A and dC,
// accumulate dW at gradient width: read and write, as Megatron's gradient-accumulation fusion).
Operator gemm(std::string name, double rows, double n, double k, const Shard& s,
              bool replicated = false) {
  Operator op;
  op.name = std::move(name);
  op.op_class = OpClass::Gemm;
  op.flops_fwd = FlopCount(2.0 * rows * n * k);
  op.flops_bwd = FlopCount(4.0 * rows * n * k);
  const double w = k * n, in = rows * k, out = rows * n;
  op.bytes_fwd = Bytes(w * s.p + (in + out) * s.e);
  op.bytes_bwd = Bytes(w * s.p + 2.0 * (in + out) * s.e + 2.0 * w * s.g);
  op.shape = GemmShape{rows, n, k, 1};
  op.tp_replicated = replicated;
  return op;
}

// `groups` experts on the rank sharing `rows` token copies (uniform: rows/groups each).
Operator grouped_gemm(std::string name, double rows, int groups, double n, double k,
                      const Shard& s) {
  Operator op = gemm(std::move(name), rows, n, k, s);
  op.op_class = OpClass::GroupedGemm;
  const double w = groups * k * n, in = rows * k, out = rows * n;
  op.bytes_fwd = Bytes(w * s.p + (in + out) * s.e);
  op.bytes_bwd = Bytes(w * s.p + 2.0 * (in + out) * s.e + 2.0 * w * s.g);
  op.shape = GemmShape{groups > 0 ? rows / groups : rows, n, k, groups};
  return op;
}

// Bandwidth-bound elementwise work (norms, activations, permutes). Its few FLOPs per element are
// outside the model-FLOP convention, so none are counted. Backward reads the saved input and the
// output gradient and writes the input gradient.
Operator memory_op(std::string name, double read_bytes, double write_bytes, bool replicated) {
  Operator op;
  op.name = std::move(name);
  op.op_class = OpClass::Memory;
  op.bytes_fwd = Bytes(read_bytes + write_bytes);
  op.bytes_bwd = Bytes(2.0 * read_bytes + write_bytes);
  op.tp_replicated = replicated;
  return op;
}

Operator norm_op(std::string name, double width, const Shard& s) {
  const double act = s.norm_rows * width * s.e;
  return memory_op(std::move(name), act + width * s.p, act, s.norms_replicated);
}

// FlashAttention over this rank's queries (tokens) against the whole sequence's keys; with CP
// the keys arrive around the ring, each read once.
Operator attention_op(const Shard& s) {
  const ModelSpec& m = s.m;
  const double dqk = m.qk_head_dim(), dv = m.v_head_dim();
  const double seq = s.c.seq_len;
  Operator op;
  op.name = "attn.core";
  op.op_class = OpClass::Attention;
  // Causal, balanced across CP ranks: each query sees seq/2 keys on average.
  const double fwd = s.tokens * s.heads_r * 2.0 * (dqk + dv) * 0.5 * seq;
  op.flops_fwd = FlopCount(fwd);
  op.flops_bwd = FlopCount(kAttentionKernelBwdFactor * fwd);
  const double q = s.tokens * s.heads_r * dqk * s.e;
  const double kv = static_cast<double>(s.c.micro_batch) * seq * s.kv_heads_r * (dqk + dv) * s.e;
  const double o = s.tokens * s.heads_r * dv * s.e;
  const double lse = s.tokens * s.heads_r * 4.0;  // fp32 log-sum-exp per row and head
  op.bytes_fwd = Bytes(q + kv + o + lse);
  // Backward reads Q, K, V, O, dO and the LSE, writes dQ, dK, dV.
  op.bytes_bwd = Bytes(2.0 * q + 2.0 * kv + 2.0 * o + lse);
  op.shape = GemmShape{seq / s.c.cp, seq, dqk, static_cast<int>(s.c.micro_batch * s.heads_r)};
  return op;
}

void add_attention(std::vector<Operator>& ops, const Shard& s) {
  const ModelSpec& m = s.m;
  const double h = m.hidden, T = s.tokens;
  const bool dup = s.t > 1;  // MLA down-projections run on every TP rank
  ops.push_back(norm_op("attn.norm", h, s));
  if (m.attention == AttentionKind::Mla) {
    const MlaDims& d = m.mla;
    const double qk = d.qk_nope_head_dim + d.qk_rope_head_dim;
    if (d.q_lora_rank > 0) {
      ops.push_back(gemm("attn.q_down", T, d.q_lora_rank, h, s, dup));
      const double lat = T * d.q_lora_rank * s.e;
      ops.push_back(memory_op("attn.q_norm", lat + d.q_lora_rank * s.p, lat, dup));
      ops.push_back(gemm("attn.q_up", T, s.heads_r * qk, d.q_lora_rank, s));
    } else {
      ops.push_back(gemm("attn.q", T, s.heads_r * qk, h, s));
    }
    ops.push_back(gemm("attn.kv_down", T, d.kv_lora_rank + d.qk_rope_head_dim, h, s, dup));
    const double lat = T * d.kv_lora_rank * s.e;
    ops.push_back(memory_op("attn.kv_norm", lat + d.kv_lora_rank * s.p, lat, dup));
    ops.push_back(
        gemm("attn.kv_up", T, s.heads_r * (d.qk_nope_head_dim + d.v_head_dim), d.kv_lora_rank, s));
  } else {
    ops.push_back(gemm("attn.qkv", T, (s.heads_r + 2.0 * s.kv_heads_r) * m.head_dim, h, s));
    if (m.qk_norm) {
      const double qk = T * (s.heads_r + s.kv_heads_r) * m.head_dim * s.e;
      ops.push_back(memory_op("attn.qk_norm", qk, qk, false));
    }
  }
  ops.push_back(attention_op(s));
  ops.push_back(gemm("attn.out", T, h, s.heads_r * m.v_head_dim(), s));
}

void add_ffn(std::vector<Operator>& ops, const std::string& prefix, double rows, double f,
             const Shard& s, int groups = 0) {
  const ModelSpec& m = s.m;
  const double h = m.hidden;
  const bool glu = m.activation == Activation::SwiGlu;
  const std::string up = prefix + (glu ? ".up_gate" : ".up");
  const double up_n = glu ? 2.0 * f : f;
  if (groups > 0) {
    ops.push_back(grouped_gemm(up, rows, groups, up_n, h, s));
  } else {
    ops.push_back(gemm(up, rows, up_n, h, s));
  }
  ops.push_back(memory_op(prefix + ".act", rows * up_n * s.e, rows * f * s.e, false));
  if (groups > 0) {
    ops.push_back(grouped_gemm(prefix + ".down", rows, groups, h, f, s));
  } else {
    ops.push_back(gemm(prefix + ".down", rows, h, f, s));
  }
}

void add_mlp(std::vector<Operator>& ops, const Shard& s, bool moe_block) {
  const ModelSpec& m = s.m;
  const double h = m.hidden;
  ops.push_back(norm_op("mlp.norm", h, s));
  if (!moe_block) {
    add_ffn(ops, "mlp", s.tokens, m.ffn_hidden / s.t, s);
    return;
  }
  const MoeSpec& e = *m.moe;
  ops.push_back(gemm("moe.router", s.moe_tokens, e.routed_experts, h, s));
  const double own_copies = s.moe_tokens * e.top_k;  // copies this rank sends and gets back
  ops.push_back(memory_op("moe.permute", s.moe_tokens * h * s.e, own_copies * h * s.e, false));
  add_ffn(ops, "moe.experts", s.routed_rows, e.expert_ffn_hidden, s, e.routed_experts / s.c.ep);
  ops.push_back(memory_op("moe.unpermute", own_copies * h * s.e, s.moe_tokens * h * s.e, false));
  if (e.shared_experts > 0)
    add_ffn(ops, "moe.shared", s.tokens,
            static_cast<double>(e.shared_experts) * e.expert_ffn_hidden / s.t, s);
}

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

void set_block_comm(LayerComm& comm, const Shard& s, bool moe_block) {
  const ModelSpec& m = s.m;
  if (s.c.tp > 1) {
    // One all-reduce (RS+AG pair with SP) after attention and one after the FFN (Megatron-LM).
    comm.tp_bytes = Bytes(s.tokens * m.hidden * s.e);
    comm.tp_collectives_fwd = 2;
    comm.tp_collectives_bwd = 2;
  }
  if (moe_block && s.c.ep > 1) {
    comm.ep_tokens_dispatched = s.moe_tokens * m.moe->top_k;
    comm.ep_bytes_per_token = Bytes(static_cast<double>(m.hidden) * s.e);
  }
  if (s.c.cp > 1) {
    // Each rank's K/V chunk travels cp-1 hops around the ring (Megatron's ring attention sends
    // the per-head K and V, up-projected for MLA).
    comm.cp_kv_bytes =
        Bytes((s.c.cp - 1.0) * s.tokens * s.kv_heads_r * (m.qk_head_dim() + m.v_head_dim()) * s.e);
  }
}

void add_head_ops(std::vector<Operator>& ops, const std::string& prefix, const Shard& s) {
  const ModelSpec& m = s.m;
  const double vocab_r = static_cast<double>(m.vocab) / s.t;
  ops.push_back(norm_op(prefix + "final_norm", m.hidden, s));
  ops.push_back(gemm(prefix + "lm_head", s.tokens, vocab_r, m.hidden, s));
  // Softmax cross-entropy reads the logits; its backward writes their gradient.
  ops.push_back(memory_op(prefix + "loss", s.tokens * vocab_r * s.e, s.tokens * 4.0, false));
}

Operator embedding_op(const std::string& name, const Shard& s) {
  const double h = s.m.hidden;
  // Vocabulary-parallel lookup: each rank reads the rows it owns and writes a partial output.
  return memory_op(name, s.tokens * h * s.p / s.t, s.tokens * h * s.e, false);
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
  positive(c.bytes_per_param, "training.precision");
  positive(c.bytes_per_activation, "training.precision");
  positive(c.bytes_per_grad, "training.precision");
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
  const Shard s = make_shard(m, ctx);
  const double h = m.hidden;
  std::vector<LayerPlan> plan;
  plan.reserve(static_cast<std::size_t>(m.layers + m.mtp_depth + 2));

  {
    LayerPlan emb;
    emb.kind = LayerKind::Embedding;
    emb.index = -1;
    emb.ops.push_back(embedding_op("embed.lookup", s));
    emb.params_on_rank = static_cast<double>(m.vocab) * h / s.t +
                         static_cast<double>(m.learned_position_embeddings) * h;
    if (ctx.tp > 1) {
      // Vocabulary-parallel embedding: all-reduce (reduce-scatter with SP) of the output.
      emb.comm.tp_bytes = Bytes(s.tokens * h * s.e);
      emb.comm.tp_collectives_fwd = 1;
      emb.comm.tp_collectives_bwd = ctx.sequence_parallel ? 1 : 0;
    }
    plan.push_back(std::move(emb));
  }

  for (int i = 0; i < m.layers; ++i) {
    const bool moe_block = m.layer_is_moe(i);
    LayerPlan l;
    l.kind = moe_block ? LayerKind::Moe : LayerKind::Dense;
    l.index = i;
    add_attention(l.ops, s);
    add_mlp(l.ops, s, moe_block);
    std::tie(l.params_on_rank, l.expert_params_on_rank) = block_params_on_rank(m, s, moe_block);
    set_block_comm(l.comm, s, moe_block);
    plan.push_back(std::move(l));
  }

  for (int d = 0; d < m.mtp_depth; ++d) {
    const bool moe_block = mtp_block_is_moe(m, d);
    LayerPlan l;
    l.kind = LayerKind::Mtp;
    l.index = m.layers + d;
    // DeepSeek-V3 §2.2: embed the token k ahead (shared table), normalise it and the previous
    // depth's hidden state, project the concatenation 2h → h, run one block, share the head.
    l.ops.push_back(embedding_op("mtp.embed.lookup", s));
    const double act = s.norm_rows * h * s.e;
    l.ops.push_back(
        memory_op("mtp.norms", 2.0 * act + 2.0 * h * s.p, 2.0 * act, s.norms_replicated));
    l.ops.push_back(gemm("mtp.proj", s.tokens, h / s.t, 2.0 * h, s));
    add_attention(l.ops, s);
    add_mlp(l.ops, s, moe_block);
    add_head_ops(l.ops, "mtp.", s);
    auto [p, experts] = block_params_on_rank(m, s, moe_block);
    l.params_on_rank = p + 2.0 * h * h / s.t + 3.0 * norm_params(m, h);
    l.expert_params_on_rank = experts;
    set_block_comm(l.comm, s, moe_block);
    if (ctx.tp > 1) {
      // + the embedding's all-reduce, the projection's gather and the head's backward reduce.
      l.comm.tp_collectives_fwd += 2 + (ctx.sequence_parallel ? 1 : 0);
      l.comm.tp_collectives_bwd += 2 + (ctx.sequence_parallel ? 1 : 0);
    }
    plan.push_back(std::move(l));
  }

  {
    LayerPlan head;
    head.kind = LayerKind::LmHead;
    head.index = -1;
    add_head_ops(head.ops, "", s);
    head.params_on_rank =
        (m.tied_embeddings ? 0.0 : static_cast<double>(m.vocab) * h / s.t) + norm_params(m, h);
    if (ctx.tp > 1) {
      // Column-parallel head: identity forward (all-gather with SP), all-reduce of the input
      // gradient backward (reduce-scatter with SP).
      head.comm.tp_bytes = Bytes(s.tokens * h * s.e);
      head.comm.tp_collectives_fwd = ctx.sequence_parallel ? 1 : 0;
      head.comm.tp_collectives_bwd = 1;
    }
    plan.push_back(std::move(head));
  }
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Activation memory (Korthikanti et al. 2022, arXiv 2205.05198 §4.1; see accounting.hpp)
// ---------------------------------------------------------------------------------------------

namespace {

constexpr double kMaskBytes = 1.0;  // dropout masks: one byte per element (paper §4.1)
constexpr double kFp32Bytes = 4.0;  // router probabilities and logits kept in fp32

double attention_activations(const Shard& s, bool keep_scores) {
  const ModelSpec& m = s.m;
  const ActivationSavings& sv = s.c.savings;
  const double T = s.tokens, h = m.hidden, e = s.e;
  // Stored inputs of linear layers (the tensors their weight-gradient GEMMs read).
  const double lin = sv.linear_input_bytes > 0 ? sv.linear_input_bytes : e;
  const double mask = m.dropout ? kMaskBytes : 0.0;
  double b = 0;
  b += e * T * h * s.rep;                          // norm input (the residual stream)
  if (!sv.recompute_norms) b += lin * T * h * s.rep;  // norm output: input of Q/K/V (or down) projections
  const double dqk = m.qk_head_dim(), dv = m.v_head_dim();
  if (m.attention == AttentionKind::Mla) {
    // Latents before their norms and, unless norms are recomputed, after them (inputs of the
    // up-projections); computed on every TP rank (duplicated projections). The decoupled RoPE
    // key (one per token, qk_rope_head_dim wide) comes out of kv_down with the KV latent.
    const double latents = static_cast<double>(m.mla.q_lora_rank) + m.mla.kv_lora_rank;
    b += e * T * (latents + m.mla.qk_rope_head_dim);
    if (!sv.recompute_norms) b += lin * T * latents;
  }
  if (m.qk_norm) b += e * T * (s.heads_r + s.kv_heads_r) * m.head_dim;
  // Q, K and V, the attention kernel's inputs; MLA rebuilds them from the latents when its
  // up-projections are recomputed.
  if (!(m.attention == AttentionKind::Mla && sv.recompute_mla_up_proj)) {
    b += e * T * s.heads_r * dqk;            // Q
    b += e * T * s.kv_heads_r * (dqk + dv);  // K and V
  }
  if (keep_scores) {
    // Softmax output (e) and, with dropout, its mask (1) and output (e): 5·a·s²·b at e = 2.
    b += (m.dropout ? 2.0 * e + kMaskBytes : e) * s.heads_r * T * s.c.seq_len;
  }
  b += lin * T * s.heads_r * dv;  // context, input of the output projection
  b += mask * T * h * s.rep;      // dropout mask after attention
  return b;
}

// FFN intermediates for `rows` rows of width f: SwiGLU keeps the gate and up outputs (inputs of
// the activation) and their product (input of the down projection); GELU/ReLU keep the
// activation's input and output. A recomputed activation drops its output.
double ffn_intermediates(const ModelSpec& m, double rows, double f, double e, double lin,
                         bool recompute_act) {
  const double act_in = m.activation == Activation::SwiGlu ? 2.0 : 1.0;
  return e * act_in * rows * f + (recompute_act ? 0.0 : lin * rows * f);
}

double mlp_activations(const Shard& s, bool moe_block) {
  const ModelSpec& m = s.m;
  const ActivationSavings& sv = s.c.savings;
  const double T = s.tokens, h = m.hidden, e = s.e;
  const double lin = sv.linear_input_bytes > 0 ? sv.linear_input_bytes : e;
  double b = e * T * h * s.rep;  // norm input
  if (!sv.recompute_norms) b += lin * T * h * s.rep;  // norm output: FFN / router / dispatch input
  if (!moe_block) {
    b += ffn_intermediates(m, T, m.ffn_hidden / s.t, e, lin, sv.recompute_mlp_act);
  } else {
    const MoeSpec& x = *m.moe;
    b += kFp32Bytes * s.moe_tokens * x.routed_experts;  // router probabilities
    // Each routed copy: its permuted input (an expert GEMM input), its intermediates, and its
    // output (the combine's gate gradient needs it).
    // With FP8 storage and a recomputed MoE activation, the activation's inputs are cached in
    // FP8 too (DeepSeek-V3 §3.3.2: "we cache the inputs of the SwiGLU operator and recompute its
    // output ... also stored in FP8").
    const double act_in = sv.recompute_moe_act && sv.linear_input_bytes > 0 ? lin : e;
    b += s.routed_rows * (lin + e) * h +
         ffn_intermediates(m, s.routed_rows, x.expert_ffn_hidden, act_in, lin, sv.recompute_moe_act);
    if (x.shared_experts > 0)
      b += ffn_intermediates(m, T, static_cast<double>(x.shared_experts) * x.expert_ffn_hidden / s.t,
                             act_in, lin, sv.recompute_moe_act);
  }
  if (m.dropout) b += kMaskBytes * T * h * s.rep;  // dropout mask after the FFN
  return b;
}

double head_activations(const Shard& s) {
  const double T = s.tokens, h = s.m.hidden;
  // Final-norm input, head input (local rows with SP), fp32 logits of the vocabulary shard.
  return 2.0 * s.e * T * h * s.rep + kFp32Bytes * T * static_cast<double>(s.m.vocab) / s.t;
}

}  // namespace

Bytes activation_bytes_per_layer(const ModelSpec& m, const ShardContext& ctx, LayerKind kind,
                                 Recompute recompute) {
  check_context(m, ctx);
  const Shard s = make_shard(m, ctx);
  const double layer_input = s.e * s.tokens * m.hidden * s.rep;
  switch (kind) {
    case LayerKind::Embedding:
      return Bytes(m.dropout ? kMaskBytes * s.tokens * m.hidden * s.rep : 0.0);
    case LayerKind::LmHead: return Bytes(head_activations(s));
    case LayerKind::Dense:
    case LayerKind::Moe: {
      const bool moe_block = kind == LayerKind::Moe;
      if (moe_block && !m.is_moe())
        throw std::invalid_argument("activation_bytes_per_layer: LayerKind::Moe for dense model " +
                                    m.name);
      if (recompute == Recompute::Full) return Bytes(layer_input);
      return Bytes(attention_activations(s, recompute == Recompute::None) +
                   mlp_activations(s, moe_block));
    }
    case LayerKind::Mtp: {
      // Two inputs (previous hidden state, next-token embedding); with Full only they are kept.
      const double inputs = 2.0 * layer_input;
      if (recompute == Recompute::Full) return Bytes(inputs + head_activations(s));
      const bool moe_block = mtp_block_is_moe(m, 0);
      return Bytes(inputs /* norm inputs */ + inputs /* projection input */ +
                   attention_activations(s, recompute == Recompute::None) +
                   mlp_activations(s, moe_block) + head_activations(s));
    }
  }
  return Bytes(0);
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
