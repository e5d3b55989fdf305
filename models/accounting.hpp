#pragma once
/// Model accounting: parameters, FLOPs, bytes moved, activation and state memory.
///
/// Conventions (used by every consumer, keep them):
/// - A FLOP is one multiply or one add: a GEMM of m×k by k×n costs 2·m·n·k.
/// - Training FLOPs per token = forward + backward, backward = 2 × forward for matmuls
///   (input grad + weight grad), attention score/context matmuls with causal masking (half of
///   the s×s square), the MoE router, the LM head; no recomputation. This is the
///   `flops_per_token` of the report and the numerator of MFU (DeepSeek-V3 ≈ 250 GFLOP at
///   seq 4096, arXiv 2505.09343 Table 2).
/// - Parameters "active" per token: embedding + every dense weight + shared experts + top_k
///   routed experts per MoE layer (+ LM head); MTP modules are extra and reported apart.
/// - MTP modules (DeepSeek-V3) are trained, so plan_layers lists them, but they are outside
///   `training_flops_per_token` and the parameter totals, as in DeepSeek's own figures (their
///   250 GFLOP/token is reproduced without MTP; with it the count would be ≈ 260).
/// - Attention backward: the model-FLOP convention counts 2 × forward (dQ, dK, dV, dP: four
///   matmuls against two). The kernels execute 2.5 × forward because FlashAttention-2 recomputes
///   the score matmul in backward (Dao 2023, arXiv 2307.08691: 5 matmuls against 2): that is
///   work the GPU does, not model FLOPs (it belongs to HFU, like recomputation). The kernels
///   themselves, their shapes, bytes and the activations they keep are the op program's
///   (sim/program/op_program.hpp), the one owner of per-kernel quantities.
///
/// Sharding assumptions of plan_layers (Megatron-LM style, Shoeybi et al. 2019 and Korthikanti
/// et al. 2022): attention heads and FFN columns split by tp; the vocabulary split by tp
/// (padding ignored); norms replicated (split by tp over the sequence with sequence_parallel);
/// MLA down-projections (q_down, kv_down) and their latent norms replicated on every TP rank, as
/// Megatron-core builds them "duplicated"; routed experts split by ep and not by tp (expert
/// tensor parallelism 1), each TP rank dispatching 1/tp of the tokens, as Megatron's MoE token
/// dispatcher does with sequence parallelism; shared experts split by tp like a dense FFN; CP
/// gives each rank seq_len/cp query rows with causal work balanced across ranks (Megatron's
/// zig-zag split).

#include <string>
#include <vector>

#include "models/model_spec.hpp"
#include "sim/common/units.hpp"

