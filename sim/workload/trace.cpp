#include "sim/workload/trace.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace clustercost {

namespace {

/// Trace timestamps are microseconds; the simulation's integer nanoseconds convert exactly
/// enough (a double holds 2^53 ns, 104 days) for one step.
double micros(SimTime t) { return static_cast<double>(t.ns) / 1000.0; }

const char* category(TaskKind k) {
  switch (k) {
    case TaskKind::Forward:
    case TaskKind::Backward:
    case TaskKind::BackwardInput:
    case TaskKind::WeightGrad:
      return "compute";
    case TaskKind::TpComm:
      return "tp";
    case TaskKind::EpComm:
      return "ep";
    case TaskKind::Optimizer:
      return "optimizer";
    case TaskKind::SendActivation:
    case TaskKind::SendGradient:
      return "pp";
    case TaskKind::DpReduceScatter:
    case TaskKind::DpAllGather:
      return "dp";
  }
  return "other";
}

const char* lane_name(StreamLane lane) {
  switch (lane) {
    case StreamLane::Compute:
      return "compute";
    case StreamLane::SendForward:
      return "send forward";
    case StreamLane::SendBackward:
      return "send backward";
    case StreamLane::DataParallel:
      return "data-parallel";
  }
  return "stream";
}

constexpr int kLanes = 4;

}  // namespace

std::string trace_event_name(const TaskRecord& r, bool chunked) {
  std::string base;
  bool per_mb = true;
  switch (r.kind) {
    case TaskKind::Forward:
      base = "F";
      break;
    case TaskKind::Backward:
    case TaskKind::BackwardInput:
      base = "B";
      break;
    case TaskKind::WeightGrad:
      base = "W";
      break;
    case TaskKind::TpComm:
      base = "tp comm";
      break;
    case TaskKind::EpComm:
      base = "ep all-to-all";
      break;
    case TaskKind::SendActivation:
      base = "send act";
      break;
    case TaskKind::SendGradient:
      base = "send grad";
      break;
    case TaskKind::Optimizer:
      return "optimizer";
    case TaskKind::DpReduceScatter:
      base = "dp reduce-scatter";
      per_mb = false;
      break;
    case TaskKind::DpAllGather:
      base = "dp all-gather";
      per_mb = false;
      break;
  }
  if (per_mb && r.micro_batch >= 0) base += " mb" + std::to_string(r.micro_batch);
  if (chunked && r.chunk >= 0) base += " c" + std::to_string(r.chunk);
  return base;
}

Json build_chrome_trace(const DesStep& step, const TraceOptions& options) {
  const auto& rec = step.run.task_records;
  if (rec.empty() && step.run.tasks > 0)
    throw std::invalid_argument(
        "build_chrome_trace: the step was simulated without DesOptions::record_tasks");
  const int p = static_cast<int>(step.stage_gpu.size());
  std::vector<bool> keep(static_cast<std::size_t>(p), options.stages.empty());
  for (int s : options.stages) {
    if (s < 0 || s >= p)
      throw std::invalid_argument("build_chrome_trace: stage " + std::to_string(s) +
                                  " is not in the pipeline (0.." + std::to_string(p - 1) + ")");
    keep[static_cast<std::size_t>(s)] = true;
  }
  const auto gpu = [&](int stage) { return step.stage_gpu.at(static_cast<std::size_t>(stage)); };
  const bool chunked =
      std::any_of(rec.begin(), rec.end(), [](const TaskRecord& r) { return r.chunk > 0; });

  Json events = Json::array();
  for (int s = 0; s < p; ++s) {
    if (!keep[static_cast<std::size_t>(s)]) continue;
    events.push_back({{"ph", "M"},
                      {"name", "process_name"},
                      {"pid", gpu(s)},
                      {"args", {{"name", "GPU " + std::to_string(gpu(s)) + " (stage " +
                                             std::to_string(s) + ")"}}}});
    // Perfetto orders processes by pid otherwise; stage order is the pipeline's.
    events.push_back({{"ph", "M"},
                      {"name", "process_sort_index"},
                      {"pid", gpu(s)},
                      {"args", {{"sort_index", s}}}});
    for (int lane = 0; lane < kLanes; ++lane)
      events.push_back({{"ph", "M"},
                        {"name", "thread_name"},
                        {"pid", gpu(s)},
                        {"tid", lane},
                        {"args", {{"name", lane_name(static_cast<StreamLane>(lane))}}}});
  }

  std::int64_t flow_id = 0;
  for (const TaskRecord& r : rec) {
    if (!keep[static_cast<std::size_t>(r.stage)]) continue;
    const int tid = static_cast<int>(r.lane);
    Json args = Json::object();
    if (r.micro_batch >= 0) args["micro_batch"] = r.micro_batch;
    if (r.chunk >= 0) args["chunk"] = r.chunk;
    if (r.peer_stage >= 0) args["to_stage"] = r.peer_stage;
    events.push_back({{"ph", "X"},
                      {"name", trace_event_name(r, chunked)},
                      {"cat", category(r.kind)},
                      {"pid", gpu(r.stage)},
                      {"tid", tid},
                      {"ts", micros(r.start)},
                      {"dur", micros(r.end - r.start)},
                      {"args", std::move(args)}});
    if (r.consumer < 0 || r.peer_stage < 0 || !keep[static_cast<std::size_t>(r.peer_stage)])
      continue;
    const TaskRecord& c = rec.at(static_cast<std::size_t>(r.consumer));
    ++flow_id;
    const std::string name = r.kind == TaskKind::SendActivation ? "activations" : "gradients";
    events.push_back({{"ph", "s"},
                      {"name", name},
                      {"cat", "transfer"},
                      {"id", flow_id},
                      {"pid", gpu(r.stage)},
                      {"tid", tid},
                      {"ts", micros(r.start)}});
    // "bp": "e" binds the arrow's head to the slice enclosing ts: the consumer, which starts
    // there (at or after the transfer's end).
    events.push_back({{"ph", "f"},
                      {"bp", "e"},
                      {"name", name},
                      {"cat", "transfer"},
                      {"id", flow_id},
                      {"pid", gpu(c.stage)},
                      {"tid", static_cast<int>(c.lane)},
                      {"ts", micros(c.start)}});
  }
  Json doc = Json::object();
  doc["traceEvents"] = std::move(events);
  doc["displayTimeUnit"] = "ms";
  return doc;
}

}  // namespace clustercost
