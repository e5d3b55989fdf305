#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <vector>

#include "sim/engine/engine.hpp"
#include "sim/engine/task_graph.hpp"
#include "sim/network/flow_model.hpp"

using namespace clustercost;

namespace {

constexpr double kGBps = 1e9;  // bytes/s

SimTime seconds(double s) { return SimTime::from_seconds(Seconds(s)); }

/// Records when each token completed.
struct Sink : CompletionSink {
  std::map<std::uint64_t, SimTime> done;
  std::vector<std::uint64_t> order;
  void on_complete(std::uint64_t token, Engine& engine) override {
    EXPECT_EQ(done.count(token), 0u) << "token " << token << " completed twice";
    done[token] = engine.now();
    order.push_back(token);
  }
};

/// Starts flows at scheduled times (event target = index into `pending`).
struct Starter : EventHandler {
  struct Pending {
    double bytes;
    std::vector<LinkId> path;
    std::uint64_t token;
    double cap;
  };
  FlowModel* model = nullptr;
  CompletionSink* sink = nullptr;
  EventKind kind = 0;
  std::vector<Pending> pending;
  std::map<std::uint64_t, FlowId> started;
  void at(Engine& engine, SimTime t, Pending p) {
    pending.push_back(std::move(p));
    engine.schedule_at(t, kind, static_cast<std::uint32_t>(pending.size() - 1));
  }
  void handle(const Event& e, Engine&) override {
    const Pending& p = pending[e.target];
    started[p.token] = model->start_flow(Bytes(p.bytes), p.path, sink, p.token, p.cap);
  }
};

void expect_time(SimTime actual, double expected_s, const char* what) {
  EXPECT_NEAR(static_cast<double>(actual.ns), expected_s * 1e9, 2.0) << what;
}

}  // namespace

TEST(FlowModel, OneFlowTakesLatencyPlusBytesOverCapacity) {
  Engine engine;
  FlowModel net(engine);
  const LinkId a = net.add_link(10 * kGBps, SimTime::microseconds(2));
  const LinkId b = net.add_link(25 * kGBps, SimTime::microseconds(3));
  Sink sink;
  const FlowId f = net.start_flow(Bytes(1e7), {a, b}, &sink, 7);
  EXPECT_EQ(net.state(f), FlowState::kLatency);
  EXPECT_EQ(net.rate(f), 0.0);
  engine.run_until(SimTime::microseconds(5));
  EXPECT_EQ(net.state(f), FlowState::kTransmitting);
  EXPECT_DOUBLE_EQ(net.rate(f), 10 * kGBps) << "bottleneck: the slower link";
  engine.run();
  // 5 us of latency (2 + 3, once), then 1e7 B / 1e10 B/s = 1 ms.
  EXPECT_EQ(sink.done.at(7), SimTime::microseconds(5) + SimTime::microseconds(1000));
  EXPECT_EQ(net.active_flows(), 0u);
  EXPECT_EQ(net.link_stats(a).bytes_completed.value, 1e7);
  EXPECT_EQ(net.link_stats(b).flows_completed, 1u);
}

TEST(FlowModel, TwoFlowsOnOneLinkGetHalfEachAndFinishTogether) {
  Engine engine;
  FlowModel net(engine);
  const LinkId l = net.add_link(8 * kGBps, SimTime::zero());
  Sink sink;
  const FlowId f1 = net.start_flow(Bytes(4e9), {l}, &sink, 1);
  const FlowId f2 = net.start_flow(Bytes(4e9), {l}, &sink, 2);
  engine.run_until(SimTime::zero());
  EXPECT_DOUBLE_EQ(net.rate(f1), 4 * kGBps);
  EXPECT_DOUBLE_EQ(net.rate(f2), 4 * kGBps);
  EXPECT_DOUBLE_EQ(net.load(l), 8 * kGBps);
  engine.run();
  expect_time(sink.done.at(1), 1.0, "f1");
  EXPECT_EQ(sink.done.at(1), sink.done.at(2));
  // Simultaneous starts cost one recomputation, the simultaneous ends another.
  EXPECT_EQ(net.stats().recomputations, 2u);
}

