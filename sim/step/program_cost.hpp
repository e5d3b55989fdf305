#pragma once
/// Prices an op program (sim/program/op_program.hpp): every compute op by its kernel class
/// (hardware/efficiency/kernel_cost.hpp), every collective by sim/network on the cluster's
/// topology (α-β on the routes of the real group: TP/CP/DP rings, PP point-to-point; EP
/// dispatch/combine from the sampled routing of sim/step/moe_costs.hpp). Nothing here computes
/// a bandwidth or a latency of its own.
///
/// The result is, per pipeline stage, the per-micro-batch and per-step sums both fidelities use,
/// and a per-op table (name, pass, category, time) for breakdowns and the DeepSeek profile check.

#include <map>
#include <string>
#include <vector>

#include "hardware/topology/topology.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/step/moe_costs.hpp"
#include "sim/program/op_program.hpp"

namespace clustercost {

/// Per stage, one micro-batch unless said otherwise.
struct StagePrice {
  Seconds forward;       ///< compute ops of the forward pass
  Seconds recompute;     ///< compute ops re-run before backward
  Seconds input_grad;    ///< compute ops of the input-gradient pass
  Seconds weight_grad;   ///< compute ops of the weight-gradient pass
  Seconds tp_forward, tp_backward;  ///< synchronous TP collectives (recompute's in backward)
  Seconds tp_hidden_exposed;        ///< async TP collectives not hidden behind their layer's
                                    ///< input-gradient compute (SP re-gathers)
  Seconds ep_forward, ep_backward;  ///< EP dispatch + combine (recompute's in backward)
  Seconds cp_exposed;               ///< CP ring exchange not hidden behind attention
  Seconds zero3_forward, zero3_backward;  ///< ZeRO-3 per-layer gathers (and, backward, the
                                         ///< gradient reduce-scatters) on the comm stream
  Seconds pp_send;                  ///< one PP transfer (activations or gradients)
  Seconds dp_reduce, dp_gather;     ///< per step: gradient reduce-scatter (all-reduce), gather
  bool dp_reduce_async = true, dp_gather_async = true;
  Seconds optimizer;                ///< per step
  double hw_flops = 0;              ///< hardware FLOPs per micro-batch (with recompute)
  /// Compute time per micro-batch by category (op_category_name; GEMMs split as
  /// "<category>.<precision>.<role>"), for breakdowns and the profile check.
  std::map<std::string, double> by_category;
  Seconds backward() const { return recompute + input_grad + weight_grad; }
};

struct ProgramPrice {
  std::vector<StagePrice> stages;
  /// SMs left to compute kernels (communication kernels hold software.comm_sms).
  double compute_fraction = 1.0;
};

ProgramPrice price_program(const Scenario& s, const StepProgram& program, const Topology& topo,
                           const MoeCosts* moe);

/// The fraction of SMs compute kernels get while communication kernels hold software.comm_sms
/// (sm_compute_fraction of grouped_gemm.hpp; 1 without reserved SMs).
double program_compute_fraction(const Scenario& s);

/// The compute time of one op (zero for collectives).
Seconds compute_op_time(const Scenario& s, const Op& op, double compute_fraction);

/// The time of an EP dispatch or combine op of MoE block `moe_index` (its sampled routing's
/// flow-level or α-β all-to-all; backward: half the sample's gradient all-to-alls); zero without
/// `moe` or for a block without a sample.
Seconds ep_collective_time(const Op& op, int moe_index, const MoeCosts* moe);

/// The routed load the program needs from sampled routing (the busiest rank's copies per
/// sampled MoE layer); empty when `moe` is null.
RoutedLoad routed_load(const MoeCosts* moe);

}  // namespace clustercost
