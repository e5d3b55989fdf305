#pragma once
// The shipped catalogue's network for the collective tests: a GPU type on whole nodes of its
// default node, with its shipped profile's fabric efficiencies.

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "hardware/efficiency/efficiency_profile.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/network/analytical.hpp"
#include "tests/common/test_paths.hpp"

namespace clustercost::test {

/// The data folder (CLUSTERCOST_DATA_DIR when set, else the repository's).
inline std::filesystem::path network_data_dir() {
  if (const char* env = std::getenv("CLUSTERCOST_DATA_DIR")) return env;
  return data_root();
}

/// Ranks first .. first + n - 1.
inline std::vector<int> gpu_range(int n, int first = 0) {
  std::vector<int> g;
  for (int i = 0; i < n; ++i) g.push_back(first + i);
  return g;
}

struct ShippedNetwork {
  Topology topo;
  FabricEfficiency eff;
  GpuSpec gpu;
};

/// `gpu_name` from the shipped catalogue on `nodes` of its default node (8 GPUs each), at its
/// shipped profile's network efficiencies; `net` overrides the catalogue's network figures.
inline ShippedNetwork shipped_network(const char* gpu_name, int nodes, NetworkOverrides net = {}) {
  const Catalog catalog = Catalog::load(network_data_dir() / "hardware" / "catalog");
  const GpuSpec* gpu = catalog.find_gpu(gpu_name);
  if (!gpu) throw std::runtime_error(std::string("no GPU ") + gpu_name);
  const NodeSpec* node = catalog.find_node(gpu->default_node);
  const EfficiencyProfile p =
      load_default_profile(network_data_dir() / "hardware" / "profiles", *gpu);
  FabricEfficiency eff;
  eff.scale_up = p.network.scale_up;
  eff.scale_out = p.network.scale_out;
  eff.nvls = p.network.nvls;
  return ShippedNetwork{Topology(topology_config_from(*gpu, node, 8 * nodes, 0, net)), eff, *gpu};
}

}  // namespace clustercost::test