TEST(FlowModel, ClassicMaxMinThreeFlowsTwoLinks) {
  // L1 = 10 GB/s, L2 = 4 GB/s; f1 crosses both, f2 only L1, f3 only L2.
  // Progressive filling: L2 saturates first at 4/2 = 2 GB/s (f1, f3); f2 takes the rest of
  // L1, 10 - 2 = 8 GB/s. Max-min, not proportional: f1 is not squeezed twice.
  Engine engine;
  FlowModel net(engine);
  const LinkId l1 = net.add_link(10 * kGBps, SimTime::zero());
  const LinkId l2 = net.add_link(4 * kGBps, SimTime::zero());
  Sink sink;
  const FlowId f1 = net.start_flow(Bytes(4e9), {l1, l2}, &sink, 1);
  const FlowId f2 = net.start_flow(Bytes(8e9), {l1}, &sink, 2);
  const FlowId f3 = net.start_flow(Bytes(2e9), {l2}, &sink, 3);
  engine.run_until(SimTime::zero());
  EXPECT_DOUBLE_EQ(net.rate(f1), 2 * kGBps);
  EXPECT_DOUBLE_EQ(net.rate(f2), 8 * kGBps);
  EXPECT_DOUBLE_EQ(net.rate(f3), 2 * kGBps);
  engine.run();
  // f2: 8e9 / 8e9 = 1 s; f3: 2e9 / 2e9 = 1 s. Then f1 is alone with 4e9 - 2e9 = 2e9 bytes left,
  // limited by L2 at 4 GB/s: 0.5 s more.
  expect_time(sink.done.at(2), 1.0, "f2");
  expect_time(sink.done.at(3), 1.0, "f3");
  expect_time(sink.done.at(1), 1.5, "f1");
}

TEST(FlowModel, EndingFlowFreesBandwidthForTheOthers) {
  // One 1 GB/s link. A = 1e9 B and B = 3e9 B start at 0; C = 0.5e9 B starts at 1 s.
  //  [0,1):   A, B at 0.5 GB/s -> A has 0.5e9 left, B 2.5e9.
  //  [1,2.5): A, B, C at 1/3 GB/s -> A and C (0.5e9 each) end at 1 + 1.5 = 2.5 s; B has 2e9.
  //  [2.5,4.5): B alone at 1 GB/s -> ends at 4.5 s.
  Engine engine;
  FlowModel net(engine);
  const LinkId l = net.add_link(1 * kGBps, SimTime::zero());
  Sink sink;
  Starter starter;
  starter.model = &net;
  starter.sink = &sink;
  starter.kind = engine.register_handler(starter, "starter");
  starter.at(engine, SimTime::zero(), {1e9, {l}, 1, FlowModel::kNoRateCap});
  starter.at(engine, SimTime::zero(), {3e9, {l}, 2, FlowModel::kNoRateCap});
  starter.at(engine, seconds(1.0), {0.5e9, {l}, 3, FlowModel::kNoRateCap});
  engine.run();
  expect_time(sink.done.at(1), 2.5, "A");
  expect_time(sink.done.at(3), 2.5, "C");
  expect_time(sink.done.at(2), 4.5, "B");
  const LinkStats s = net.link_stats(l);
  EXPECT_NEAR(s.busy_time.value, 4.5, 1e-8);
  EXPECT_NEAR(s.peak_utilisation, 1.0, 1e-12);
  EXPECT_NEAR(s.mean_utilisation, 1.0, 1e-8);
  EXPECT_NEAR(s.bytes_carried.value, 4.5e9, 10.0);
  EXPECT_EQ(s.bytes_completed.value, 4.5e9);
  // One completion event per flow, moved only when a rate changed: A and B at 1 s (slower)
  // and B at 2.5 s (faster).
  EXPECT_EQ(net.stats().reschedules, 3u);
  EXPECT_EQ(engine.stats().events_cancelled, 3u);
}

TEST(FlowModel, LatencyDelaysTransmissionNotBandwidthShare) {
  // L: 1 GB/s, no latency. M: 1 s latency. A = 2e9 B on [L] from 0; B = 1e9 B on [M, L].
  // B transmits only from 1 s: A alone until then (1e9 sent), then both at 0.5 GB/s: both
  // need 2 s more -> both end at 3 s.
  Engine engine;
  FlowModel net(engine);
  const LinkId l = net.add_link(1 * kGBps, SimTime::zero());
  const LinkId m = net.add_link(100 * kGBps, seconds(1.0));
  Sink sink;
  net.start_flow(Bytes(2e9), {l}, &sink, 1);
  net.start_flow(Bytes(1e9), {m, l}, &sink, 2);
  engine.run();
  expect_time(sink.done.at(1), 3.0, "A");
  expect_time(sink.done.at(2), 3.0, "B");
  EXPECT_NEAR(net.link_stats(m).busy_time.value, 2.0, 1e-8);
}

