// Microbenchmarks of the discrete-event core and the flow-level network model.
//
//   cc_engine_bench [--benchmark_filter=Hold]
//
// Hold model (Jones, "An empirical comparison of priority-queue and event-set implementations",
// CACM 29(4), 1986): the queue holds N events; each step pops the earliest and pushes one at a
// random later time, so the size stays N. items_per_second = events per second.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <limits>
#include <queue>
#include <vector>

#include "sim/engine/engine.hpp"
#include "sim/engine/event_queue.hpp"
#include "sim/network/flow_model.hpp"

using namespace clustercost;

namespace {

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast generator, so the benchmark measures the
/// queue rather than the random numbers.
struct SplitMix {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform delay in [1, 2^20] ns (~1 ms): many distinct times, some ties.
  std::int64_t delay() { return static_cast<std::int64_t>(next() >> 44) + 1; }
};

/// The queue alone: pop + push per item.
void BM_EventQueueHold(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  EventQueue q;
  SplitMix rng{1};
  std::uint64_t seq = 1;
  auto make = [&](std::int64_t t) {
    Event e;
    e.time = SimTime{t};
    e.order = (static_cast<std::uint64_t>(Priority::kDefault) << Event::kPriorityShift) | seq++;
    return e;
  };
  for (std::size_t i = 0; i < n; ++i) q.push(make(rng.delay()), false);
  std::int64_t events = 0;
  for (auto _ : state) {
    q.peek();
    const Event e = q.pop();
    q.push(make(e.time.ns + rng.delay()), false);
    ++events;
  }
  state.SetItemsProcessed(events);
}
BENCHMARK(BM_EventQueueHold)->Arg(10000)->Arg(1000000);

/// Baseline on the same machine: std::priority_queue (a binary heap) with the same records.
void BM_StdPriorityQueueHold(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto later = [](const Event& a, const Event& b) { return b < a; };
  std::priority_queue<Event, std::vector<Event>, decltype(later)> q(later);
  SplitMix rng{1};
  std::uint64_t seq = 1;
  auto make = [&](std::int64_t t) {
    Event e;
    e.time = SimTime{t};
    e.order = (static_cast<std::uint64_t>(Priority::kDefault) << Event::kPriorityShift) | seq++;
    return e;
  };
  for (std::size_t i = 0; i < n; ++i) q.push(make(rng.delay()));
  std::int64_t events = 0;
  for (auto _ : state) {
    const Event e = q.top();
    q.pop();
    q.push(make(e.time.ns + rng.delay()));
    ++events;
  }
  state.SetItemsProcessed(events);
}
BENCHMARK(BM_StdPriorityQueueHold)->Arg(10000)->Arg(1000000);

/// Reschedules the event it handles at a random later time.
struct HoldHandler : EventHandler {
  EventKind kind = 0;
  SplitMix rng{2};
  void handle(const Event& e, Engine& engine) override {
    engine.schedule_in(SimTime{rng.delay()}, kind, e.target, e.payload);
  }
};

/// The whole engine: pop, fingerprint, virtual dispatch to a handler, push.
void BM_EngineHold(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  Engine engine;
  HoldHandler h;
  h.kind = engine.register_handler(h, "hold");
  for (std::uint32_t i = 0; i < n; ++i) engine.schedule_at(SimTime{h.rng.delay()}, h.kind, i);
  constexpr std::uint64_t kBatch = 1 << 14;
  std::int64_t events = 0;
  for (auto _ : state) {
    events += static_cast<std::int64_t>(
        engine.run(kBatch, std::numeric_limits<double>::infinity()).events_executed);
  }
  state.SetItemsProcessed(events);
  state.counters["peak_queue"] = static_cast<double>(engine.stats().peak_queue_size);
}
BENCHMARK(BM_EngineHold)->Arg(10000)->Arg(1000000)->Unit(benchmark::kMillisecond);

/// A two-tier leaf/spine network: `hosts_per_leaf` hosts per leaf, `spines` spines, full-duplex
/// 50 GB/s host links (400 Gb/s NICs) and 100 GB/s leaf-spine links, 1 us per hop.
struct LeafSpine {
  std::uint32_t leaves;
  std::uint32_t hosts_per_leaf;
  std::uint32_t spines;
  std::vector<LinkId> host_up, host_down, leaf_up, leaf_down;  // leaf_*: [leaf * spines + spine]

