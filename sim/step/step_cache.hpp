#pragma once
/// What a series of step evaluations can share: the cluster topology and the sampled MoE
/// routing. A sweep, `plan`, the GUI's what-ifs and `bench` evaluate many scenarios that differ
/// in a price, a batch size or a GPU count; rebuilding a 2,048-GPU topology and re-routing every
/// token of a DeepSeek-V3 EP group (64 ranks × 4,096 tokens × top-8, sim/moe/routing.hpp) for
/// each of them is most of an analytical step's time, although neither depends on what changed.
///
/// Each entry is keyed by every input it depends on (TopologyConfig::same_network,
/// RoutingSetup::same_samples), so a cached result is exactly what a fresh build gives: the
/// cache changes the speed, never an output (tests pin that). Files a routing setup names
/// (histogram, placement) are assumed unchanged for the cache's lifetime.
///
/// An explicit object owned by its caller (no global state); not thread-safe: one per thread.
/// Bounded: the oldest entries go first once `capacity` distinct keys are held.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "hardware/topology/topology.hpp"
#include "sim/moe/routing.hpp"
#include "sim/scenario/scenario.hpp"

namespace clustercost {

class StepCache {
 public:
  explicit StepCache(std::size_t capacity = 8) : capacity_(capacity == 0 ? 1 : capacity) {}

  /// The topology of `s`'s cluster (build_topology(s)), built once per distinct network.
  const Topology& topology(const Scenario& s);
  /// model.sample(moe_layer, micro_batch), routed once per distinct routing setup.
  const RoutingSample& routing_sample(const RoutingModel& model, int moe_layer,
                                      std::int64_t micro_batch);

  struct Stats {
    std::uint64_t topology_hits = 0, topology_builds = 0;
    std::uint64_t routing_hits = 0, routing_samples = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct RoutingEntry {
    RoutingSetup setup;
    int moe_layer = 0;
    std::int64_t micro_batch = 0;
    RoutingSample sample;
  };
  std::size_t capacity_;
  // unique_ptr: references handed out stay valid while later entries are added.
  std::vector<std::unique_ptr<Topology>> topologies_;
  std::vector<std::unique_ptr<RoutingEntry>> samples_;
  Stats stats_;
};

}  // namespace clustercost
