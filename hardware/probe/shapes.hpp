#pragma once
/// The sweeps the probe measures: square GEMMs, the best shapes of published matmul benchmarks,
/// and the GEMMs of shipped model layers (DeepSeek-V3, Llama 3 70B split by TP 8), MoE grouped
/// GEMMs with uneven expert loads, and attention sizes. Each entry names its source. The CPU
/// part and the CUDA dispatcher pick from here; the CUDA part only executes the list it is given.

#include <cstdint>
#include <string>
#include <vector>

#include "hardware/probe/measurement.hpp"

namespace clustercost::probe {

struct NamedGemm {
  std::string name;
  GemmShape shape;
};

struct NamedGrouped {
  std::string name;
  GroupedGemmShape shape;
};

struct NamedAttention {
  std::string name;
  AttentionShape shape;
};

/// Splits `total` tokens over `groups` experts unevenly, as a router does: group weights are
/// drawn in [0.35, 1.65) from (seed, g), sizes are multiples of `multiple` (≥ 1) and at least
/// `multiple`, and they add up to `total` (which must be ≥ groups·multiple and a multiple of
/// `multiple`). Deterministic.
std::vector<std::int64_t> uneven_split(std::int64_t total, int groups, std::uint64_t seed,
                                       std::int64_t multiple);

/// The N×K of the model-layer GEMMs, M is the number of tokens (chosen per device).
/// DeepSeek-V3 (hidden 7168, q_lora_rank 1536, kv_lora_rank 512, 128 heads with qk_nope 128,
/// qk_rope 64, v_head 128, expert ffn 2048: DESIGN.md model example, DeepSeek-V3 config.json);
/// these are the N×K of the DeepGEMM README table (docs/reference/published-runs.md D2).
/// Llama 3 70B (hidden 8192, ffn 28672, 64 query and 8 KV heads of 128, Llama 3 paper
/// arXiv:2407.21783 Table 3) with tensor parallelism 8 (Megatron column/row split).
struct LayerGemm {
  const char* name;
  std::int64_t n, k;
};
inline constexpr LayerGemm kModelLayerGemms[] = {
    {"dsv3_q_a_kv_a", 2112, 7168},        // 1536 + 512 + 64 from hidden
    {"dsv3_q_b", 24576, 1536},            // 128 heads × 192
    {"dsv3_kv_b", 32768, 512},            // 128 heads × (128 + 128)
    {"dsv3_o_proj", 7168, 16384},         // 128 heads × 128 → hidden
    {"dsv3_expert_gate_up", 4096, 7168},  // 2 × 2048
    {"dsv3_expert_down", 7168, 2048},
    {"llama3_70b_qkv_tp8", 1280, 8192},      // (64 + 2·8)·128 / 8
    {"llama3_70b_o_tp8", 8192, 1024},        // 64·128 / 8 → hidden
    {"llama3_70b_gate_up_tp8", 7168, 8192},  // 2 × 28672 / 8
    {"llama3_70b_down_tp8", 8192, 3584},     // 28672 / 8 → hidden
};

std::vector<NamedGemm> gpu_gemm_shapes(bool quick);
std::vector<NamedGemm> cpu_gemm_shapes(bool quick);
std::vector<NamedGrouped> gpu_grouped_shapes(bool quick);
std::vector<NamedGrouped> cpu_grouped_shapes(bool quick);
std::vector<NamedAttention> gpu_attention_shapes(bool quick);
std::vector<NamedAttention> cpu_attention_shapes(bool quick);

/// FLOPs of one call, the conventions of README.md: 2·m·n·k per GEMM, 4·s²·d·h·b for attention
/// forward, halved when causal (FlashAttention-2 paper convention, published-runs.md D3).
inline double gemm_flops(const GemmShape& s) {
  return 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
}
inline double grouped_gemm_flops(const GroupedGemmShape& s) {
  return 2.0 * static_cast<double>(s.total_m()) * static_cast<double>(s.n) *
         static_cast<double>(s.k);
}
inline double attention_flops(const AttentionShape& s) {
  const double full = 4.0 * static_cast<double>(s.seq) * static_cast<double>(s.seq) *
                      static_cast<double>(s.head_dim) * static_cast<double>(s.heads) *
                      static_cast<double>(s.batch);
  return s.causal ? full / 2.0 : full;
}

}  // namespace clustercost::probe
