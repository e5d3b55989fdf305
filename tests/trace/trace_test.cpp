#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tests/common/shipped_data.hpp"
#include "sim/workload/des_step.hpp"
#include "sim/workload/pipeline_sim.hpp"
#include "sim/workload/trace.hpp"

using namespace clustercost;
using nlohmann::json;

namespace {

/// The llama3-70b scenario (TP8 PP4 interleaved ×5, 128 micro-batches) simulated once with task
/// records, shared by the tests of this file (the DES of one step is the expensive part).
const DesStep& llama_step() {
  static const DesStep step = [] {
    const Scenario s = test::load_shipped("llama3-70b-h100.json");
    DesOptions o;
    o.record_tasks = true;
    return simulate_step_des_detailed(s, o);
  }();
  return step;
}

/// The trace as a user gets it: serialized, then parsed back with plain nlohmann::json.
json round_trip(const Json& doc) { return json::parse(doc.dump()); }

std::vector<json> events_of(const json& doc, const std::string& ph) {
  std::vector<json> out;
  for (const auto& e : doc.at("traceEvents"))
    if (e.at("ph") == ph) out.push_back(e);
  return out;
}

}  // namespace

TEST(Trace, RecordsDoNotChangeTheSimulation) {
  PipelineSpec spec;
  spec.order = PipelineOrder::OneFOneB;
  spec.micro_batches = 8;
  StageCost c;
  c.forward = SimTime::microseconds(1000);
  c.backward = SimTime::microseconds(2000);
  c.optimizer = SimTime::microseconds(300);
  spec.stages.assign(4, c);
  const PipelineRun plain = simulate_pipeline(spec);
  spec.record_tasks = true;
  const PipelineRun rec = simulate_pipeline(spec);
  EXPECT_TRUE(plain.task_records.empty());
  ASSERT_EQ(rec.task_records.size(), rec.tasks);
  EXPECT_EQ(plain.fingerprint, rec.fingerprint);
  EXPECT_EQ(plain.makespan, rec.makespan);

  // Every transfer feeds the pass of the same micro-batch on its neighbour stage, which starts
  // once the message is there.
  int sends = 0;
  SimTime last_end{0};
  for (const TaskRecord& r : rec.task_records) {
    last_end = std::max(last_end, r.end);
    if (r.kind != TaskKind::SendActivation && r.kind != TaskKind::SendGradient) continue;
    ++sends;
    ASSERT_GE(r.consumer, 0);
    const TaskRecord& cons = rec.task_records.at(static_cast<std::size_t>(r.consumer));
    EXPECT_EQ(cons.stage, r.peer_stage);
    EXPECT_EQ(cons.micro_batch, r.micro_batch);
    EXPECT_EQ(cons.lane, StreamLane::Compute);
    if (r.kind == TaskKind::SendActivation) {
      EXPECT_EQ(r.peer_stage, r.stage + 1);
      EXPECT_EQ(r.lane, StreamLane::SendForward);
      EXPECT_EQ(cons.kind, TaskKind::Forward);
    } else {
      EXPECT_EQ(r.peer_stage, r.stage - 1);
      EXPECT_EQ(r.lane, StreamLane::SendBackward);
      EXPECT_EQ(cons.kind, TaskKind::Backward);
    }
    EXPECT_GE(cons.start, r.end);
  }
  // 3 stage boundaries × 8 micro-batches × 2 directions.
  EXPECT_EQ(sends, 3 * 8 * 2);
  EXPECT_EQ(last_end, rec.makespan);
}

TEST(Trace, NeedsRecordedTasks) {
  DesStep step;
  step.run.tasks = 10;
  step.stage_gpu = {0};
  EXPECT_THROW(build_chrome_trace(step), std::invalid_argument);
  EXPECT_THROW(build_chrome_trace(llama_step(), TraceOptions{{4}}), std::invalid_argument);
  EXPECT_THROW(build_chrome_trace(llama_step(), TraceOptions{{-1}}), std::invalid_argument);
}

TEST(Trace, EventNames) {
  TaskRecord r;
  r.kind = TaskKind::Forward;
  r.micro_batch = 3;
  r.chunk = 1;
  EXPECT_EQ(trace_event_name(r, false), "F mb3");
  EXPECT_EQ(trace_event_name(r, true), "F mb3 c1");
  r.kind = TaskKind::WeightGrad;
  EXPECT_EQ(trace_event_name(r, false), "W mb3");
  r.kind = TaskKind::SendActivation;
  EXPECT_EQ(trace_event_name(r, false), "send act mb3");
  r.kind = TaskKind::DpReduceScatter;
  EXPECT_EQ(trace_event_name(r, true), "dp reduce-scatter c1");
  r.kind = TaskKind::Optimizer;
  EXPECT_EQ(trace_event_name(r, true), "optimizer");
}