TEST(FlowModel, RateCapLeavesTheRestToOthers) {
  Engine engine;
  FlowModel net(engine);
  const LinkId l = net.add_link(1 * kGBps, SimTime::zero());
  Sink sink;
  const FlowId capped = net.start_flow(Bytes(1e9), {l}, &sink, 1, 0.2 * kGBps);
  const FlowId uncapped = net.start_flow(Bytes(1e9), {l}, &sink, 2);
  const FlowId alone = net.start_flow(Bytes(1e9), std::span<const LinkId>{}, &sink, 3,
                                      0.5 * kGBps);
  engine.run_until(SimTime::zero());
  EXPECT_DOUBLE_EQ(net.rate(capped), 0.2 * kGBps);
  EXPECT_DOUBLE_EQ(net.rate(uncapped), 0.8 * kGBps);
  EXPECT_DOUBLE_EQ(net.rate(alone), 0.5 * kGBps);
  engine.run();
  // free: 1e9 / 0.8e9 = 1.25 s; capped: 0.25e9 sent by then, 0.75e9 left at its cap: +3.75 s.
  expect_time(sink.done.at(2), 1.25, "free");
  expect_time(sink.done.at(1), 5.0, "capped");
  expect_time(sink.done.at(3), 2.0, "path-less flow at its cap");
}

TEST(FlowModel, ZeroByteAndPathlessFlowsEndAfterTheirLatency) {
  Engine engine;
  FlowModel net(engine);
  const LinkId l = net.add_link(1 * kGBps, SimTime::microseconds(4));
  Sink sink;
  net.start_flow(Bytes(0), {l}, &sink, 1);
  net.start_flow(Bytes(1e6), std::span<const LinkId>{}, &sink, 2);
  engine.run();
  EXPECT_EQ(sink.done.at(1), SimTime::microseconds(4));
  EXPECT_EQ(sink.done.at(2), SimTime::zero());
  EXPECT_EQ(net.link_stats(l).busy_time.value, 0.0);
  EXPECT_EQ(net.link_stats(l).flows_completed, 1u);
}

TEST(FlowModel, RejectsBadInput) {
  Engine engine;
  FlowModel net(engine);
  EXPECT_THROW(net.add_link(0.0, SimTime::zero()), std::invalid_argument);
  EXPECT_THROW(net.add_link(-1.0, SimTime::zero()), std::invalid_argument);
  EXPECT_THROW(net.add_link(std::numeric_limits<double>::infinity(), SimTime::zero()),
               std::invalid_argument);
  EXPECT_THROW(net.add_link(std::nan(""), SimTime::zero()), std::invalid_argument);
  EXPECT_THROW(net.add_link(1.0, SimTime{-1}), std::invalid_argument);
  const LinkId l = net.add_link(1e9, SimTime::zero());
  EXPECT_THROW(net.start_flow(Bytes(-1), {l}, nullptr, 0), std::invalid_argument);
  EXPECT_THROW(net.start_flow(Bytes(std::nan("")), {l}, nullptr, 0), std::invalid_argument);
  EXPECT_THROW(net.start_flow(Bytes(1), {l + 1}, nullptr, 0), std::invalid_argument);
  EXPECT_THROW(net.start_flow(Bytes(1), {l, l}, nullptr, 0), std::invalid_argument);
  EXPECT_THROW(net.start_flow(Bytes(1), {l}, nullptr, 0, 0.0), std::invalid_argument);
  EXPECT_THROW(net.start_flow(Bytes(1), {l}, nullptr, 0, std::nan("")), std::invalid_argument);
  EXPECT_THROW(net.rate(12345), std::out_of_range);
  EXPECT_EQ(net.active_flows(), 0u);
}

