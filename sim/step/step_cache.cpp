#include "sim/step/step_cache.hpp"

#include <utility>

#include "sim/scenario/scenario_topology.hpp"

namespace clustercost {

const Topology& StepCache::topology(const Scenario& s) {
  TopologyConfig cfg = scenario_topology_config(s);
  for (const auto& t : topologies_)
    if (t->config().same_network(cfg)) {
      ++stats_.topology_hits;
      return *t;
    }
  ++stats_.topology_builds;
  if (topologies_.size() >= capacity_) topologies_.erase(topologies_.begin());
  topologies_.push_back(std::make_unique<Topology>(std::move(cfg)));
  return *topologies_.back();
}

const RoutingSample& StepCache::routing_sample(const RoutingModel& model, int moe_layer,
                                               std::int64_t micro_batch) {
  for (const auto& e : samples_)
    if (e->moe_layer == moe_layer && e->micro_batch == micro_batch &&
        e->setup.same_samples(model.setup())) {
      ++stats_.routing_hits;
      return e->sample;
    }
  ++stats_.routing_samples;
  // Up to `capacity` setups, each with its sampled layers (DeepSeek-V3: 4 per setup).
  if (samples_.size() >= capacity_ * 16) samples_.erase(samples_.begin());
  auto e = std::make_unique<RoutingEntry>();
  e->setup = model.setup();
  e->moe_layer = moe_layer;
  e->micro_batch = micro_batch;
  e->sample = model.sample(moe_layer, micro_batch);
  samples_.push_back(std::move(e));
  return samples_.back()->sample;
}

}  // namespace clustercost
