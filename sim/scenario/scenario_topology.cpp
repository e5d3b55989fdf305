#include "sim/scenario/scenario_topology.hpp"

#include <utility>

#include "hardware/topology/topology_config.hpp"

namespace clustercost {

TopologyConfig scenario_topology_config(const Scenario& s) {
  // The scenario's `cluster.network` as written: unset keys take the topology's own defaults
  // (e.g. 3 tiers when 2 cannot hold the cluster).
  return topology_config_from(s.gpu, s.node ? &*s.node : nullptr, static_cast<int>(s.cluster.gpus),
                              s.cluster.gpus_per_node, s.cluster.network_overrides);
}

Topology build_topology(const Scenario& s) { return Topology(scenario_topology_config(s)); }

}  // namespace clustercost
