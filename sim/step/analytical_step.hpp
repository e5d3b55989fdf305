#pragma once
/// The analytical step model (`fidelity: "analytical"`): the closed form over the op program
/// (sim/program/op_program.hpp) priced by sim/step/program_cost.hpp: per stage and micro-batch
/// the sums of its passes, the schedule's formula for bubbles and overlap, and the memory the
/// program keeps in flight as the schedule runs. The DES (sim/workload/des_step.hpp) reads the
/// same priced program.

#include <optional>

#include "sim/program/schedule.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/step/moe_costs.hpp"
#include "sim/step/program_cost.hpp"
#include "sim/step/step_result.hpp"

namespace clustercost {

StepResult simulate_step_analytical(const Scenario& s);
/// As above with the expert-parallel costs priced elsewhere (the DES passes flow-level ones);
/// null: sampled routing priced α-β on the topology.
StepResult simulate_step_analytical(const Scenario& s, const MoeCosts* moe);
/// As simulate_step_analytical(s), with the topology and routing samples kept in `cache` for
/// the next calls (sweeps, plan, bench); the result is the same.
StepResult simulate_step_analytical(const Scenario& s, StepCache& cache);

/// The program of a scenario and its prices.
struct PricedStep {
  StepProgram program;
  ProgramPrice price;
  const MoeCosts* external_moe = nullptr;  ///< EP costs the caller priced
  std::optional<MoeCosts> own_moe;         ///< when price_step sampled them itself
  /// The EP costs used (null: no expert parallelism).
  const MoeCosts* moe() const { return own_moe ? &*own_moe : external_moe; }
};
/// Builds and prices the program; `moe` null: sampled α-β EP costs for MoE with ep > 1 (their
/// routing samples from `cache` when given).
PricedStep price_step(const Scenario& s, const Topology& topo, const MoeCosts* moe,
                      StepCache* cache = nullptr);
/// The analytical step of a priced program.
StepResult step_from_price(const Scenario& s, const PricedStep& priced);

/// The program order a scenario's schedule runs: interleaved with micro-batches not a multiple
/// of pp, and DualPipe outside its domain (dualpipe_supported), run as 1F1B, with a warning
/// appended to `warnings` when given.
PipelineOrder scenario_pipeline_order(const Scenario& s, std::vector<std::string>* warnings);

/// Micro-batches in flight at a rank's peak, counted by walking its schedule program: of its own
/// stage, and under DualPipe of the mirrored stage p−1−rank (whose activations per micro-batch
/// are `mirror`). Interleaved: in units of the rank's whole stage (vpp chunks).
struct InFlight {
  double own = 0, mirror = 0;
};
InFlight max_in_flight(const Scenario& s, int rank, Bytes own, Bytes mirror);

}  // namespace clustercost
