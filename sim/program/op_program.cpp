#include "sim/program/op_program.hpp"

#include <algorithm>
#include <cmath>

#include "sim/common/input_error.hpp"
#include "sim/scenario/scenario.hpp"

namespace clustercost {

const char* pass_name(Pass p) {
  switch (p) {
    case Pass::Forward: return "forward";
    case Pass::Recompute: return "recompute";
    case Pass::InputGrad: return "input_grad";
    case Pass::WeightGrad: return "weight_grad";
  }
  return "forward";
}

const char* stream_name(Stream s) {
  switch (s) {
    case Stream::Compute: return "compute";
    case Stream::WgradCompute: return "wgrad";
    case Stream::Comm: return "comm";
  }
  return "compute";
}

const char* op_category_name(OpCategory c) {
  switch (c) {
    case OpCategory::Gemm: return "gemm";
    case OpCategory::GroupedGemm: return "grouped_gemm";
    case OpCategory::Attention: return "attention";
    case OpCategory::Softmax: return "softmax";
    case OpCategory::Norm: return "norm";
    case OpCategory::Activation: return "activation";
    case OpCategory::Rope: return "rope";
    case OpCategory::Dropout: return "dropout";
    case OpCategory::Elementwise: return "elementwise";
    case OpCategory::Copy: return "copy";
    case OpCategory::Fp8Cast: return "fp8_cast";
    case OpCategory::Routing: return "routing";
    case OpCategory::Embedding: return "embedding";
    case OpCategory::Loss: return "loss";
    case OpCategory::Optimizer: return "optimizer";
    case OpCategory::Collective: return "collective";
  }
  return "elementwise";
}

const char* op_collective_name(OpCollective k) {
  switch (k) {
    case OpCollective::None: return "none";
    case OpCollective::AllReduce: return "all_reduce";
    case OpCollective::ReduceScatter: return "reduce_scatter";
    case OpCollective::AllGather: return "all_gather";
    case OpCollective::AllToAllDispatch: return "dispatch";
    case OpCollective::AllToAllCombine: return "combine";
    case OpCollective::RingExchange: return "ring_exchange";
    case OpCollective::SendRecv: return "send_recv";
  }
  return "none";
}

const char* parallel_group_name(ParallelGroup g) {
  switch (g) {
    case ParallelGroup::None: return "none";
    case ParallelGroup::Tp: return "tp";
    case ParallelGroup::Cp: return "cp";
    case ParallelGroup::Ep: return "ep";
    case ParallelGroup::Pp: return "pp";
    case ParallelGroup::Dp: return "dp";
    case ParallelGroup::DpExpert: return "dp_expert";
  }
  return "none";
}

std::string gemm_precision(const Scenario& s, const std::string& op_class) {
  auto it = s.software.precision.find(op_class);
  if (it != s.software.precision.end()) return it->second;
  const std::string& train = s.training.precision == "fp16" ? std::string("bf16") : s.training.precision;
  // DeepSeek-V3 §3.3.1: the embedding, the output head, MoE gating, norms and attention stay
  // in BF16/FP32; the linear layers of attention, MLP and experts run in FP8. Transformer Engine
  // recipes keep the same modules in higher precision.
  if (op_class == "router" || op_class == "lm_head" || op_class == "mtp_proj") return "bf16";
  return train;
}

namespace {

constexpr double kMaskBytes = 1.0;  // dropout masks: one byte per element (Korthikanti §4.1)
constexpr double kFp32 = 4.0;

/// Everything the builders need, resolved once.
struct Ctx {
  explicit Ctx(const Scenario& sc) : s(sc), m(sc.model), sw(sc.software) {}
  const Scenario& s;
  const ModelSpec& m;
  const SoftwareConfig& sw;
  int tp = 1, cp = 1, ep = 1;
  bool sp = false;
  double T = 0;       // tokens (query rows) per rank per micro-batch
  double Tn = 0;      // rows of norms / residuals / dropout (T/tp with SP)
  double Tm = 0;      // tokens this TP rank routes (MoE)
  double e = 2;       // activation bytes
  double heads_r = 0, kv_r = 0;
  std::string attn_kernel;  // flash2 / flash3 / unfused
  Recompute recompute = Recompute::None;
  ActivationSavings savings;
  bool wgrad_stream = false;
};

// --------------------------------------------------------------------------------------------
// Forward op constructors. Each forward op carries what its backward needs (shape, bytes); the
// backward ops are derived from them in reverse order (derive_backward).
// --------------------------------------------------------------------------------------------

/// A forward op and how its backward looks.
struct Fwd {
  Op op;
  // Memory-bound ops: backward bytes and kernels (0 kernels: no backward kernel).
  Bytes bwd_bytes;
  int bwd_kernels = 0;
  OpCategory bwd_category = OpCategory::Elementwise;
  bool gemm = false;
  bool weighted = true;  // a GEMM with a weight (else activations × activations: attention)
  // Collectives: the backward twin.
  OpCollective bwd_collective = OpCollective::None;
  // Attention (fused): backward kernel.
  bool fused_attention = false;
  // FP8 casts the backward of this GEMM needs (bytes, kernels), tile-wise or delayed.
  Bytes bwd_cast_bytes_dgrad, bwd_cast_bytes_wgrad;
  int bwd_cast_kernels_dgrad = 0, bwd_cast_kernels_wgrad = 0;
  // SP all-gather: backward gathers the input again for the weight gradient (async).
  bool regather_in_backward = false;
};

struct Builder {
  explicit Builder(const Ctx& ctx) : c(ctx) {}
  const Ctx& c;
  std::vector<Fwd> fwd;

  Op base(std::string name, OpCategory cat, RecomputeModule module) const {
    Op op;
    op.name = std::move(name);
    op.category = cat;
    op.module = module;
    return op;
  }

  /// Memory-bound kernel(s): `read` + `write` bytes, `kernels` launches; backward moves
  /// `bwd` bytes in `bwd_kernels` launches (0: none).
  Fwd& memory(std::string name, OpCategory cat, double read, double write, int kernels, double bwd,
              int bwd_kernels, RecomputeModule module = RecomputeModule::None) {
    Fwd f;
    f.op = base(std::move(name), cat, module);
    f.op.kernel.op_class = OpClass::Memory;
    f.op.kernel.memory_class = op_category_name(cat);
    f.op.kernel.bytes = Bytes(read + write);
    f.op.kernel.kernels = kernels;
    f.bwd_bytes = Bytes(bwd);
    f.bwd_kernels = bwd_kernels;
    f.bwd_category = cat;
    fwd.push_back(std::move(f));
    return fwd.back();
  }

