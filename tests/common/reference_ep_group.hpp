#pragma once
// The expert-parallel group the routing tests and the microbenchmarks (tests/bench) share.

#include <cstdint>

#include "sim/moe/routing.hpp"

namespace clustercost::test {

/// One DeepSeek-V3 EP64 group (arXiv 2412.19437 §3.1, §4.2: 256 routed experts, 1 shared,
/// top-8; 8 GPUs per node) with `tokens` tokens per rank.
inline RoutingSetup deepseek_v3_group(std::int64_t tokens = 4096) {
  RoutingSetup s;
  s.routed_experts = 256;
  s.top_k = 8;
  s.shared_experts = 1;
  s.ep = 64;
  s.ranks_per_node = 8;
  s.tokens_per_rank = tokens;
  s.seed = 7;
  return s;
}

}  // namespace clustercost::test