namespace clustercost {

struct ParameterCounts {
  double total = 0;          // every parameter, MTP modules excluded
  double active = 0;         // used by one token, MTP excluded
  double embedding = 0;      // input embedding
  double lm_head = 0;        // 0 when tied
  double attention = 0;      // all layers
  double dense_ffn = 0;      // dense-FFN layers
  double routed_experts = 0; // all routed experts of all MoE layers
  double shared_experts = 0;
  double router = 0;
  double norms = 0;
  double mtp = 0;            // MTP modules (DeepSeek-V3: ≈11.6B unique; embedding and head
                             // are shared with the main model and not counted again)
  /// `active` minus the input embedding table (and learned position table): a token reads one
  /// row of it, no matmul. This is the N of the 6·N FLOPs rule and matches DeepSeek's
  /// "activated" figures (V3 README_WEIGHTS.md: 36.7B; V2 paper: 21B), while Mistral's 12.9B
  /// for Mixtral-8x7B counts the embedding (`active`).
  double active_excluding_embedding = 0;
  double biases = 0;         // linear-layer biases (included in attention / dense_ffn / ...)
};

ParameterCounts count_parameters(const ModelSpec& m);

/// Training FLOPs of one token at sequence length `seq_len` (forward + backward, causal).
FlopCount training_flops_per_token(const ModelSpec& m, int seq_len);
/// Forward FLOPs of one token.
FlopCount forward_flops_per_token(const ModelSpec& m, int seq_len);

/// Forward FLOPs of one token by kind (per token averaged over a sequence of `seq_len`).
/// Attention per layer and token: heads·(d_qk + d_v)·seq_len causal — the score (2·d_qk) and
/// context (2·d_v) multiply-adds against seq_len/2 keys on average — and twice that with
/// `causal` false (the non-causal convention of Megatron-LM's eq. 3, arXiv 2104.04473).
struct FlopsPerToken {
  FlopCount gemm_fwd;           // weight matmuls: attention projections, FFN/experts, router,
                                // LM head (norms, activations, biases are not counted)
  FlopCount attention_fwd;      // score and context matmuls of all layers
  FlopCount mtp_gemm_fwd;       // the same for the MTP modules (outside the model FLOPs)
  FlopCount mtp_attention_fwd;
  FlopCount forward() const { return gemm_fwd + attention_fwd; }
  /// forward + backward, backward = 2 × forward: the report's flops_per_token.
  FlopCount training() const { return forward() * 3.0; }
  FlopCount mtp_training() const { return (mtp_gemm_fwd + mtp_attention_fwd) * 3.0; }
};
FlopsPerToken flops_per_token_breakdown(const ModelSpec& m, int seq_len, bool causal = true);

/// Kernel FLOPs of FlashAttention backward relative to its forward (5 matmuls against 2).
inline constexpr double kAttentionKernelBwdFactor = 2.5;

/// What kind of kernel an operator is; efficiency profiles are per class.
enum class OpClass { Gemm, GroupedGemm, Attention, Memory };

/// GEMM dimensions on one rank: C[m×n] = A[m×k]·B[k×n], `groups` independent problems
/// (grouped GEMM for experts: m is the mean rows per group).
struct GemmShape {
  double m = 0, n = 0, k = 0;
  int groups = 1;
};

/// Memory savings of modern recipes, on top of a Recompute mode other than Full.
/// Module names follow Megatron-Core's --recompute-modules; DeepSeek-V3 §3.2.3 uses the first
/// three ("recomputation of RMSNorm and MLA up-projection"; SwiGLU outputs recomputed, §3.3.2).
struct ActivationSavings {
  bool recompute_norms = false;        // "layernorm": norm outputs rebuilt from their inputs
  bool recompute_mla_up_proj = false;  // "mla_up_proj": per-head Q/K/V rebuilt from the latents
  bool recompute_moe_act = false;      // "moe_act": expert SwiGLU/GELU outputs rebuilt
  bool recompute_mlp_act = false;      // "mlp_act": dense-FFN activation outputs rebuilt
  /// Bytes per element of the stored inputs of linear layers; 0 keeps bytes_per_activation.
  /// FP8 training stores the FP8 cast the weight-gradient GEMM consumes (DeepSeek-V3 §3.3.2,
  /// Transformer Engine): 1 byte + one fp32 scale per 128 elements.
  double linear_input_bytes = 0;
};

/// How a layer is cut across ranks (what plan_layers checks and divides weights by).
struct ShardContext {
  int tp = 1;               // tensor parallel: attention heads and FFN columns split by tp
  int cp = 1;               // context parallel: each rank holds seq_len/cp queries
  int ep = 1;               // expert parallel: routed experts split by ep
  int seq_len = 4096;
  int micro_batch = 1;      // sequences per micro-batch
  bool sequence_parallel = false;
};

enum class LayerKind { Embedding, Dense, Moe, Mtp, LmHead };

/// One layer as one rank holds it.
struct LayerPlan {
  LayerKind kind = LayerKind::Dense;
  int index = 0;                // transformer layer index (Embedding/LmHead: -1)
  double params_on_rank = 0;    // weights held by this rank (TP- and EP-sharded); a tied LM
                                // head holds none here (its weight is the embedding's; with
                                // pp > 1 Megatron keeps a copy on the last stage: add it there)
  double expert_params_on_rank = 0;  // the routed-expert part of params_on_rank (its gradients
                                     // are reduced over dp·cp/ep ranks, not dp·cp)
};

/// The layers one rank holds, in execution order: embedding, layers 0..L-1, MTP modules, LM
/// head, with the weights of each on the rank.
/// Throws InfeasibleError (path "parallelism.tp", ".cp" or ".ep") when heads, K/V heads, FFN
/// widths, the sequence or the routed experts do not divide.
std::vector<LayerPlan> plan_layers(const ModelSpec& m, const ShardContext& ctx);

enum class Recompute { None, Selective, Full };

/// Bytes per parameter of training state, mixed precision with Adam.
struct StatePrecision {
  double weight_bytes = 2;     // compute copy (bf16)
  double grad_bytes = 4;       // gradient accumulation (fp32 in DeepSeek-V3 and Megatron)
  double master_bytes = 4;     // fp32 master weights
  double optimizer_bytes = 8;  // two Adam moments (fp32: 8; DeepSeek-V3 bf16: 4)
};

/// Weights, gradients and optimizer state on one rank holding `params_on_rank` parameters,
/// with ZeRO stage `zero` (0-3) sharding across `dp` data-parallel ranks.
struct StateMemory {
  Bytes weights, grads, optimizer;  // optimizer includes master weights
  Bytes total() const { return weights + grads + optimizer; }
};
/// Throws InputError (path "parallelism.zero" or "parallelism.dp") for zero outside 0..3 or dp < 1.
StateMemory state_memory(double params_on_rank, const StatePrecision& p, int zero, int dp);

}  // namespace clustercost
