#pragma once
// Shared by the tests that read the shipped data (catalogue, presets, profiles, scenarios).

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "hardware/spec/catalog.hpp"
#include "sim/scenario/scenario.hpp"
#include "tests/common/test_paths.hpp"

namespace clustercost::test {


inline DataDirs data_dirs() { return DataDirs{data_root()}; }

/// The shipped catalogue, loaded once per test binary (read-only fixture data).
inline const Catalog& shipped_catalog() {
  static const Catalog c = Catalog::load(data_dirs().catalog());
  return c;
}

/// scenarios/NAME with `--set`-style overrides.
inline Scenario load_shipped(const std::string& name, const std::vector<std::string>& sets = {}) {
  return load_scenario(data_dirs().scenarios() / name, sets, shipped_catalog(), data_dirs());
}

/// Overrides that make communication free, so only compute and the pipeline remain.
inline std::vector<std::string> compute_only(std::vector<std::string> sets) {
  sets.push_back("cluster.network.scale_up_gbs_uni=1e12");
  sets.push_back("cluster.network.scale_out_gbps_per_gpu=1e13");
  return sets;
}

}  // namespace clustercost::test
