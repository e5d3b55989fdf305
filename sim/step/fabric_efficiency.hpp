#pragma once
/// The fabric efficiencies a scenario's collectives run at: its profile's `network` section as
/// the network layer's FabricEfficiency. The one place that translates one into the other; the
/// analytical pricing, the discrete-event simulator, the all-to-all model and `validate` call it.

#include "sim/network/analytical.hpp"
#include "sim/scenario/scenario.hpp"

namespace clustercost {

FabricEfficiency fabric_efficiency(const Scenario& s);

}  // namespace clustercost
