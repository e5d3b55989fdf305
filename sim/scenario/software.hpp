#pragma once
/// `software`: the structural choices of the training stack that decide which kernels a step
/// launches (never how fast they run: efficiencies live in the profile). Named presets set the
/// stacks of our published cases; keys given next to a preset override it.
///
///   "software": { "preset": "megatron-core",
///                 "attention": "auto" | "flash1" | "flash2" | "flash3" | "unfused",
///                 "fused_softmax": true,          // unfused attention: Megatron's fused
///                                                 // scale-mask-softmax kernel
///                 "fp8_recipe": "delayed" | "tilewise",
///                 "fusions": { "norm": true, "bias_act": true, "bias_dropout_add": true,
///                              "rope": true, "cross_entropy": true, "adam": true },
///                 "comm_sms": 0,
///                 "overlap": { "dp_grad_reduce": true, "dp_param_gather": true,
///                              "tp_comm": false },
///                 "wgrad_stream": false,
///                 "precision": { "lm_head": "bf16", ... } }
///
/// Presets (sources in docs/reference/published-runs.md):
///  - "megatron-lm-2021" (Narayanan et al., SC'21, B1): unfused attention (baddbmm scores,
///    fused scale-mask-softmax, dropout, bmm context), apex fused LayerNorm, fused bias-GeLU and
///    bias-dropout-add, unfused vocabulary-parallel cross-entropy, apex multi-tensor Adam; DP
///    all-reduce after the backward, not overlapped.
///  - "megatron-lm-2022" (Korthikanti et al., E1): the same kernels (sequence parallelism and
///    selective recompute are `parallelism` settings).
///  - "deepseek-v3" (arXiv 2412.19437 §3.2–3.3, profile E8): FlashAttention-3-style MLA
///    kernels where the GPU's profile has them ("auto"), tile-wise FP8 (1×128 activations, 128×128 weights), 20 SMs for DeepEP, a second
///    stream for weight-gradient GEMMs, DP traffic overlapped.
///  - "megatron-core" (the default: a current Megatron-Core / NeMo stack): fused attention
///    (FlashAttention-3 where the GPU's profile has it, else FlashAttention-2), Transformer
///    Engine per-tensor delayed-scaling FP8, every element-wise fusion, DP reduce-scatter and
///    parameter gather overlapped, TP communication not overlapped.
/// Per-op precision (`precision`): with training.precision "fp8" the linear layers of
/// attention, MLP and experts run in FP8; the router, the LM and MTP heads, the MTP projection
/// and attention stay in BF16 (DeepSeek-V3 §3.3.1), the loss and the optimizer in FP32.

#include <map>
#include <string>

#include "sim/common/json_reader.hpp"

namespace clustercost {

struct SoftwareConfig {
  std::string preset = "megatron-core";
  std::string attention = "auto";  ///< as given; resolved_attention() after the GPU is known
  bool fused_softmax = true;
  std::string fp8_recipe = "delayed";
  struct Fusions {
    bool norm = true;              ///< one kernel per norm (apex / TE), else mean, var, scale
    bool bias_act = true;          ///< bias + GeLU/SwiGLU in one kernel
    bool bias_dropout_add = true;  ///< bias + dropout + residual add in one kernel
    bool rope = true;              ///< RoPE in one kernel for Q and K
    bool cross_entropy = true;     ///< fused softmax cross-entropy
    bool adam = true;              ///< multi-tensor Adam (a few launches for all parameters)
  } fusions;
  int comm_sms = 0;
  struct Overlap {
    bool dp_grad_reduce = true;
    bool dp_param_gather = true;
    bool tp_comm = false;
  } overlap;
  bool wgrad_stream = false;
  /// Per op class precision overrides (keys: attention_proj, mlp, experts, shared_experts,
  /// router, lm_head, mtp_proj), "bf16" / "fp8" / "fp32".
  std::map<std::string, std::string> precision;
};

/// The op classes `software.precision` may name.
const std::vector<std::string>& software_precision_classes();
/// The names of the presets.
const std::vector<std::string>& software_presets();
/// A preset's settings (InputError via `r` when unknown is the caller's job).
SoftwareConfig software_preset(const std::string& name);

/// Parses `software` (nullopt: the default preset). `parallelism_comm_sms` is the older
/// `parallelism.comm_sms` (−1 when absent): it must agree with `software.comm_sms` when both
/// are given. `gpu_sms` bounds comm_sms.
SoftwareConfig parse_software(std::optional<ObjectReader> r, int parallelism_comm_sms, int gpu_sms);
Json software_to_json(const SoftwareConfig& s);

}  // namespace clustercost
