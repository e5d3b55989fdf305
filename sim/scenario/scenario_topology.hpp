#pragma once
/// The cluster graph a scenario describes: the catalogue's node and GPU defaults with
/// `cluster.network` on top (both step models and the MoE traffic model build it this way).

#include "hardware/topology/topology.hpp"
#include "sim/scenario/scenario.hpp"

namespace clustercost {

/// The network configuration of the scenario's cluster (catalogue defaults + `cluster.network`).
TopologyConfig scenario_topology_config(const Scenario& s);
/// The topology of the scenario's cluster: Topology(scenario_topology_config(s)).
Topology build_topology(const Scenario& s);

}  // namespace clustercost
