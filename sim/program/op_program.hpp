#pragma once
/// The op program (DESIGN.md, "The op program"): the kernels and collectives one rank of each
/// pipeline stage launches for one micro-batch, per layer and pass, as a real training stack
/// (Megatron-LM / Megatron-Core with Transformer Engine, or DeepSeek's HAI-LLM as its profile
/// shows it: docs/reference/deepseek-v3-train-profile.md) launches them. Both fidelities read
/// it: the analytical model sums it in closed form (sim/step/program_cost.hpp), the DES runs it.
///
/// What it holds per op: a name ("attn.q_up", "moe.dispatch"), a category (what kind of kernel
/// it is, for breakdowns and validation), the pass (forward, recompute, input gradient, weight
/// gradient), the stream (compute, a second compute stream for weight gradients where the stack
/// has one, communication), the kernel description its cost needs (class, GEMM role and shape,
/// precision, FLOPs, HBM bytes, launches), the bytes it keeps for backward, and for collectives
/// the kind, the parallel group and the bytes per rank.
///
/// Conventions:
///  - FLOPs: 2 per multiply-add; GEMM FLOPs are exactly those of models/accounting's model-FLOP
///    count (tests pin the sum), attention kernels add FlashAttention's backward recomputation
///    (2.5 × forward) and unfused attention its full s×s square; recomputation adds its FLOPs.
///  - Bytes: HBM bytes read + written by the kernel (operands once, outputs once).
///  - Saved bytes: what the op keeps from forward to its backward (Korthikanti et al. 2022,
///    arXiv 2205.05198 §4: a GPT layer keeps sbh(34 + 5as/h) at 2-byte activations; tests pin
///    it), split into what is always kept and what a recompute policy drops.
///  - Tokens: T = micro_batch × seq_len / cp rows per rank; norms, dropout and residuals run on
///    T/tp rows with sequence parallelism; MoE routes T/tp tokens per TP rank.

#include <cstdint>
#include <string>
#include <vector>

#include "hardware/efficiency/kernel_cost.hpp"
#include "models/accounting.hpp"
#include "sim/common/units.hpp"
#include "sim/common/value_bytes.hpp"

namespace clustercost {

struct Scenario;

enum class Pass : std::uint8_t { Forward, Recompute, InputGrad, WeightGrad };
const char* pass_name(Pass p);

enum class Stream : std::uint8_t { Compute, WgradCompute, Comm };
const char* stream_name(Stream s);

/// What kind of work an op is (breakdowns, the probe's op classes, the DeepSeek profile check).
enum class OpCategory : std::uint8_t {
  Gemm,         ///< dense GEMM (kernel.role says fprop/dgrad/wgrad)
  GroupedGemm,  ///< grouped expert GEMM
  Attention,    ///< fused attention kernel, or the batched matmuls of unfused attention
  Softmax,      ///< unfused attention's scale/mask/softmax
  Norm,         ///< LayerNorm / RMSNorm, forward or backward
  Activation,   ///< GeLU, SwiGLU (with the routing weight for experts)
  Rope,         ///< rotary position embedding
  Dropout,      ///< dropout, bias + dropout + residual add
  Elementwise,  ///< residual adds, bias adds, scales, other small kernels
  Copy,         ///< concatenations and layout copies
  Fp8Cast,      ///< FP8 quantise / transpose / cast-back kernels of the FP8 recipe
  Routing,      ///< router score function, top-k, permute and unpermute of token copies
  Embedding,    ///< embedding lookup and its gradient
  Loss,         ///< softmax cross-entropy (FP32 logits)
  Optimizer,    ///< Adam, gradient norm and clip, FP8 weight casts after the update
  Collective,   ///< any communication op (see OpCollective)
};
const char* op_category_name(OpCategory c);

enum class OpCollective : std::uint8_t {
  None,
  AllReduce,
  ReduceScatter,
  AllGather,
  AllToAllDispatch,  ///< EP dispatch: token copies to their experts
  AllToAllCombine,   ///< EP combine: expert outputs back to their tokens
  RingExchange,      ///< CP: K/V chunks around the ring
  SendRecv,          ///< PP: activations forward, their gradients backward
};
const char* op_collective_name(OpCollective k);

/// The parallel group a collective runs in.
enum class ParallelGroup : std::uint8_t { None, Tp, Cp, Ep, Pp, Dp, DpExpert };
const char* parallel_group_name(ParallelGroup g);

/// Which recompute module an op belongs to (Megatron-Core --recompute-modules names).
enum class RecomputeModule : std::uint8_t { None, Norm, MlaUpProj, MoeAct, MlpAct, CoreAttention };

struct Op {
  std::string name;
  OpCategory category = OpCategory::Elementwise;
  Pass pass = Pass::Forward;
  Stream stream = Stream::Compute;
  KernelDesc kernel;  ///< compute ops
  /// Forward ops: bytes kept for backward that no recompute policy drops, and bytes that
  /// recomputing `saved_module` (the module producing them) rebuilds instead.
  Bytes saved;
  Bytes saved_recomputable;
  RecomputeModule saved_module = RecomputeModule::None;
  RecomputeModule module = RecomputeModule::None;  ///< the module this op belongs to
  /// Collectives.
  OpCollective collective = OpCollective::None;
  ParallelGroup group = ParallelGroup::None;
  Bytes comm_bytes;  ///< per rank: the buffer each rank contributes (nccl-tests "size" / ranks
                     ///< for reduce-scatter and all-gather inputs; see program_cost)
  /// Runs on the communication stream alongside the next compute op of its pass (Megatron's
  /// async all-gather of the SP input in backward, DP buckets, DeepEP under DualPipe).
  bool async = false;

