#include "hardware/probe/shapes.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string_view>

#include "hardware/probe/data_gen.hpp"

namespace clustercost::probe {

std::vector<std::int64_t> uneven_split(std::int64_t total, int groups, std::uint64_t seed,
                                       std::int64_t multiple) {
  if (groups <= 0 || multiple <= 0 || total % multiple != 0 || total < groups * multiple) {
    throw std::invalid_argument(
        "uneven_split: total must be a multiple of `multiple` and at "
        "least groups·multiple");
  }
  const std::int64_t units = total / multiple;
  const std::int64_t spare = units - groups;  // every group gets one unit first
  std::vector<double> w(static_cast<std::size_t>(groups));
  for (int g = 0; g < groups; ++g) {
    // Uniform in [0.35, 1.65): the most loaded expert gets up to ~4.7× the least loaded, the
    // order of skew routers show before balancing (DeepSeek-V3 report §2.1.2 discusses it).
    const double u = static_cast<double>(random_bits(seed, static_cast<std::uint64_t>(g)) >> 11) *
                     (1.0 / 9007199254740992.0);
    w[static_cast<std::size_t>(g)] = 0.35 + 1.3 * u;
  }
  const double wsum = std::accumulate(w.begin(), w.end(), 0.0);
  std::vector<std::int64_t> units_of(static_cast<std::size_t>(groups), 1);
  std::vector<std::pair<double, int>> remainders;
  std::int64_t given = 0;
  for (int g = 0; g < groups; ++g) {
    const double share = static_cast<double>(spare) * w[static_cast<std::size_t>(g)] / wsum;
    const auto whole = static_cast<std::int64_t>(share);
    units_of[static_cast<std::size_t>(g)] += whole;
    given += whole;
    remainders.emplace_back(share - static_cast<double>(whole), g);
  }
  // Largest remainders get the units left by flooring; ties go to the lower index.
  std::sort(remainders.begin(), remainders.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  for (std::int64_t i = 0; i < spare - given; ++i) {
    ++units_of[static_cast<std::size_t>(remainders[static_cast<std::size_t>(i % groups)].second)];
  }
  std::vector<std::int64_t> sizes;
  sizes.reserve(units_of.size());
  for (auto u : units_of) sizes.push_back(u * multiple);
  return sizes;
}

namespace {

std::vector<NamedGemm> layer_shapes(std::int64_t dsv3_tokens, std::int64_t llama_tokens) {
  std::vector<NamedGemm> r;
  for (const LayerGemm& l : kModelLayerGemms) {
    const bool dsv3 = std::string_view(l.name).rfind("dsv3", 0) == 0;
    r.push_back({l.name, GemmShape{dsv3 ? dsv3_tokens : llama_tokens, l.n, l.k}});
  }
  return r;
}

NamedGemm square(std::int64_t s) { return {"square_" + std::to_string(s), GemmShape{s, s, s}}; }

}  // namespace

std::vector<NamedGemm> gpu_gemm_shapes(bool quick) {
  if (quick) {
    return {square(2048),
            square(4096),
            {"dsv3_o_proj", GemmShape{4096, 7168, 16384}},
            {"llama3_70b_gate_up_tp8", GemmShape{8192, 7168, 8192}}};
  }
  std::vector<NamedGemm> r = {square(1024), square(2048), square(4096), square(8192),
                              square(16384)};
  // Best shapes of the Maximum Achievable Matmul FLOPS sweeps (published-runs.md D1).
  r.push_back({"mamf_h100_best", GemmShape{2048, 2048, 13312}});
  r.push_back({"mamf_a100_best", GemmShape{1024, 10240, 5120}});
  r.push_back({"mamf_h100_older_best", GemmShape{6144, 17920, 2816}});
  // DeepGEMM measured M = 4096 tokens; a Llama 3 70B micro-batch is one 8192-token sequence.
  for (auto& s : layer_shapes(4096, 8192)) r.push_back(std::move(s));
  return r;
}

std::vector<NamedGemm> cpu_gemm_shapes(bool quick) {
  if (quick) {
    // Enough shapes per dtype to fit and check calibrate's three CPU GEMM terms (arithmetic,
    // packing of the k×n operand, fixed time: GemmForm::Serial): squares where the arithmetic
    // dominates, and two layers with few tokens (16 and 48: the k×n term is the same for any
    // token count, the arithmetic grows with it) where packing dominates. About 1 s of CPU.
    return {square(128),
            square(256),
            square(512),
            {"dsv3_expert_down", GemmShape{16, 7168, 2048}},
            {"llama3_70b_o_tp8", GemmShape{48, 8192, 1024}}};
  }
  std::vector<NamedGemm> r = {square(256), square(512), square(1024), square(2048)};
  // The real layer N×K with few tokens: a CPU cannot do 4096-token layers in reasonable time.
  for (auto& s : layer_shapes(64, 64)) r.push_back(std::move(s));
  return r;
}

std::vector<NamedGrouped> gpu_grouped_shapes(bool quick) {
  // DeepGEMM grouped-contiguous rows: groups of 4096 tokens, each group padded to 128 rows
  // (published-runs.md D2); here the same total is split unevenly over the experts.
  if (quick) {
    return {{"dsv3_moe_gate_up_4x", GroupedGemmShape{4096, 7168, uneven_split(8192, 4, 11, 128)}}};
  }
  const auto split = uneven_split(32768, 8, 11, 128);
  return {{"dsv3_moe_gate_up_8x", GroupedGemmShape{4096, 7168, split}},
          {"dsv3_moe_down_8x", GroupedGemmShape{7168, 2048, split}}};
}

std::vector<NamedGrouped> cpu_grouped_shapes(bool quick) {
  if (quick) return {{"moe_small_4x", GroupedGemmShape{1024, 512, uneven_split(64, 4, 11, 4)}}};
  return {{"dsv3_moe_down_4x", GroupedGemmShape{7168, 2048, uneven_split(128, 4, 11, 8)}}};
}

std::vector<NamedAttention> gpu_attention_shapes(bool quick) {
  if (quick) return {{"s2048_h8", AttentionShape{2048, 8, 128, 1, true}}};
  // Llama 3 70B with TP 8: 64/8 = 8 query heads per GPU, one 8192-token sequence.
  return {{"llama3_70b_tp8_s8192", AttentionShape{8192, 8, 128, 1, true}},
          {"s4096_h16_b4", AttentionShape{4096, 16, 128, 4, true}}};
}

std::vector<NamedAttention> cpu_attention_shapes(bool quick) {
  if (quick) return {{"s256_h2_d64", AttentionShape{256, 2, 64, 1, true}}};
  return {{"s1024_h4", AttentionShape{1024, 4, 128, 1, true}},
          {"s2048_h2", AttentionShape{2048, 2, 128, 1, true}}};
}

}  // namespace clustercost::probe
