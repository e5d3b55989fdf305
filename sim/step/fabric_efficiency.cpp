#include "sim/step/fabric_efficiency.hpp"

namespace clustercost {

FabricEfficiency fabric_efficiency(const Scenario& s) {
  FabricEfficiency eff;
  eff.scale_up = s.profile.network.scale_up;
  eff.scale_out = s.profile.network.scale_out;
  eff.nvls = s.profile.network.nvls;
  return eff;
}

}  // namespace clustercost
