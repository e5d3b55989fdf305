#pragma once
/// The discrete-event step model (`fidelity: "des"`): one training step simulated operation by
/// operation on the streams of one pipeline's GPUs and on the network links its transfers cross.
///
/// Per-stage, per-micro-batch costs (forward, backward, weight gradient, exposed TP and EP
/// collectives, DP gradient reduction and parameter gather, optimizer) are those of the
/// analytical model (simulate_step_analytical), so both fidelities price the same kernels; what
/// the DES adds is their arrangement in time: the schedule's program order on each stage, the
/// pipeline transfers as flows over the Topology (max-min shared links), and DP collectives
/// overlapping backward. Bubbles, exposed PP and DP communication are measured on the critical
/// stage's compute stream (pipeline_sim.hpp).
///
/// Scale by structure: only the pipeline of data-parallel replica 0, TP/CP rank 0 is simulated.
/// The other replicas and TP peers run the same program at the same time under uniform routing;
/// their transfers are accounted for by dividing each link's capacity by the number of identical
/// transfers that cross it (ECMP route collisions included). MoE layers are priced from sampled
/// routing (sim/step/moe_costs.hpp): skew and routing limits make the busiest EP rank set each
/// layer's expert compute, and dispatch/combine run as flow-level all-to-alls on the topology;
/// the result is in StepResult::moe. Stragglers of other kinds are not modelled.

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
  /// GPU id of each simulated stage (replica 0, TP/CP rank 0), in stage order.
  std::vector<int> stage_gpu;
};

struct DesOptions {
  /// Keep every task's timing in run.task_records (for `clustercost trace`).
  bool record_tasks = false;
};

/// Simulates one step. Errors as simulate_step_analytical (InputError, InfeasibleError).
DesStep simulate_step_des_detailed(const Scenario& s);
DesStep simulate_step_des_detailed(const Scenario& s, const DesOptions& options);
/// simulate_step_des_detailed(s).result: fidelity "des".
StepResult simulate_step_des(const Scenario& s);

}  // namespace clustercost