TEST(FlowModel, TransferTaskIsCompletedByItsFlow) {
  // compute A (1 ms) -> transfer X (a flow of 2e6 B at 1 GB/s + 10 us latency) -> compute B.
  struct Launcher : ExternalTaskRunner {
    FlowModel* net = nullptr;
    LinkId link = 0;
    void start_external(TaskId task, std::uint64_t tag, TaskExecutor& exec, Engine&) override {
      net->start_flow(Bytes(static_cast<double>(tag)), {link}, &exec, task);
    }
  };
  Engine engine;
  FlowModel net(engine);
  Launcher launcher;
  launcher.net = &net;
  launcher.link = net.add_link(1 * kGBps, SimTime::microseconds(10));
  TaskGraph g;
  const StreamId compute = g.add_stream("compute");
  const StreamId comm = g.add_stream("comm");
  const TaskId a = g.add_task(compute, SimTime::microseconds(1000));
  const TaskId x = g.add_external_task(comm, 2000000, {a});
  const TaskId b = g.add_task(compute, SimTime::microseconds(500), {x});
  TaskExecutor exec(engine, g, &launcher);
  exec.start();
  engine.run();
  ASSERT_TRUE(exec.finished());
  EXPECT_EQ(exec.start_time(x), SimTime::microseconds(1000));
  EXPECT_EQ(exec.end_time(x), SimTime::microseconds(1000 + 10 + 2000));
  EXPECT_EQ(exec.end_time(b), SimTime::microseconds(3010 + 500));
  EXPECT_EQ(exec.critical_path(), (std::vector<TaskId>{a, x, b}));
}

namespace {

/// A random network and workload; returns completion times by token.
struct RandomScenario {
  std::vector<double> capacity;
  struct FlowDef {
    double bytes;
    std::vector<LinkId> path;
    double cap;
    SimTime start;
  };
  std::vector<FlowDef> flows;

  explicit RandomScenario(std::uint64_t seed, int links, int n_flows) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < links; ++i) {
      capacity.push_back((1 + static_cast<double>(rng() % 10)) * kGBps);
    }
    for (int i = 0; i < n_flows; ++i) {
      FlowDef f;
      f.bytes = static_cast<double>(1 + rng() % 1000) * 1e6;
      const int hops = 1 + static_cast<int>(rng() % 4);
      while (static_cast<int>(f.path.size()) < hops) {
        const auto l = static_cast<LinkId>(rng() % static_cast<std::uint64_t>(links));
        if (std::find(f.path.begin(), f.path.end(), l) == f.path.end()) f.path.push_back(l);
      }
      f.cap = rng() % 5 == 0 ? static_cast<double>(1 + rng() % 4) * kGBps : FlowModel::kNoRateCap;
      // Coarse start times: many simultaneous starts.
      f.start = SimTime::microseconds(static_cast<std::int64_t>(rng() % 50) * 20000);
      flows.push_back(std::move(f));
    }
  }
};

/// Checks the max-min property at the current instant: every transmitting flow is at its cap
/// or crosses a saturated link on which no flow is faster (its bottleneck).
void expect_max_min(const FlowModel& net, const RandomScenario& sc, const Starter& starter,
                    const Sink& sink) {
  std::vector<double> rate_max(net.link_count(), 0.0);
  std::vector<std::pair<std::uint64_t, FlowId>> live;
  for (const auto& [token, id] : starter.started) {
    if (sink.done.count(token) == 0 && net.state(id) == FlowState::kTransmitting) {
      live.emplace_back(token, id);
    }
  }
  for (const auto& [token, id] : live) {
    for (LinkId l : sc.flows[token].path) rate_max[l] = std::max(rate_max[l], net.rate(id));
  }
  for (LinkId l = 0; l < net.link_count(); ++l) {
    EXPECT_LE(net.load(l), net.capacity(l) * (1 + 1e-9)) << "link " << l << " over capacity";
  }
  for (const auto& [token, id] : live) {
    const double r = net.rate(id);
    ASSERT_GT(r, 0.0);
    if (std::abs(r - sc.flows[token].cap) <= 1e-9 * r) continue;
    bool has_bottleneck = false;
    for (LinkId l : sc.flows[token].path) {
      const bool saturated = net.load(l) >= net.capacity(l) * (1 - 1e-9);
      if (saturated && r >= rate_max[l] * (1 - 1e-9)) has_bottleneck = true;
    }
    EXPECT_TRUE(has_bottleneck) << "flow " << token << " at " << r << " B/s has no bottleneck";
  }
}

struct ScenarioRun {
  std::map<std::uint64_t, SimTime> done;
  std::uint64_t fingerprint = 0;
  FlowModelStats stats;
};