  bool is_collective() const { return category == OpCategory::Collective; }
};

/// One layer's ops for one micro-batch on one rank, all passes, each pass in execution order.
struct LayerProgram {
  LayerKind kind = LayerKind::Dense;
  int index = -1;  ///< transformer layer (MTP: layers + depth; embedding and head: -1)
  std::vector<Op> ops;
  /// Activation bytes this layer keeps per in-flight micro-batch under the scenario's recompute
  /// policy (sum of its forward ops' saved bytes), and the peak of a layer being rebuilt in
  /// backward under full recompute (0 otherwise).
  Bytes saved;
  Bytes recompute_working;
  double params = 0;         ///< weights on this rank
  double expert_params = 0;  ///< the routed-expert part (reduced over the expert-DP group)
  /// Routed token copies the busiest EP rank computes for this layer, per micro-batch.
  double routed_rows = 0;
  /// Index among the MoE blocks (main layers, then MTP) for the sampled routing; −1: none.
  int moe_index = -1;
};

/// The ops of one pipeline stage: its layers in order, and its per-step ops.
struct StageProgram {
  int stage = 0;
  std::vector<std::size_t> layers;  ///< indices into StepProgram::layers, in forward order
  std::vector<Op> step_ops;         ///< DP collectives, optimizer (once per step)
  Op send_forward;                  ///< PP send of activations (one per micro-batch), if pp > 1
  Op send_backward;                 ///< PP send of activation gradients
  Bytes saved_per_micro_batch;      ///< sum of its layers' saved bytes
  Bytes transient;                  ///< largest once-per-stage transient (logits, a rebuilt layer)
  double params = 0, expert_params = 0;
};

struct StepProgram {
  std::vector<LayerProgram> layers;  ///< embedding, blocks 0..L-1, MTP modules, head
  std::vector<StageProgram> stages;  ///< one per pipeline stage (model stage, not rank)
};

/// Per sampled MoE layer (MoE layer k uses sample k mod size), the routed token copies the
/// busiest EP rank computes per micro-batch: it sets the layer's pace. Empty = uniform routing
/// (tokens·top_k per rank).
struct RoutedLoad {
  std::vector<double> busiest_rank_copies;
};

/// Builds the program of `s`. Errors: InfeasibleError (heads, FFN, experts not divisible) and
/// InputError (software.attention names a kernel the GPU's profile has no figures for).
StepProgram build_step_program(const Scenario& s, const RoutedLoad& load = {});

/// The precision of a GEMM class under the scenario's policy ("attention_proj", "mlp",
/// "experts", "shared_experts", "router", "lm_head", "mtp_proj").
std::string gemm_precision(const Scenario& s, const std::string& op_class);

}  // namespace clustercost
