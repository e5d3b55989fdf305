#pragma once
/// The ops `probe --scenario` times: one entry per distinct compute op (name + shape + dtype) of
/// one micro-batch of one layer of each layer kind of a scenario's op program. The main tree
/// builds the list from the op program (sim/program/probe_plan.hpp); the probe (CPU twin or the
/// CUDA plugin) runs it. Standard library only, like the rest of the probe's interface, so the
/// CUDA plugin and a standalone probe build can use it.

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "hardware/probe/measurement.hpp"

namespace clustercost::probe {

/// One op to time, at the size to measure (already scaled down when it had to be).
struct ScenarioOp {
  std::string kind;  ///< gemm | grouped_gemm | attention | memory
  std::string name;  ///< as in the op program ("attn.q_up", "moe.experts.up")
  ScenarioOpInfo info;
  GemmShape gemm;                 ///< gemm: m×n×k of this role's product
  GroupedGemmShape grouped;       ///< grouped_gemm: per-expert rows (sampled, uneven)
  AttentionShape attention;       ///< attention: batch, local heads, seq, head dim
  /// memory: HBM bytes the op moves (op program, after scaling) and the width of one row (the
  /// hidden size, a vocabulary shard, ...), so row-wise kernels run on rows of the real width.
  std::int64_t bytes = 0;
  std::int64_t width = 0;
  std::string fp8_recipe;         ///< fp8_cast: "tilewise" (1×128 scales) or "delayed" (per tensor)
  int top_k = 0;                  ///< routing (unpermute): copies summed per token
};

struct ScenarioProbePlan {
  ScenarioProbeInfo scenario;
  std::vector<ScenarioOp> ops;
  /// Ops of the program that are not timed, with the reason (none for a complete plan).
  std::vector<std::string> skipped;
};

/// The first line of a plan file.
inline constexpr const char* kScenarioPlanFormat = "clustercost.probe-plan/1";

/// A plan as text (one line per op, key=value tokens): what `clustercost probe --scenario S
/// --write-plan F` writes and `clustercost-probe --plan F` runs, so a GPU machine with only the
/// probe (no Boost, Eigen or nlohmann: hardware/probe builds on its own) measures a scenario's
/// ops. Shipped plans live in hardware/probe/plans/ (tests check they match the scenarios).
std::string write_scenario_plan(const ScenarioProbePlan& plan);
/// Parses write_scenario_plan's text; errors (std::runtime_error) name file and line.
ScenarioProbePlan parse_scenario_plan(const std::string& content, const std::string& file);

}  // namespace clustercost::probe