  /// C[rows×n] = A[rows×k]·W[k×n] in `prec`; saves its input A (`saved` bytes, dropped when
  /// `input_module` is recomputed).
  Fwd& gemm(std::string name, double rows, double n, double k, const std::string& prec,
            double saved, RecomputeModule input_module, int groups = 0, double weight_groups = 1,
            RecomputeModule module = RecomputeModule::None) {
    Fwd f;
    f.op = base(std::move(name), groups > 0 ? OpCategory::GroupedGemm : OpCategory::Gemm, module);
    KernelDesc& kd = f.op.kernel;
    kd.op_class = groups > 0 ? OpClass::GroupedGemm : OpClass::Gemm;
    kd.role = GemmRole::Fprop;
    kd.precision = prec;
    kd.flops = FlopCount(2.0 * rows * n * k);
    const double ib = bytes_per_value(prec), wb = prec == "fp8" ? 1.0 : 2.0;
    kd.bytes = Bytes(weight_groups * k * n * wb + rows * k * ib + rows * n * c.e);
    kd.shape = GemmShape{groups > 0 ? rows / groups : rows, n, k, std::max(groups, 1)};
    f.gemm = true;
    if (input_module == RecomputeModule::None) f.op.saved = Bytes(saved);
    else f.op.saved_recomputable = Bytes(saved), f.op.saved_module = input_module;
    fwd.push_back(std::move(f));
    return fwd.back();
  }

  Fwd& collective(std::string name, OpCollective k, ParallelGroup g, double bytes,
                  OpCollective bwd) {
    Fwd f;
    f.op = base(std::move(name), OpCategory::Collective, RecomputeModule::None);
    f.op.collective = k;
    f.op.group = g;
    f.op.comm_bytes = Bytes(bytes);
    f.op.stream = Stream::Comm;
    f.bwd_collective = bwd;
    fwd.push_back(std::move(f));
    return fwd.back();
  }

