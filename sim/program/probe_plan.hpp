#pragma once
/// What `clustercost probe --scenario` measures: the scenario's own kernels. From the op program
/// (op_program.hpp) of one micro-batch, one layer of each layer kind (embedding, dense, MoE, MTP,
/// LM head) and the per-step optimizer ops of stage 0 are taken; every distinct compute op (by
/// name, class, shape and precision) becomes one op to time, with its real shape:
///  - GEMMs by role (fprop, dgrad, wgrad) with their m×n×k;
///  - grouped expert GEMMs with uneven per-expert rows: the busiest EP rank's local experts'
///    token counts of one routing sample (sim/moe/routing.hpp, the scenario's imbalance),
///    rescaled to the op program's rows;
///  - fused attention (forward and backward) as batch × local heads × seq × head dim;
///  - memory-bound kernels by class, with the op program's bytes and a row width of the class.
/// Sizes that do not fit the device, or on the CPU twin would take too long, are scaled down along
/// the token dimension (attention: local heads first, a TP shard, then the sequence); each op
/// records how and by what factor (ScenarioOpInfo::scaled, scale).
///
/// Every compute op class of the selected layers appears in the plan (tests check it): the
/// probe measures what the cost model predicts, nothing predicted goes unmeasured.

#include <string>

#include "hardware/probe/scenario_ops.hpp"
#include "sim/program/op_program.hpp"

namespace clustercost {

struct ProbePlanOptions {
  std::string device = "cpu";  ///< "cpu" (the twin: time budgets) or "cuda" (memory budget)
  bool quick = false;          ///< smaller budgets (CI)
  std::string scenario_file;   ///< recorded in the plan
};

probe::ScenarioProbePlan scenario_probe_plan(const Scenario& s, const ProbePlanOptions& o);

/// The layer kind name the plan and the measurements use: "embedding", "dense", "moe", "mtp",
/// "head".
const char* probe_layer_name(LayerKind k);

}  // namespace clustercost
