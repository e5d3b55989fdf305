#pragma once
/// The analytical step model (`fidelity: "analytical"`): per-operator kernel times from the
/// EfficiencyProfile, α-β collective costs over the scale-up and scale-out fabrics, the
/// pipeline bubble of the chosen schedule, and the memory footprint. Formulas and their sources
/// are in analytical_step.cpp; the discrete-event engine refines the same quantities.

#include "sim/scenario/scenario.hpp"
#include "sim/step/step_result.hpp"

namespace clustercost {

StepResult simulate_step_analytical(const Scenario& s);

struct MoeCosts;
/// As above with the expert-parallel costs priced elsewhere (the DES passes flow-level ones);
/// null: sampled α-β costs when needs_routing_samples(s, false), else the uniform closed form.
StepResult simulate_step_analytical(const Scenario& s, const MoeCosts* moe);

/// α-β time of a ring all-reduce of `bytes` over `n` ranks with per-rank bandwidth
/// `bytes_per_s` and per-hop latency `alpha`: 2(n−1)/n·S/B + 2(n−1)·α.
Seconds ring_allreduce_time(Bytes bytes, int n, double bytes_per_s, Seconds alpha);
/// Ring reduce-scatter or all-gather: (n−1)/n·S/B + (n−1)·α.
Seconds ring_gather_time(Bytes bytes, int n, double bytes_per_s, Seconds alpha);

/// Expected number of distinct nodes hit by `top_k` distinct experts drawn uniformly from
/// `experts` spread evenly over `nodes` nodes (hypergeometric), capped at `node_limit` (0: none).
double expected_distinct_nodes(int experts, int nodes, int top_k, int node_limit);

}  // namespace clustercost
