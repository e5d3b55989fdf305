#pragma once
/// What expert parallelism costs a step, from sampled routing rather than a uniform assumption:
/// for a few MoE layers (moe_routing.layer_samples), one micro-batch of the whole EP group is
/// routed (sim/moe/routing.hpp: skew, node/device limits, capacity, EPLB replicas), and
///  - the expert compute of every rank is timed as grouped GEMMs with its actual per-expert
///    token counts (hardware/efficiency/grouped_gemm.hpp); the busiest rank sets the pace, so
///    the layer costs (busiest − mean) more than the uniform model's expert compute;
///  - dispatch and combine run as all-to-alls on the cluster topology
///    (sim/network/all_to_all.hpp, `moe_routing.all_to_all` direct or hierarchical), at flow
///    level (DES) or as the α-β bottleneck estimate on the same routes (analytical).
/// Every MoE layer l uses the sample l mod K (K sampled layers): the layers' routers are
/// statistically alike under uniform/zipf/dirichlet popularity; a histogram samples every layer.
///
/// Backward: the gradient of the combine travels like a dispatch, the gradient of the dispatch
/// like a combine, both in BF16. Their times are the forward all-to-alls' scaled by the bytes
/// (bandwidth part) with the same latency: the routes and the flows' shares are the same.
///
/// Other EP groups: only EP group 0 of stage 0 is simulated; the groups of the other stages,
/// TP ranks and expert-data-parallel replicas run the same collective on other GPUs, and each
/// link's capacity is divided by the number of groups whose transfers cross it (as the pipeline
/// simulation does for its replicas): an upper bound on contention, since pipeline stages do
/// not all run their all-to-alls at the same moment.

#include <string>
#include <vector>

#include "hardware/topology/topology.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/step/step_cache.hpp"
#include "sim/step/step_result.hpp"

namespace clustercost {

/// Per-layer EP costs for the step models.
struct MoeCosts {
  /// One entry per sampled MoE layer (sample k is used by MoE layers k, k+K, ...).
  std::vector<MoeLayerSample> samples;
  /// Layer-level costs of sample k (one micro-batch).
  struct LayerCost {
    Seconds expert_fwd_extra, expert_bwd_extra;  // busiest rank − mean rank
    Seconds ep_fwd;                              // dispatch + combine
    Seconds ep_bwd;                              // their gradients
  };
  std::vector<LayerCost> cost;
  MoeSummary summary;
  const LayerCost& for_moe_layer(int moe_layer) const {
    return cost[static_cast<std::size_t>(moe_layer) % cost.size()];
  }
};

/// Samples the scenario's routing and prices it on `topo` (the scenario's cluster). `flow_level`:
/// all-to-alls simulated by the max-min flow model; else the α-β estimate on the same routes.
/// Requires an MoE model with ep > 1. Errors: InputError (routing files, settings).
/// `cache` (optional) keeps the routing samples for later calls (sim/step/step_cache.hpp).
MoeCosts moe_costs(const Scenario& s, const Topology& topo, bool flow_level,
                   StepCache* cache = nullptr);

/// True when the step models price EP from sampled routing: always for the DES; for the
/// analytical model when the routing is not the uniform default (skew, limits per device,
/// capacity, placement or replicas), where the closed form would miss what the user asked for.
bool needs_routing_samples(const Scenario& s, bool des);

}  // namespace clustercost
