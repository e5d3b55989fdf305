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
  double mtp = 0;            // MTP modules (DeepSeek-V3: ≈14B)
};

ParameterCounts count_parameters(const ModelSpec& m);

/// Training FLOPs of one token at sequence length `seq_len` (forward + backward, causal).
FlopCount training_flops_per_token(const ModelSpec& m, int seq_len);
/// Forward FLOPs of one token.
FlopCount forward_flops_per_token(const ModelSpec& m, int seq_len);

/// What kind of kernel an operator is; efficiency profiles are per class.
enum class OpClass { Gemm, GroupedGemm, Attention, Memory };

/// GEMM dimensions on one rank: C[m×n] = A[m×k]·B[k×n], `groups` independent problems
/// (grouped GEMM for experts: m is the mean rows per group).
struct GemmShape {
  double m = 0, n = 0, k = 0;
  int groups = 1;
};

/// How a layer is cut across ranks and how much work one rank's micro-batch holds.
struct ShardContext {
  int tp = 1;               // tensor parallel: attention heads and FFN columns split by tp
  int cp = 1;               // context parallel: each rank holds seq_len/cp queries
  int ep = 1;               // expert parallel: routed experts split by ep
  int seq_len = 4096;
  int micro_batch = 1;      // sequences per micro-batch
  bool sequence_parallel = false;
  int bytes_per_param = 2;  // storage of weights read by the kernels (2 bf16, 1 fp8)
  int bytes_per_activation = 2;
  /// Routed-expert tokens arriving at this rank per micro-batch; negative means uniform
  /// routing: tokens·top_k/ep (MoE traffic modules pass their skewed counts here).
  double routed_tokens_on_rank = -1;
};

/// One kernel of one layer on one rank for one micro-batch.
struct Operator {
  std::string name;  // "attn.q_down", "attn.core", "mlp.up_gate", "moe.experts", "moe.router"
  OpClass op_class = OpClass::Gemm;
  FlopCount flops_fwd;
  FlopCount flops_bwd;  // input grad + weight grad (attention: FlashAttention backward)
  Bytes bytes_fwd;      // HBM bytes read + written
  Bytes bytes_bwd;
  GemmShape shape;      // for Gemm / GroupedGemm; for Attention m = q rows, n = kv rows, k = head dim
};

enum class LayerKind { Embedding, Dense, Moe, Mtp, LmHead };

/// Communication volumes a layer implies per micro-batch on one rank.
struct LayerComm {
  Bytes tp_bytes;               // activation bytes of one TP all-reduce (×2 per fwd for attn+mlp)
  int tp_collectives_fwd = 0;   // all-reduces (or RS+AG pairs with SP) in forward
  double ep_tokens_dispatched = 0;  // token copies sent by this rank per micro-batch (tokens·top_k)
  Bytes ep_bytes_per_token;     // hidden × activation bytes (dispatch; combine the same unless fp8)
  Bytes cp_kv_bytes;            // K/V bytes exchanged around the CP ring per micro-batch
};

struct LayerPlan {
  LayerKind kind = LayerKind::Dense;
  int index = 0;                // transformer layer index (Embedding/LmHead: -1)
  std::vector<Operator> ops;
  double params_on_rank = 0;    // weights held by this rank (TP- and EP-sharded)
  LayerComm comm;
};

/// The per-rank plan of each layer, in execution order: embedding, layers 0..L-1, MTP modules,
/// LM head.
std::vector<LayerPlan> plan_layers(const ModelSpec& m, const ShardContext& ctx);

enum class Recompute { None, Selective, Full };

/// Activation bytes one rank stores for one layer and one micro-batch for the backward pass
/// (Korthikanti et al. 2022, arXiv 2205.05198 §4, extended to GQA/MLA/MoE).
Bytes activation_bytes_per_layer(const ModelSpec& m, const ShardContext& ctx, LayerKind kind,
                                 Recompute recompute);

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
StateMemory state_memory(double params_on_rank, const StatePrecision& p, int zero, int dp);

}  // namespace clustercost