TEST(Trace, LlamaTraceIsWellFormed) {
  const DesStep& step = llama_step();
  const json doc = round_trip(build_chrome_trace(step));
  EXPECT_EQ(doc.at("displayTimeUnit"), "ms");
  ASSERT_TRUE(doc.at("traceEvents").is_array());
  ASSERT_EQ(step.stage_gpu.size(), 4u);

  // Metadata: a name for every process and every (process, thread).
  std::map<int, std::string> process_names;
  std::set<std::pair<int, int>> named_threads;
  for (const auto& m : events_of(doc, "M")) {
    if (m.at("name") == "process_name")
      process_names[m.at("pid").get<int>()] = m.at("args").at("name").get<std::string>();
    if (m.at("name") == "thread_name")
      named_threads.emplace(m.at("pid").get<int>(), m.at("tid").get<int>());
  }
  for (std::size_t s = 0; s < step.stage_gpu.size(); ++s)
    EXPECT_EQ(process_names.at(step.stage_gpu[s]),
              "GPU " + std::to_string(step.stage_gpu[s]) + " (stage " + std::to_string(s) + ")");

  const auto complete = events_of(doc, "X");
  // One slice per op task; the simulation's zero-length pass markers (no op name) are left out.
  std::size_t shown = 0, sends = 0;
  for (const TaskRecord& r : step.run.task_records) {
    shown += r.name >= 0;
    sends += r.consumer >= 0;
  }
  ASSERT_EQ(complete.size(), shown);
  std::map<int, std::vector<std::pair<double, double>>> compute;  // pid → (ts, end) of tid 0
  std::map<int, std::set<std::string>> forwards;                  // pid → names of F events
  double last_end = 0;
  for (const auto& e : complete) {
    const double ts = e.at("ts").get<double>(), dur = e.at("dur").get<double>();
    EXPECT_GE(ts, 0.0);
    EXPECT_GE(dur, 0.0);
    const int pid = e.at("pid").get<int>(), tid = e.at("tid").get<int>();
    EXPECT_TRUE(process_names.count(pid)) << pid;
    EXPECT_TRUE(named_threads.count({pid, tid})) << pid << "/" << tid;
    last_end = std::max(last_end, ts + dur);
    if (tid == 0) compute[pid].emplace_back(ts, ts + dur);
  }
  for (const TaskRecord& r : step.run.task_records)
    if (r.kind == TaskKind::Forward && r.name >= 0)
      forwards[r.gpu].insert("mb" + std::to_string(r.micro_batch) + " c" + std::to_string(r.chunk));
  // The optimizer is a compute-stream task, so the last event ends at the step time.
  EXPECT_NEAR(last_end, step.result.step_time.value * 1e6, 1.0);

  // A stream runs one task at a time: compute events of a GPU never overlap (1 ns of slack for
  // the microsecond doubles).
  ASSERT_EQ(compute.size(), 4u);
  for (auto& [pid, spans] : compute) {
    std::sort(spans.begin(), spans.end());
    for (std::size_t k = 1; k < spans.size(); ++k)
      EXPECT_GE(spans[k].first, spans[k - 1].second - 1e-3) << "GPU " << pid << " event " << k;
  }
  // Every (micro-batch, chunk) forward appears on every GPU: 128 micro-batches × vpp 5.
  for (const auto& [pid, names] : forwards) EXPECT_EQ(names.size(), 128u * 5u) << pid;

  // Flow arrows: one "s" and one "f" per id, the head bound to the enclosing slice, after it.
  std::map<std::int64_t, json> starts, finishes;
  for (const auto& e : events_of(doc, "s"))
    EXPECT_TRUE(starts.emplace(e.at("id").get<std::int64_t>(), e).second);
  for (const auto& e : events_of(doc, "f")) {
    EXPECT_TRUE(finishes.emplace(e.at("id").get<std::int64_t>(), e).second);
    EXPECT_EQ(e.at("bp"), "e");
  }
  ASSERT_FALSE(starts.empty());
  ASSERT_EQ(starts.size(), finishes.size());
  ASSERT_EQ(starts.size(), sends);
  for (const auto& [id, s] : starts) {
    ASSERT_TRUE(finishes.count(id)) << id;
    const json& f = finishes.at(id);
    EXPECT_EQ(s.at("cat"), "transfer");
    EXPECT_EQ(f.at("cat"), "transfer");
    EXPECT_NE(s.at("pid"), f.at("pid"));
    EXPECT_GE(f.at("ts").get<double>(), s.at("ts").get<double>());
  }
}

TEST(Trace, RanksFilterKeepsOnlyTheRequestedGpus) {
  const DesStep& step = llama_step();
  const std::set<int> wanted = {step.stage_gpu[0], step.stage_gpu[2]};
  const json doc = round_trip(build_chrome_trace(step, TraceOptions{{0, 2}}));
  std::set<int> seen;
  for (const auto& e : doc.at("traceEvents")) seen.insert(e.at("pid").get<int>());
  EXPECT_EQ(seen, wanted);
  // Stages 0 and 2 never exchange messages (even interleaved, stage 0 talks only to 1 and, across
  // the chunk wrap-around, 3), so no arrow survives.
  EXPECT_TRUE(events_of(doc, "s").empty());
  EXPECT_TRUE(events_of(doc, "f").empty());

  // Neighbours keep their arrows, both ends inside the selection.
  const json pair = round_trip(build_chrome_trace(step, TraceOptions{{1, 2}}));
  const auto s = events_of(pair, "s"), f = events_of(pair, "f");
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(s.size(), f.size());
  const std::set<int> kept = {step.stage_gpu[1], step.stage_gpu[2]};
  for (const auto& e : f) EXPECT_TRUE(kept.count(e.at("pid").get<int>()));
  // The whole trace has more complete events than the filtered one.
  EXPECT_LT(events_of(pair, "X").size(), step.run.task_records.size());
}
