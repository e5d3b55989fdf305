#pragma once
/// The discrete-event step model (`fidelity: "des"`): one training step simulated op by op —
/// every op of the op program on its GPU's streams, every collective as transfers on the
/// topology (sim/workload/op_sim.hpp has the rules).
///
/// Which GPUs: `simulation.ranks: "all"` simulates every GPU; by default one per pipeline stage
/// (TP, CP and DP rank 0), the others being identical under uniform routing and no per-GPU
/// variation (their flows still load the links); `cluster.variation` simulates every GPU and
/// repeats the step over seeded replicas (StepResult::step_time_p50/p90). The result says what
/// was simulated in its warnings. MoE layers are priced from sampled routing
/// (sim/step/moe_costs.hpp): the busiest EP rank sets each layer's expert compute, and
/// dispatch/combine take the flow-level all-to-all times of the sampled token matrices.

#include <string>
#include <vector>

#include "sim/scenario/scenario.hpp"
#include "sim/scenario/scenario_topology.hpp"
#include "sim/step/step_result.hpp"
#include "sim/workload/pipeline_sim.hpp"
#include "sim/workload/rank_layout.hpp"

namespace clustercost {

/// A DES step with its simulation statistics.
struct DesStep {
  StepResult result;
  /// Events, engine fingerprint, wall time, tasks, transfers, links of the simulation.
  PipelineRun run;
  /// Real time of the whole call: analytical costs, topology, link shares and simulation.
  double wall_seconds = 0;
  /// GPU id of each stage's TP/CP/DP rank 0, in stage order (run.gpus lists every simulated GPU).
  std::vector<int> stage_gpu;
};

struct DesOptions {
  /// Keep every task's timing in run.task_records (for `clustercost trace`).
  bool record_tasks = false;
};

/// Simulates one step. Errors as simulate_step_analytical (InputError, InfeasibleError), and
/// SimulationBudgetError past the simulation's task, event or wall-clock budget.
DesStep simulate_step_des_detailed(const Scenario& s);
DesStep simulate_step_des_detailed(const Scenario& s, const DesOptions& options);
/// simulate_step_des_detailed(s).result: fidelity "des".
StepResult simulate_step_des(const Scenario& s);

}  // namespace clustercost