ScenarioRun run_scenario(const RandomScenario& sc, bool check_properties,
                         FlowModelOptions options = {}) {
  Engine engine;
  FlowModel net(engine, options);
  for (double c : sc.capacity) net.add_link(c, SimTime::microseconds(1));
  Sink sink;
  Starter starter;
  starter.model = &net;
  starter.sink = &sink;
  starter.kind = engine.register_handler(starter, "starter");
  for (std::size_t i = 0; i < sc.flows.size(); ++i) {
    const auto& f = sc.flows[i];
    starter.at(engine, f.start, {f.bytes, f.path, i, f.cap});
  }
  if (check_properties) {
    for (int k = 1; k <= 40; ++k) {
      engine.run_until(SimTime::microseconds(k * 25013));  // off the start grid
      expect_max_min(net, sc, starter, sink);
    }
  }
  engine.run();
  EXPECT_EQ(sink.done.size(), sc.flows.size());
  EXPECT_EQ(net.active_flows(), 0u);

  if (check_properties) {
    // Bytes conservation: every flow's bytes cross every link of its path exactly once.
    double expected = 0.0;
    for (const auto& f : sc.flows) expected += f.bytes * static_cast<double>(f.path.size());
    double completed = 0.0;
    double carried = 0.0;
    const double elapsed = engine.now().seconds().value;
    for (LinkId l = 0; l < net.link_count(); ++l) {
      const LinkStats s = net.link_stats(l);
      completed += s.bytes_completed.value;
      carried += s.bytes_carried.value;
      EXPECT_LE(s.peak_utilisation, 1.0 + 1e-9);
      EXPECT_LE(s.mean_utilisation, s.peak_utilisation + 1e-9);
      EXPECT_LE(s.busy_time.value, elapsed + 1e-9);
      EXPECT_NEAR(s.mean_utilisation, s.bytes_carried.value / (sc.capacity[l] * elapsed), 1e-12);
    }
    EXPECT_NEAR(completed, expected, expected * 1e-12);
    EXPECT_NEAR(carried, expected, expected * 1e-6);
    // No flow beats its slowest link or its cap.
    for (std::size_t i = 0; i < sc.flows.size(); ++i) {
      const auto& f = sc.flows[i];
      double best = f.cap;
      for (LinkId l : f.path) best = std::min(best, sc.capacity[l]);
      const double fastest = f.bytes / best + 1e-6 * static_cast<double>(f.path.size());
      EXPECT_GE((sink.done.at(i) - f.start).seconds().value, fastest - 1e-9) << "flow " << i;
    }
  }
  return ScenarioRun{sink.done, engine.fingerprint(), net.stats()};
}

}  // namespace

TEST(FlowModel, RandomWorkloadConservesBytesAndIsMaxMinFair) {
  const RandomScenario sc(11, 24, 400);
  run_scenario(sc, true);
}

TEST(FlowModel, FreezingSlowerFlowsGivesTheSameTimesAsFullResolves) {
  const RandomScenario sc(23, 12, 500);
  FlowModelOptions full;
  full.freeze_slower_flows = false;
  const ScenarioRun a = run_scenario(sc, true);
  const ScenarioRun b = run_scenario(sc, true, full);
  ASSERT_EQ(a.done.size(), b.done.size());
  for (const auto& [token, t] : a.done) {
    // The same rates up to rounding, so the same completion times to a few ns.
    EXPECT_NEAR(static_cast<double>(t.ns), static_cast<double>(b.done.at(token).ns), 4.0)
        << "flow " << token;
  }
  EXPECT_LT(a.stats.flows_resolved, b.stats.flows_resolved) << "the freeze saved nothing";
}

TEST(FlowModel, RandomWorkloadIsDeterministic) {
  const RandomScenario sc(5, 16, 300);
  const ScenarioRun a = run_scenario(sc, false);
  const ScenarioRun b = run_scenario(sc, false);
  EXPECT_EQ(a.done, b.done);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
}

TEST(FlowModel, OnlyTheConnectedComponentIsResolved) {
  // Two disjoint halves: changes in one never re-solve the other.
  Engine engine;
  FlowModel net(engine);
  const LinkId left = net.add_link(1 * kGBps, SimTime::zero());
  const LinkId right = net.add_link(1 * kGBps, SimTime::zero());
  Sink sink;
  for (std::uint64_t i = 0; i < 50; ++i) net.start_flow(Bytes(1e6 * (i + 1)), {left}, &sink, i);
  engine.run_until(SimTime::zero());
  const std::uint64_t before = net.stats().flows_resolved;
  net.start_flow(Bytes(1e6), {right}, &sink, 100);
  engine.run_until(SimTime::zero());
  EXPECT_EQ(net.stats().flows_resolved - before, 1u);
  EXPECT_EQ(net.stats().max_flows_resolved, 50u);
  engine.run();
  EXPECT_EQ(sink.done.size(), 51u);
}