  LeafSpine(FlowModel& net, std::uint32_t l, std::uint32_t h, std::uint32_t s)
      : leaves(l), hosts_per_leaf(h), spines(s) {
    const SimTime hop = SimTime::microseconds(1);
    for (std::uint32_t i = 0; i < l * h; ++i) {
      host_up.push_back(net.add_link(50e9, hop));
      host_down.push_back(net.add_link(50e9, hop));
    }
    for (std::uint32_t i = 0; i < l * s; ++i) {
      leaf_up.push_back(net.add_link(100e9, hop));
      leaf_down.push_back(net.add_link(100e9, hop));
    }
  }
  std::vector<LinkId> path(std::uint32_t a, std::uint32_t b, std::uint32_t spine) const {
    const std::uint32_t la = a / hosts_per_leaf;
    const std::uint32_t lb = b / hosts_per_leaf;
    if (la == lb) return {host_up[a], host_down[b]};
    return {host_up[a], leaf_up[la * spines + spine], leaf_down[lb * spines + spine], host_down[b]};
  }
};

struct CountingSink : CompletionSink {
  std::uint64_t done = 0;
  void on_complete(std::uint64_t, Engine&) override { ++done; }
};

/// Starts flows at their start times.
struct FlowStarter : EventHandler {
  FlowModel* net = nullptr;
  CompletionSink* sink = nullptr;
  EventKind kind = 0;
  std::vector<std::vector<LinkId>> paths;
  std::vector<double> bytes;
  void handle(const Event& e, Engine&) override {
    net->start_flow(Bytes(bytes[e.target]), paths[e.target], sink, e.target);
  }
};

/// `flows` random host-to-host flows on a leaf/spine network, run to completion.
/// Arg 1: 0 = all start at once (a collective burst), 1 = staggered random starts over 10 ms
/// (every start and end triggers a recomputation).
/// Arg 2: 0 = 128 leaves x 8 hosts x 16 spines (4096 links), random sizes 1..64 MB;
///        1 = 2048 leaves x 16 hosts x 8 spines (98304 links), equal 16 MB sizes (an
///        all-to-all-like burst: many flows share a rate and end together).
void BM_FlowModel(benchmark::State& state) {
  const auto n_flows = static_cast<std::uint32_t>(state.range(0));
  const bool staggered = state.range(1) != 0;
  const bool large = state.range(2) != 0;
  FlowModelStats last{};
  std::uint64_t events = 0;
  for (auto _ : state) {
    Engine engine;
    FlowModel net(engine);
    LeafSpine topo = large ? LeafSpine(net, 2048, 16, 8) : LeafSpine(net, 128, 8, 16);
    CountingSink sink;
    FlowStarter starter;
    starter.net = &net;
    starter.sink = &sink;
    starter.kind = engine.register_handler(starter, "start");
    SplitMix rng{3};
    const std::uint32_t hosts = topo.leaves * topo.hosts_per_leaf;
    for (std::uint32_t i = 0; i < n_flows; ++i) {
      const auto a = static_cast<std::uint32_t>(rng.next() % hosts);
      auto b = static_cast<std::uint32_t>(rng.next() % hosts);
      if (b == a) b = (b + 1) % hosts;
      const auto spine = static_cast<std::uint32_t>(rng.next() % topo.spines);
      starter.paths.push_back(topo.path(a, b, spine));
      starter.bytes.push_back(large ? 16e6 : static_cast<double>(1 + rng.next() % 64) * 1e6);
      const SimTime at = staggered ? SimTime{static_cast<std::int64_t>(rng.next() % 10000000)}
                                   : SimTime::zero();
      engine.schedule_at(at, starter.kind, i);
    }
    engine.run();
    if (sink.done != n_flows) state.SkipWithError("not every flow completed");
    last = net.stats();
    events += engine.stats().events_executed;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * n_flows);
  state.counters["recomputations"] = static_cast<double>(last.recomputations);
  state.counters["flows_resolved_per_recompute"] =
      last.recomputations > 0
          ? static_cast<double>(last.flows_resolved) / static_cast<double>(last.recomputations)
          : 0.0;
  state.counters["max_flows_resolved"] = static_cast<double>(last.max_flows_resolved);
  state.counters["links"] = large ? 98304.0 : 4096.0;
  state.counters["events"] =
      static_cast<double>(events) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_FlowModel)
    ->Args({10000, 0, 0})
    ->Args({10000, 1, 0})
    ->Args({100000, 0, 1})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