  /// FP8 quantisation of an activation tensor of `values` elements before an FP8 GEMM: read the
  /// BF16 values, write FP8 + scales (tile-wise: one per-token 1×128 kernel; delayed scaling:
  /// Transformer Engine's cast-transpose writes the transposed copy for wgrad too).
  void fp8_input_cast(const std::string& name, double values) {
    if (c.sw.fp8_recipe == "tilewise") {
      memory(name, OpCategory::Fp8Cast, values * c.e, values * bytes_per_value("fp8"), 1, 0, 0);
    } else {
      memory(name, OpCategory::Fp8Cast, values * c.e, 2.0 * values * bytes_per_value("fp8"), 1, 0,
             0);
    }
  }
};

/// FP8 casts the backward of an FP8 GEMM (rows × n output, rows × k input) needs.
///  - tile-wise (DeepSeek profile): dgrad quantises dY per token (1×128); wgrad needs dY and
///    X quantised along the token dimension: X comes back from its cached FP8 copy (cast-back)
///    and both are cast and transposed per channel.
///  - delayed (Transformer Engine): one cast-transpose of dY serves dgrad and wgrad; X^T was
///    written in forward.
void set_fp8_backward_casts(Fwd& f, const Ctx& c, double rows, double n, double k) {
  const double fp8 = bytes_per_value("fp8");
  const double dy = rows * n, x = rows * k;
  if (c.sw.fp8_recipe == "tilewise") {
    f.bwd_cast_bytes_dgrad = Bytes(dy * (c.e + fp8));
    f.bwd_cast_kernels_dgrad = 1;
    f.bwd_cast_bytes_wgrad = Bytes(x * (fp8 + c.e) + x * (c.e + fp8) + dy * (c.e + fp8));
    f.bwd_cast_kernels_wgrad = 3;
  } else {
    f.bwd_cast_bytes_dgrad = Bytes(dy * (c.e + 2.0 * fp8));
    f.bwd_cast_kernels_dgrad = 1;
  }
}

// --------------------------------------------------------------------------------------------
// Blocks
// --------------------------------------------------------------------------------------------

int norm_kernels(const Ctx& c) { return c.sw.fusions.norm ? 1 : 3; }

/// A norm over `rows` × `width`: saves its input.
void add_norm(Builder& b, const std::string& name, double rows, double width) {
  const Ctx& c = b.c;
  const double act = rows * width * c.e;
  auto& f = b.memory(name, OpCategory::Norm, act + width * 2.0, act, norm_kernels(c),
                     3.0 * act + 2.0 * width * kFp32, norm_kernels(c) + 1, RecomputeModule::Norm);
  f.op.saved = Bytes(act);
}

/// Residual add, with bias and dropout when the model has them (fused or not).
void add_residual(Builder& b, const std::string& name) {
  const Ctx& c = b.c;
  const double v = c.Tn * c.m.hidden;
  const bool drop = c.m.dropout;
  if (drop) {
    if (c.sw.fusions.bias_dropout_add) {
      auto& f = b.memory(name + ".bias_dropout_add", OpCategory::Dropout, 2.0 * v * c.e,
                         v * c.e + v * kMaskBytes, 1, v * (c.e + kMaskBytes + c.e), 1);
      f.op.saved = Bytes(v * kMaskBytes);
    } else {
      if (c.m.bias) b.memory(name + ".bias", OpCategory::Elementwise, v * c.e, v * c.e, 1, 0, 0);
      auto& f = b.memory(name + ".dropout", OpCategory::Dropout, v * c.e, v * c.e + v * kMaskBytes,
                         1, v * (c.e + kMaskBytes + c.e), 1);
      f.op.saved = Bytes(v * kMaskBytes);
      b.memory(name + ".add", OpCategory::Elementwise, 2.0 * v * c.e, v * c.e, 1, 0, 0);
    }
  } else {
    b.memory(name + ".add", OpCategory::Elementwise, 2.0 * v * c.e, v * c.e, 1, 0, 0);
  }
}

/// Megatron's f/g around a column-parallel input (`gather`) or after a row-parallel output.
void add_tp_in(Builder& b, const std::string& name) {
  const Ctx& c = b.c;
  if (c.tp <= 1) return;
  const double bytes = c.T * c.m.hidden * c.e;
  if (c.sp) {
    // All-gather of the sequence-sharded input; backward reduce-scatters the input gradient, and
    // re-gathers the input for the weight gradient (async, overlapping the input-gradient GEMM).
    auto& f = b.collective(name + ".ag", OpCollective::AllGather, ParallelGroup::Tp, bytes,
                           OpCollective::ReduceScatter);
    f.regather_in_backward = true;
  } else {
    // Identity forward; all-reduce of the input gradient backward.
    b.collective(name + ".ar_bwd", OpCollective::None, ParallelGroup::Tp, bytes,
                 OpCollective::AllReduce);
  }
}

void add_tp_out(Builder& b, const std::string& name) {
  const Ctx& c = b.c;
  if (c.tp <= 1) return;
  const double bytes = c.T * c.m.hidden * c.e;
  if (c.sp)
    b.collective(name + ".rs", OpCollective::ReduceScatter, ParallelGroup::Tp, bytes,
                 OpCollective::AllGather);
  else
    b.collective(name + ".ar", OpCollective::AllReduce, ParallelGroup::Tp, bytes,
                 OpCollective::None);
}

void add_attention(Builder& b, const std::string& p) {
  const Ctx& c = b.c;
  const ModelSpec& m = c.m;
  const double h = m.hidden, T = c.T;
  const std::string prec = gemm_precision(c.s, "attention_proj");
  const bool fp8 = prec == "fp8";
  const double lin = bytes_per_value(fp8 ? "fp8" : "bf16");
  add_norm(b, p + "attn.norm", c.Tn, h);
  add_tp_in(b, p + "attn.tp_in");
  // The norm output is the input of the first projections; stored (sharded with SP) unless
  // the norm is recomputed. One FP8 cast serves every projection reading it.
  const double norm_out_saved = c.Tn * h * lin;
  if (fp8) b.fp8_input_cast(p + "attn.norm.cast", T * h);
  const double dqk = m.qk_head_dim(), dv = m.v_head_dim();
  double q_width = c.heads_r * dqk, k_width = c.kv_r * dqk, v_width = c.kv_r * dv;
  if (m.attention == AttentionKind::Mla) {
    const MlaDims& d = m.mla;
    const double rope = d.qk_rope_head_dim;
    if (d.q_lora_rank > 0) {
      auto& qd = b.gemm(p + "attn.q_down", T, d.q_lora_rank, h, prec, norm_out_saved,
                        RecomputeModule::Norm);
      if (fp8) set_fp8_backward_casts(qd, c, T, d.q_lora_rank, h);
      add_norm(b, p + "attn.q_norm", T, d.q_lora_rank);
      if (fp8) b.fp8_input_cast(p + "attn.q_norm.cast", T * d.q_lora_rank);
      auto& qu = b.gemm(p + "attn.q_up", T, q_width, d.q_lora_rank, prec, T * d.q_lora_rank * lin,
                        RecomputeModule::Norm, 0, 1, RecomputeModule::MlaUpProj);
      if (fp8) set_fp8_backward_casts(qu, c, T, q_width, d.q_lora_rank);
    } else {
      auto& q = b.gemm(p + "attn.q", T, q_width, h, prec, norm_out_saved, RecomputeModule::Norm, 0,
                       1, RecomputeModule::MlaUpProj);
      if (fp8) set_fp8_backward_casts(q, c, T, q_width, h);
    }
    auto& kd = b.gemm(p + "attn.kv_down", T, d.kv_lora_rank + rope, h, prec, 0, RecomputeModule::None);
    if (fp8) set_fp8_backward_casts(kd, c, T, d.kv_lora_rank + rope, h);
    add_norm(b, p + "attn.kv_norm", T, d.kv_lora_rank);
    if (fp8) b.fp8_input_cast(p + "attn.kv_norm.cast", T * d.kv_lora_rank);
    const double up_n = c.heads_r * (d.qk_nope_head_dim + d.v_head_dim);
    auto& ku = b.gemm(p + "attn.kv_up", T, up_n, d.kv_lora_rank, prec, T * d.kv_lora_rank * lin,
                      RecomputeModule::Norm, 0, 1, RecomputeModule::MlaUpProj);
    if (fp8) set_fp8_backward_casts(ku, c, T, up_n, d.kv_lora_rank);
    // RoPE on the decoupled query and key parts; then Q and K are assembled (copies).
    const double rope_vals = T * (c.heads_r + 1.0) * rope;
    b.memory(p + "attn.rope", OpCategory::Rope, rope_vals * c.e, rope_vals * c.e,
             c.sw.fusions.rope ? 2 : 4, 2.0 * rope_vals * c.e, c.sw.fusions.rope ? 2 : 4,
             RecomputeModule::MlaUpProj);
    const double qk_vals = T * c.heads_r * dqk * 2.0;
    b.memory(p + "attn.qk_concat", OpCategory::Copy, qk_vals * c.e, qk_vals * c.e, 2,
             2.0 * qk_vals * c.e, 2, RecomputeModule::MlaUpProj);
    k_width = c.heads_r * dqk;
    v_width = c.heads_r * dv;
  } else {
    auto& qkv = b.gemm(p + "attn.qkv", T, q_width + k_width + v_width, h, prec,
                       norm_out_saved, RecomputeModule::Norm);
    if (fp8) set_fp8_backward_casts(qkv, c, T, q_width + k_width + v_width, h);
    if (m.qk_norm) {
      const double v = T * (q_width + k_width);
      auto& f = b.memory(p + "attn.qk_norm", OpCategory::Norm, v * c.e, v * c.e, 2, 3.0 * v * c.e, 2);
      f.op.saved = Bytes(v * c.e);
    }
    if (m.learned_position_embeddings == 0) {
      const double v = T * (q_width + k_width);
      b.memory(p + "attn.rope", OpCategory::Rope, v * c.e, v * c.e, c.sw.fusions.rope ? 1 : 2,
               2.0 * v * c.e, c.sw.fusions.rope ? 1 : 2);
    }
  }
  // Q, K, V: the attention kernel's inputs, rebuilt from the latents when MLA's up-projections
  // are recomputed.
  const double qkv_saved = T * (q_width + k_width + v_width) * c.e;
  const RecomputeModule qkv_module =
      m.attention == AttentionKind::Mla ? RecomputeModule::MlaUpProj : RecomputeModule::None;
  const double seq = c.s.training.seq_len;
  const double groups = c.s.parallelism.micro_batch * c.heads_r;
  if (c.attn_kernel == "unfused") {
    // Megatron-LM 2021/2022 (CoreAttention): baddbmm scores over the full s×s square, scale-
    // mask-softmax, dropout on the probabilities, bmm with V. Rows per CP rank: seq/cp.
    const double rows = seq / c.cp;
    const double scores = groups * rows * seq;  // elements per rank
    Fwd& sc = b.gemm(p + "attn.scores", groups * rows, seq, dqk, "bf16", 0, RecomputeModule::None,
                     static_cast<int>(groups), 0, RecomputeModule::CoreAttention);
    sc.op.category = OpCategory::Attention;
    sc.op.kernel.bytes = Bytes(T * (q_width + k_width) * c.e + scores * c.e);
    sc.weighted = false;
    if (qkv_module == RecomputeModule::None) sc.op.saved = Bytes(T * (q_width + k_width) * c.e);
    else sc.op.saved_recomputable = Bytes(T * (q_width + k_width) * c.e), sc.op.saved_module = qkv_module;
    const int sm_kernels = c.sw.fused_softmax ? 1 : 3;
    auto& soft = b.memory(p + "attn.softmax", OpCategory::Softmax, sm_kernels * scores * c.e,
                          sm_kernels * scores * c.e, sm_kernels, 3.0 * scores * c.e, 1,
                          RecomputeModule::CoreAttention);
    soft.op.saved_recomputable = Bytes(scores * c.e);
    soft.op.saved_module = RecomputeModule::CoreAttention;
    double probs_saved = 0;
    if (m.dropout) {
      auto& d = b.memory(p + "attn.dropout", OpCategory::Dropout, scores * c.e,
                         scores * (c.e + kMaskBytes), 1, scores * (2.0 * c.e + kMaskBytes), 1,
                         RecomputeModule::CoreAttention);
      d.op.saved_recomputable = Bytes(scores * kMaskBytes);
      d.op.saved_module = RecomputeModule::CoreAttention;
      probs_saved = scores * c.e;
    }
    Fwd& ctx = b.gemm(p + "attn.context", groups * rows, dv, seq, "bf16", 0, RecomputeModule::None,
                      static_cast<int>(groups), 0, RecomputeModule::None);
    ctx.op.category = OpCategory::Attention;
    ctx.op.kernel.bytes = Bytes(scores * c.e + T * v_width * c.e + T * q_width / dqk * dv * c.e);
    ctx.weighted = false;
    // The probabilities (dropout output, or the softmax output already counted) and V.
    ctx.op.saved_recomputable = Bytes(probs_saved);
    ctx.op.saved_module = RecomputeModule::CoreAttention;
    if (qkv_module == RecomputeModule::None) ctx.op.saved += Bytes(T * v_width * c.e);
  } else {
    // FlashAttention: causal, each query sees seq/2 keys on average; K/V of the whole sequence.
    Fwd f;
    f.op = b.base(p + "attn.core", OpCategory::Attention, RecomputeModule::None);
    KernelDesc& kd = f.op.kernel;
    kd.op_class = OpClass::Attention;
    kd.attention_kernel = c.attn_kernel;
    kd.flops = FlopCount(T * c.heads_r * 2.0 * (dqk + dv) * 0.5 * seq);
    const double q = T * q_width * c.e, kv = c.s.parallelism.micro_batch * seq * (k_width + v_width) * c.e;
    const double o = T * c.heads_r * dv * c.e, lse = T * c.heads_r * kFp32;
    kd.bytes = Bytes(q + kv + o + lse);
    kd.shape = GemmShape{seq / c.cp, seq, dqk, static_cast<int>(groups)};
    f.fused_attention = true;
    if (qkv_module == RecomputeModule::None) f.op.saved = Bytes(qkv_saved + lse);
    else f.op.saved = Bytes(lse), f.op.saved_recomputable = Bytes(qkv_saved), f.op.saved_module = qkv_module;
    b.fwd.push_back(std::move(f));
  }
  if (c.cp > 1) {
    // Ring attention: each rank's K/V chunk travels cp−1 hops (Megatron's context parallelism).
    b.collective(p + "attn.cp_ring", OpCollective::RingExchange, ParallelGroup::Cp,
                 (c.cp - 1.0) * T * (k_width + v_width) * c.e, OpCollective::RingExchange);
  }
  // Context, the output projection's input.
  const double ctx_width = c.heads_r * dv;
  if (fp8) b.fp8_input_cast(p + "attn.out.cast", T * ctx_width);
  auto& out = b.gemm(p + "attn.out", T, h, ctx_width, prec, T * ctx_width * lin, RecomputeModule::None);
  if (fp8) set_fp8_backward_casts(out, c, T, h, ctx_width);
  add_tp_out(b, p + "attn.tp_out");
  add_residual(b, p + "attn.residual");
}

/// A dense (or shared-expert) FFN over `rows` × h with width `f` on this rank.
void add_ffn(Builder& b, const std::string& p, double rows, double f, const std::string& prec,
             RecomputeModule act_module, double input_saved) {
  const Ctx& c = b.c;
  const ModelSpec& m = c.m;
  const double h = m.hidden;
  const bool glu = m.activation == Activation::SwiGlu;
  const bool fp8 = prec == "fp8";
  const double lin = bytes_per_value(fp8 ? "fp8" : "bf16");
  const double up_n = glu ? 2.0 * f : f;
  auto& up = b.gemm(p + (glu ? ".up_gate" : ".up"), rows, up_n, h, prec, input_saved,
                    RecomputeModule::Norm);
  if (fp8) set_fp8_backward_casts(up, c, rows, up_n, h);
  // The activation: SwiGLU (or bias + GeLU). Its input is kept (in FP8 when the stack caches
  // it so, DeepSeek-V3 §3.3.2), its output (the down projection's input) unless recomputed.
  const double act_in_bytes = fp8 && c.savings.recompute_moe_act && act_module == RecomputeModule::MoeAct
                                  ? bytes_per_value("fp8") : c.e;
  const int act_kernels = (!glu && m.bias && !c.sw.fusions.bias_act) ? 2 : 1;
  // With FP8 the activation writes the down projection's FP8 input directly (fused cast).
  auto& act = b.memory(p + ".act", OpCategory::Activation, rows * up_n * c.e * act_kernels,
                       rows * f * (fp8 ? bytes_per_value("fp8") : c.e) * act_kernels, act_kernels,
                       rows * (up_n * c.e + f * c.e + up_n * c.e), 1, act_module);
  act.op.saved = Bytes(rows * up_n * act_in_bytes);
  auto& down = b.gemm(p + ".down", rows, h, f, prec, rows * f * lin, act_module);
  if (fp8) set_fp8_backward_casts(down, c, rows, h, f);
}

void add_mlp(Builder& b, const std::string& p, bool moe_block, const RoutedLoad& load,
             int moe_index, double& routed_rows) {
  const Ctx& c = b.c;
  const ModelSpec& m = c.m;
  const double h = m.hidden;
  add_norm(b, p + "mlp.norm", c.Tn, h);
  if (!moe_block) {
    add_tp_in(b, p + "mlp.tp_in");
    const std::string prec = gemm_precision(c.s, "mlp");
    if (prec == "fp8") b.fp8_input_cast(p + "mlp.norm.cast", c.T * h);
    add_ffn(b, p + "mlp", c.T, m.ffn_hidden / static_cast<double>(c.tp), prec,
            RecomputeModule::MlpAct, c.Tn * h * bytes_per_value(prec == "fp8" ? "fp8" : "bf16"));
    add_tp_out(b, p + "mlp.tp_out");
    add_residual(b, p + "mlp.residual");
    return;
  }
  add_tp_in(b, p + "mlp.tp_in");
  const MoeSpec& x = *m.moe;
  const double E = x.routed_experts;
  const double Tm = c.Tm;
  // Router: BF16 GEMM, FP32 score function, top-k (grouped top-k for node-limited routing).
  b.gemm(p + "moe.router", Tm, E, h, gemm_precision(c.s, "router"), Tm * h * c.e,
         RecomputeModule::Norm);
  {
    auto& score = b.memory(p + "moe.score", OpCategory::Routing, Tm * E * c.e, Tm * E * kFp32, 2,
                           3.0 * Tm * E * kFp32, 2);
    score.op.saved = Bytes(Tm * E * kFp32);  // probabilities for the router's backward
    b.memory(p + "moe.topk", OpCategory::Routing, Tm * E * kFp32, Tm * x.top_k * (kFp32 + 8.0), 3,
             Tm * E * kFp32, 1);
  }
  const double copies = Tm * x.top_k;  // token copies this rank sends and gets back
  double rows = copies;                 // token copies its experts compute (uniform)
  if (moe_index >= 0 && !load.busiest_rank_copies.empty())
    rows = load.busiest_rank_copies[static_cast<std::size_t>(moe_index) %
                                    load.busiest_rank_copies.size()];
  routed_rows = rows;
  const std::string eprec = gemm_precision(c.s, "experts");
  const bool efp8 = eprec == "fp8";
  const double lin = bytes_per_value(efp8 ? "fp8" : "bf16");
  const std::string ddt = c.s.moe_routing.dispatch_dtype, cdt = c.s.moe_routing.combine_dtype;
  // Dispatch: FP8 dispatch quantises the tokens first (DeepEP sends FP8 + scales).
  if (ddt == "fp8")
    b.memory(p + "moe.dispatch.cast", OpCategory::Fp8Cast, Tm * h * c.e, Tm * h * bytes_per_value("fp8"),
             1, 0, 0);
  if (c.ep > 1) {
    b.collective(p + "moe.dispatch", OpCollective::AllToAllDispatch, ParallelGroup::Ep,
                 copies * h * bytes_per_value(ddt), OpCollective::AllToAllCombine);
  }
  // Permute the received copies into expert-contiguous order (with their scales).
  b.memory(p + "moe.permute", OpCategory::Routing, rows * h * bytes_per_value(ddt),
           rows * h * bytes_per_value(ddt), 2, 2.0 * rows * h * c.e, 1);
  const int groups = static_cast<int>(E / c.ep);
  const double f = x.expert_ffn_hidden;
  const bool glu = m.activation == Activation::SwiGlu;
  const double up_n = glu ? 2.0 * f : f;
  // Rows of each expert padded to the GEMM's row tile (DeepGEMM contiguous layout: 128).
  const double per_expert = rows / std::max(1, groups);
  const double padded = std::max(1, groups) * std::ceil(per_expert / 128.0) * 128.0;
  if (efp8 && ddt != "fp8") b.fp8_input_cast(p + "moe.experts.cast", rows * h);
  auto& up = b.gemm(p + "moe.experts.up_gate", padded, up_n, h, eprec, rows * h * lin,
                    RecomputeModule::None, groups, groups);
  up.op.kernel.flops = FlopCount(2.0 * rows * up_n * h);  // useful FLOPs; time uses padded shape
  if (efp8) set_fp8_backward_casts(up, c, rows, up_n, h);
  // SwiGLU with the routing weight folded in (DeepSeek: swiglu_forward_with_weight…), writing
  // the down projection's FP8 input: the combine is then a plain reduce and no expert output is
  // kept for the gate's gradient.
  const double act_in = efp8 && c.savings.recompute_moe_act ? bytes_per_value("fp8") : c.e;
  auto& act = b.memory(p + "moe.experts.act", OpCategory::Activation, rows * up_n * c.e,
                       rows * f * lin, 1, rows * (up_n * c.e + f * c.e + up_n * c.e), 2,
                       RecomputeModule::MoeAct);
  act.op.saved = Bytes(rows * up_n * act_in + rows * kFp32);
  auto& down = b.gemm(p + "moe.experts.down", padded, h, f, eprec, rows * f * lin,
                      RecomputeModule::MoeAct, groups, groups);
  down.op.kernel.flops = FlopCount(2.0 * rows * h * f);
  if (efp8) set_fp8_backward_casts(down, c, rows, h, f);
  if (c.ep > 1) {
    b.collective(p + "moe.combine", OpCollective::AllToAllCombine, ParallelGroup::Ep,
                 copies * h * bytes_per_value(cdt), OpCollective::AllToAllDispatch);
  }
  // Unpermute: reduce the returned copies per token (weights already applied).
  b.memory(p + "moe.unpermute", OpCategory::Routing, copies * h * c.e, Tm * h * c.e, 1,
           2.0 * copies * h * c.e, 1);
  if (x.shared_experts > 0) {
    const std::string sprec = gemm_precision(c.s, "shared_experts");
    if (sprec == "fp8") b.fp8_input_cast(p + "moe.shared.cast", c.T * h);
    add_ffn(b, p + "moe.shared", c.T, static_cast<double>(x.shared_experts) * f / c.tp, sprec,
            RecomputeModule::MoeAct, 0);
  }
  add_tp_out(b, p + "mlp.tp_out");
  add_residual(b, p + "mlp.residual");
}

void add_head(Builder& b, const std::string& p, const std::string& prec_class) {
  const Ctx& c = b.c;
  const ModelSpec& m = c.m;
  const double h = m.hidden;
  const double vr = static_cast<double>(m.vocab) / c.tp;
  add_norm(b, p + "final_norm", c.Tn, h);
  add_tp_in(b, p + "head.tp_in");
  const std::string prec = gemm_precision(c.s, prec_class);
  b.gemm(p + "lm_head", c.T, vr, h, prec, c.Tn * h * c.e, RecomputeModule::Norm);
  // Cross-entropy over FP32 logits: fused, one pass forward and one backward; Megatron-LM's
  // vocabulary-parallel version runs max, subtract, exp, sum, log and the target gather as
  // separate kernels (and TP all-reduces of T values: priced as collectives).
  const double logits = c.T * vr;
  const int k = c.sw.fusions.cross_entropy ? 2 : 7;
  auto& ce = b.memory(p + "loss", OpCategory::Loss, logits * (c.e + kFp32 * (k - 1) * 0.5),
                      logits * kFp32 * (k - 1) * 0.5 + c.T * kFp32, k, logits * (kFp32 + c.e), c.sw.fusions.cross_entropy ? 1 : 3);
  ce.op.saved = Bytes(logits * kFp32);
  if (c.tp > 1)
    b.collective(p + "loss.tp", OpCollective::AllReduce, ParallelGroup::Tp, 3.0 * c.T * kFp32,
                 OpCollective::None);
}

// --------------------------------------------------------------------------------------------
// Backward derivation and recompute
// --------------------------------------------------------------------------------------------

bool recomputed(const Ctx& c, RecomputeModule module) {
  const ActivationSavings& s = c.savings;
  switch (module) {
    case RecomputeModule::Norm: return s.recompute_norms;
    case RecomputeModule::MlaUpProj: return s.recompute_mla_up_proj;
    case RecomputeModule::MoeAct: return s.recompute_moe_act;
    case RecomputeModule::MlpAct: return s.recompute_mlp_act;
    case RecomputeModule::CoreAttention: return c.recompute == Recompute::Selective;
    case RecomputeModule::None: return false;
  }
  return false;
}

Op backward_memory(const Fwd& f, Bytes bytes, int kernels, OpCategory cat, const std::string& suffix) {
  Op op;
  op.name = f.op.name + suffix;
  op.category = cat;
  op.pass = Pass::InputGrad;
  op.kernel.op_class = OpClass::Memory;
  op.kernel.memory_class = op_category_name(cat);
  op.kernel.bytes = bytes;
  op.kernel.kernels = kernels;
  return op;
}

/// The layer's ops: forward, recompute (before backward), input gradient and weight gradient.
LayerProgram finish_layer(const Ctx& c, Builder& b, LayerKind kind, int index, bool full_recompute_layer) {
  LayerProgram lp;
  lp.kind = kind;
  lp.index = index;
  // Forward.
  double saved = 0, working = 0;
  for (Fwd& f : b.fwd) {
    f.op.pass = Pass::Forward;
    lp.ops.push_back(f.op);
    working += f.op.saved.value + f.op.saved_recomputable.value;
    saved += f.op.saved.value;
    if (!recomputed(c, f.op.saved_module)) saved += f.op.saved_recomputable.value;
  }
  if (full_recompute_layer) {
    // Only the layer input is kept; in backward the layer's activations are rebuilt, one layer
    // at a time (Korthikanti: "full" keeps 2sbh per layer).
    saved = c.Tn * c.m.hidden * c.e;
    lp.recompute_working = Bytes(working);
  }
  lp.saved = Bytes(saved);
  // Recompute: the forward ops whose outputs were dropped, in forward order.
  for (const Fwd& f : b.fwd) {
    const bool redo = full_recompute_layer
                          ? (f.op.pass == Pass::Forward &&
                             (!f.op.is_collective() || f.op.collective != OpCollective::None))
                          : (!f.op.is_collective() && recomputed(c, f.op.module));
    if (!redo) continue;
    Op op = f.op;
    op.pass = Pass::Recompute;
    op.saved = op.saved_recomputable = Bytes(0);
    lp.ops.push_back(op);
  }
  // Backward, in reverse.
  std::vector<Op> wgrads;
  for (auto it = b.fwd.rbegin(); it != b.fwd.rend(); ++it) {
    const Fwd& f = *it;
    if (f.op.is_collective()) {
      if (f.bwd_collective != OpCollective::None) {
        Op op = f.op;
        op.name += ".bwd";
        op.pass = Pass::InputGrad;
        op.collective = f.bwd_collective;
        op.saved = op.saved_recomputable = Bytes(0);
        lp.ops.push_back(op);
      }
      if (f.regather_in_backward) {
        // SP: the input is gathered again for the weight gradient, overlapping the input-gradient
        // GEMM (Megatron's async all-gather in LinearWithGradAccumulationAndAsyncCommunication).
        Op op = f.op;
        op.name += ".regather";
        op.pass = Pass::InputGrad;
        op.collective = OpCollective::AllGather;
        op.async = true;
        op.saved = op.saved_recomputable = Bytes(0);
        lp.ops.push_back(op);
      }
      continue;
    }
    if (f.gemm) {
      const KernelDesc& k = f.op.kernel;
      const double M = k.shape.m * k.shape.groups, N = k.shape.n, K = k.shape.k;
      const double ib = bytes_per_value(k.precision);
      const double flops = k.flops.value;
      if (f.bwd_cast_kernels_dgrad > 0) {
        Op cast = backward_memory(f, f.bwd_cast_bytes_dgrad, f.bwd_cast_kernels_dgrad,
                                  OpCategory::Fp8Cast, ".dgrad.cast");
        lp.ops.push_back(cast);
      }
      Op dg;
      dg.name = f.op.name + ".dgrad";
      dg.category = f.op.category;
      dg.pass = Pass::InputGrad;
      dg.kernel = k;
      dg.kernel.role = GemmRole::Dgrad;
      dg.kernel.shape = GemmShape{k.shape.m, K, N, k.shape.groups};
      dg.kernel.bytes = Bytes(M * N * ib + (f.weighted ? K * N * k.shape.groups : 0.0) * ib +
                              M * K * c.e);
      dg.kernel.flops = FlopCount(flops);
      lp.ops.push_back(dg);
      if (!f.weighted) {
        // Attention's second matmul gradient (the "weight" operand is an activation too).
        Op dg2 = dg;
        dg2.name = f.op.name + ".dgrad2";
        dg2.kernel.shape = GemmShape{K, N, k.shape.m, k.shape.groups};
        lp.ops.push_back(dg2);
        continue;
      }
      if (f.bwd_cast_kernels_wgrad > 0) {
        Op cast = backward_memory(f, f.bwd_cast_bytes_wgrad, f.bwd_cast_kernels_wgrad,
                                  OpCategory::Fp8Cast, ".wgrad.cast");
        cast.pass = Pass::WeightGrad;
        wgrads.push_back(cast);
      }
      Op wg;
      wg.name = f.op.name + ".wgrad";
      wg.category = f.op.category;
      wg.pass = Pass::WeightGrad;
      wg.stream = c.wgrad_stream ? Stream::WgradCompute : Stream::Compute;
      wg.kernel = k;
      wg.kernel.role = GemmRole::Wgrad;
      // dW[k×n] = Xᵀ·dY per group: m = k, n = n, k = rows of the group.
      wg.kernel.shape = GemmShape{K, N, k.shape.m, k.shape.groups};
      wg.kernel.bytes = Bytes(M * K * ib + M * N * ib + 2.0 * K * N * k.shape.groups * kFp32);
      wg.kernel.flops = FlopCount(flops);
      wgrads.push_back(wg);
      continue;
    }
    if (f.fused_attention) {
      Op op;
      op.name = f.op.name + ".bwd";
      op.category = OpCategory::Attention;
      op.pass = Pass::InputGrad;
      op.kernel = f.op.kernel;
      op.kernel.backward = true;
      op.kernel.flops = f.op.kernel.flops * kAttentionKernelBwdFactor;
      op.kernel.bytes = f.op.kernel.bytes * 2.0;
      op.kernel.kernels = 3;  // preprocess (dO·O), main kernel, dQ conversion
      lp.ops.push_back(op);
      continue;
    }
    if (f.bwd_kernels > 0)
      lp.ops.push_back(backward_memory(f, f.bwd_bytes, f.bwd_kernels, f.bwd_category, ".bwd"));
  }
  for (auto& w : wgrads) lp.ops.push_back(std::move(w));
  return lp;
}

Ctx make_ctx(const Scenario& s) {
  Ctx c(s);
  const auto& par = s.parallelism;
  c.tp = par.tp;
  c.cp = par.cp;
  c.ep = par.ep;
  c.sp = par.sequence_parallel && par.tp > 1;
  c.T = static_cast<double>(par.micro_batch) * s.training.seq_len / par.cp;
  c.Tn = c.sp ? c.T / par.tp : c.T;
  c.Tm = c.T / par.tp;
  c.e = 2.0;
  c.heads_r = static_cast<double>(s.model.heads) / par.tp;
  c.kv_r = static_cast<double>(s.model.attention_kv_heads()) / par.tp;
  c.recompute = par.recompute;
  c.savings = activation_savings(s);
  c.wgrad_stream = s.software.wgrad_stream;
  std::string a = s.software.attention;
  if (a == "auto") a = s.profile.attention.by_kernel.count("flash3") ? "flash3" : "flash2";
  if (a != "unfused" && !s.profile.attention.by_kernel.empty() &&
      !s.profile.attention.by_kernel.count(a))
    throw InputError(s.file, "software.attention",
                     "\"" + a + "\" has no efficiency figures in the " + s.gpu.name +
                         " profile (" + s.profile.name + "); it has " +
                         [&] {
                           std::string l;
                           for (const auto& [k, v] : s.profile.attention.by_kernel)
                             l += (l.empty() ? "" : ", ") + k;
                           return l;
                         }() + " or \"unfused\"");
  c.attn_kernel = a;
  return c;
}

/// ZeRO-3 (Rajbhandari et al. 2020, arXiv 1910.02054 §5.3; DeepSpeed stage 3 and PyTorch FSDP
/// work alike): a layer's weights live sharded over its data-parallel group, so every
/// micro-batch gathers them (BF16) before the layer's forward and again before its backward,
/// prefetched on the communication stream while the previous layer computes, and reduce-scatters
/// the layer's weight gradients after its backward (the full gradient is never kept). Dense
/// weights over the dp·cp group, routed experts over their expert-data-parallel group.
void add_zero3_ops(const Scenario& s, LayerProgram& lp, std::int64_t dp_dense, std::int64_t dp_expert) {
  const double grad_bytes = s.training.grad_dtype == "fp32" ? 4.0 : 2.0;
  std::vector<Op> fwd, bwd, wgrad;
  auto add = [&](double params, std::int64_t n, ParallelGroup g, const std::string& tag) {
    if (n <= 1 || params <= 0) return;
    Op ag;
    ag.name = "zero3." + tag + ".param_gather";
    ag.category = OpCategory::Collective;
    ag.stream = Stream::Comm;
    ag.collective = OpCollective::AllGather;
    ag.group = g;
    ag.comm_bytes = Bytes(params * 2.0);
    ag.async = true;
    ag.pass = Pass::Forward;
    fwd.push_back(ag);
    ag.name += "_bwd";
    ag.pass = Pass::InputGrad;
    bwd.push_back(ag);
    Op rs = ag;
    rs.name = "zero3." + tag + ".grad_reduce_scatter";
    rs.collective = OpCollective::ReduceScatter;
    rs.comm_bytes = Bytes(params * grad_bytes);
    rs.pass = Pass::WeightGrad;
    wgrad.push_back(rs);
  };
  add(lp.params - lp.expert_params, dp_dense, ParallelGroup::Dp, "dense");
  add(lp.expert_params, dp_expert, ParallelGroup::DpExpert, "expert");
  if (fwd.empty()) return;
  // The gathers open their pass (the forward's first op, the backward's first op); the gradient
  // reduce-scatter closes the layer.
  std::vector<Op> ops;
  ops.reserve(lp.ops.size() + fwd.size() + bwd.size() + wgrad.size());
  ops.insert(ops.end(), fwd.begin(), fwd.end());
  bool in_backward = false;
  for (Op& op : lp.ops) {
    if (!in_backward && op.pass != Pass::Forward) {
      ops.insert(ops.end(), bwd.begin(), bwd.end());
      in_backward = true;
    }
    ops.push_back(std::move(op));
  }
  if (!in_backward) ops.insert(ops.end(), bwd.begin(), bwd.end());
  ops.insert(ops.end(), wgrad.begin(), wgrad.end());
  lp.ops = std::move(ops);
}

}  // namespace

StepProgram build_step_program(const Scenario& s, const RoutedLoad& load) {
  const Ctx c = make_ctx(s);
  const ModelSpec& m = s.model;
  const auto& par = s.parallelism;
  // Parameters and divisibility come from the model accounting (one owner).
  ShardContext ctx;
  ctx.tp = par.tp;
  ctx.cp = par.cp;
  ctx.ep = par.ep;
  ctx.seq_len = s.training.seq_len;
  ctx.micro_batch = par.micro_batch;
  ctx.sequence_parallel = par.sequence_parallel;
  std::vector<LayerPlan> plans;
  try {
    plans = plan_layers(m, ctx);
  } catch (const InfeasibleError& e) {
    throw InfeasibleError(s.file, e.json_path(), e.message());
  }

  StepProgram prog;
  const bool full = par.recompute == Recompute::Full;
  // The data-parallel groups: dense weights over dp·cp ranks, routed experts over dp·cp/ep.
  const std::int64_t dp_dense = par.dp * par.cp;
  const std::int64_t dp_expert = std::max<std::int64_t>(1, dp_dense / par.ep);
  int moe_index = 0;
  for (const LayerPlan& plan : plans) {
    Builder b(c);
    LayerProgram lp;
    double routed_rows = 0;
    int layer_moe_index = -1;
    switch (plan.kind) {
      case LayerKind::Embedding: {
        const double v = c.T * m.hidden;
        b.memory("embed.lookup", OpCategory::Embedding, v * 2.0 / c.tp + c.T * 8.0, v * c.e, 1, 0, 0);
        if (c.tp > 1) {
          if (c.sp)
            b.collective("embed.tp_out.rs", OpCollective::ReduceScatter, ParallelGroup::Tp,
                         v * c.e, OpCollective::AllGather);
          else
            b.collective("embed.tp_out.ar", OpCollective::AllReduce, ParallelGroup::Tp, v * c.e,
                         OpCollective::None);
        }
        if (m.dropout) {
          auto& d = b.memory("embed.dropout", OpCategory::Dropout, c.Tn * m.hidden * c.e,
                             c.Tn * m.hidden * (c.e + kMaskBytes), 1,
                             c.Tn * m.hidden * (2.0 * c.e + kMaskBytes), 1);
          d.op.saved = Bytes(c.Tn * m.hidden * kMaskBytes);
        }
        lp = finish_layer(c, b, plan.kind, -1, false);
        // The embedding's gradient: a scatter-add of T rows into the table (weight gradient).
        Op g;
        g.name = "embed.grad";
        g.category = OpCategory::Embedding;
        g.pass = Pass::WeightGrad;
        g.kernel.op_class = OpClass::Memory;
        g.kernel.memory_class = "embedding";
        g.kernel.bytes = Bytes(v * c.e + 2.0 * v * kFp32 / c.tp);
        g.kernel.kernels = 2;
        lp.ops.push_back(g);
        break;
      }
      case LayerKind::Dense:
      case LayerKind::Moe: {
        const bool moe = plan.kind == LayerKind::Moe;
        add_attention(b, "");
        layer_moe_index = moe ? moe_index : -1;
        add_mlp(b, "", moe, load, layer_moe_index, routed_rows);
        if (moe) ++moe_index;
        lp = finish_layer(c, b, plan.kind, plan.index, full);
        break;
      }
      case LayerKind::Mtp: {
        // DeepSeek-V3 §2.2: embed the token one ahead (shared table), normalise it and the main
        // model's hidden state, project the concatenation 2h → h, one block, the shared head.
        const double v = c.T * m.hidden;
        b.memory("mtp.embed.lookup", OpCategory::Embedding, v * 2.0 / c.tp + c.T * 8.0, v * c.e, 1,
                 0, 0);
        add_norm(b, "mtp.norm_h", c.Tn, m.hidden);
        add_norm(b, "mtp.norm_e", c.Tn, m.hidden);
        b.memory("mtp.concat", OpCategory::Copy, 2.0 * v * c.e, 2.0 * v * c.e, 1, 4.0 * v * c.e, 1);
        add_tp_in(b, "mtp.proj.tp_in");
        b.gemm("mtp.proj", c.T, m.hidden / static_cast<double>(c.tp), 2.0 * m.hidden,
               gemm_precision(s, "mtp_proj"), 2.0 * c.Tn * m.hidden * c.e, RecomputeModule::Norm);
        add_tp_out(b, "mtp.proj.tp_out");
        const bool moe = m.is_moe() && m.layer_is_moe(plan.index);
        add_attention(b, "mtp.");
        layer_moe_index = moe ? moe_index : -1;
        add_mlp(b, "mtp.", moe, load, layer_moe_index, routed_rows);
        if (moe) ++moe_index;
        add_head(b, "mtp.", "lm_head");
        lp = finish_layer(c, b, plan.kind, plan.index, false);
        break;
      }
      case LayerKind::LmHead: {
        add_head(b, "", "lm_head");
        lp = finish_layer(c, b, plan.kind, -1, false);
        break;
      }
    }
    lp.params = plan.params_on_rank;
    lp.expert_params = plan.expert_params_on_rank;
    lp.routed_rows = routed_rows;
    lp.moe_index = layer_moe_index;
    if (par.zero == 3) add_zero3_ops(s, lp, dp_dense, dp_expert);
    prog.layers.push_back(std::move(lp));
  }

  // Stages: the embedding on the first, MTP and the head on the last.
  const int p = par.pp;
  prog.stages.resize(static_cast<std::size_t>(p));
  std::vector<int> stage_of(static_cast<std::size_t>(m.layers), 0);
  {
    int layer = 0;
    for (int st = 0; st < p; ++st)
      for (int i = 0; i < par.stage_layers[static_cast<std::size_t>(st)]; ++i)
        stage_of[static_cast<std::size_t>(layer++)] = st;
  }
  for (std::size_t i = 0; i < prog.layers.size(); ++i) {
    const LayerProgram& lp = prog.layers[i];
    int st = 0;
    if (lp.kind == LayerKind::Embedding) st = 0;
    else if (lp.kind == LayerKind::Mtp || lp.kind == LayerKind::LmHead) st = p - 1;
    else st = stage_of[static_cast<std::size_t>(lp.index)];
    StageProgram& sp = prog.stages[static_cast<std::size_t>(st)];
    sp.stage = st;
    sp.layers.push_back(i);
    sp.saved_per_micro_batch += lp.saved;
    sp.params += lp.params;
    sp.expert_params += lp.expert_params;
    // Transients live once per stage: the logits (the loss's saved bytes) between the head's
    // forward and backward of the last micro-batch in flight, a layer rebuilt under full
    // recompute.
    if (lp.kind == LayerKind::LmHead || lp.kind == LayerKind::Mtp) {
      for (const Op& op : lp.ops)
        if (op.category == OpCategory::Loss && op.pass == Pass::Forward) {
          sp.saved_per_micro_batch -= op.saved;
          sp.transient = std::max(sp.transient, op.saved);
        }
    }
    sp.transient = std::max(sp.transient, lp.recompute_working);
  }

  // Per stage and step: DP gradient reduction and parameter gather, and the optimizer.
  const double grad_bytes = s.training.grad_dtype == "fp32" ? 4.0 : 2.0;
  const double moments = s.training.optimizer_moments == "bf16" ? 2.0 : 4.0;
  for (StageProgram& sp : prog.stages) {
    const double dense = sp.params - sp.expert_params, expert = sp.expert_params;
    auto dp_ops = [&](double params, std::int64_t n, ParallelGroup g, const std::string& tag) {
      // ZeRO-3 gathers and reduces per layer and micro-batch (add_zero3_ops), not per step.
      if (n <= 1 || params <= 0 || par.zero == 3) return;
      Op rs;
      rs.name = "dp." + tag + (par.zero >= 1 ? ".reduce_scatter" : ".all_reduce");
      rs.category = OpCategory::Collective;
      rs.stream = Stream::Comm;
      rs.collective = par.zero >= 1 ? OpCollective::ReduceScatter : OpCollective::AllReduce;
      rs.group = g;
      rs.comm_bytes = Bytes(params * grad_bytes);
      rs.async = s.software.overlap.dp_grad_reduce;
      rs.pass = Pass::WeightGrad;
      sp.step_ops.push_back(rs);
      if (par.zero >= 1) {
        Op ag = rs;
        ag.name = "dp." + tag + ".all_gather";
        ag.collective = OpCollective::AllGather;
        ag.comm_bytes = Bytes(params * 2.0);
        ag.async = s.software.overlap.dp_param_gather;
        ag.pass = Pass::Forward;
        sp.step_ops.push_back(ag);
      }
    };
    dp_ops(dense, dp_dense, ParallelGroup::Dp, "dense");
    dp_ops(expert, dp_expert, ParallelGroup::DpExpert, "expert");
    // Adam on the local shard: read master, gradient and moments, write master, moments and the
    // BF16 weights (multi-tensor: a few launches; unfused: one pass per element-wise step).
    const double shard = par.zero >= 1 ? dense / static_cast<double>(dp_dense) +
                                             expert / static_cast<double>(dp_expert)
                                       : dense + expert;
    Op norm;
    norm.name = "optimizer.grad_norm";
    norm.category = OpCategory::Optimizer;
    norm.pass = Pass::WeightGrad;
    norm.kernel.op_class = OpClass::Memory;
    norm.kernel.memory_class = "optimizer";
    norm.kernel.bytes = Bytes(shard * grad_bytes * 2.0);  // norm, then the clip's scaling pass
    norm.kernel.kernels = 2;
    sp.step_ops.push_back(norm);
    Op adam = norm;
    adam.name = "optimizer.adam";
    const double pass_bytes = shard * (2.0 * 4.0 + grad_bytes + 4.0 * moments + 2.0);
    adam.kernel.bytes = Bytes(s.software.fusions.adam ? pass_bytes : 3.0 * pass_bytes);
    adam.kernel.kernels = s.software.fusions.adam ? 4 : 12;
    sp.step_ops.push_back(adam);
    if (s.training.precision == "fp8") {
      // FP8 copies of the updated weights (and their transposes) for the next step's GEMMs.
      Op cast = norm;
      cast.name = "optimizer.weight_cast";
      cast.category = OpCategory::Fp8Cast;
      const double local = dense + expert;
      cast.kernel.bytes = Bytes(local * (2.0 + 2.0 * bytes_per_value("fp8")));
      cast.kernel.kernels = 2;
      sp.step_ops.push_back(cast);
    }
    // Pipeline transfers of one micro-batch: the hidden state forward, its gradient backward.
    if (p > 1) {
      Op send;
      send.name = "pp.send_forward";
      send.category = OpCategory::Collective;
      send.stream = Stream::Comm;
      send.collective = OpCollective::SendRecv;
      send.group = ParallelGroup::Pp;
      send.comm_bytes = Bytes(c.Tn * m.hidden * c.e);
      send.pass = Pass::Forward;
      sp.send_forward = send;
      send.name = "pp.send_backward";
      send.pass = Pass::InputGrad;
      sp.send_backward = send;
    }
  }
  return prog;
}

}  // namespace clustercost
