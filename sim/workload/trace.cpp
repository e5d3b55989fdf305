#include "sim/workload/trace.hpp"

#include <algorithm>
#include <map>
#include <set>
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
    case StreamLane::Comm:
      return "comm";
    case StreamLane::WgradCompute:
      return "wgrad";
    case StreamLane::CommAsync:
      return "comm async";
  }
  return "stream";
}

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
  std::vector<bool> keep_stage(static_cast<std::size_t>(p), options.stages.empty());
  for (int s : options.stages) {
    if (s < 0 || s >= p)
      throw std::invalid_argument("build_chrome_trace: stage " + std::to_string(s) +
                                  " is not in the pipeline (0.." + std::to_string(p - 1) + ")");
    keep_stage[static_cast<std::size_t>(s)] = true;
  }
  // GPU of a record: its own, or (pipeline-level records) its stage's.
  const auto gpu_of = [&](const TaskRecord& r) {
    return r.gpu >= 0 ? r.gpu : step.stage_gpu.at(static_cast<std::size_t>(r.stage));
  };
  // The simulated GPUs with their stages, in (stage, GPU) order.
  std::map<int, int> stage_of;  // GPU → stage
  if (!step.run.gpus.empty()) {
    for (std::size_t k = 0; k < step.run.gpus.size(); ++k)
      stage_of[step.run.gpus[k]] = step.run.gpu_stage[k];
  } else {
    for (int s = 0; s < p; ++s) stage_of[step.stage_gpu[static_cast<std::size_t>(s)]] = s;
  }
  std::set<int> keep_rank(options.ranks.begin(), options.ranks.end());
  for (int g : options.ranks)
    if (!stage_of.count(g))
      throw std::invalid_argument("build_chrome_trace: GPU " + std::to_string(g) +
                                  " was not simulated (simulation.ranks: \"all\" simulates every GPU)");
  const auto kept = [&](int gpu) {
    const auto it = stage_of.find(gpu);
    if (it == stage_of.end()) return false;
    if (!keep_stage[static_cast<std::size_t>(it->second)]) return false;
    return keep_rank.empty() || keep_rank.count(gpu) > 0;
  };
  const bool chunked =
      std::any_of(rec.begin(), rec.end(), [](const TaskRecord& r) { return r.chunk > 0; });
  const auto event_name = [&](const TaskRecord& r) {
    if (r.name < 0 || static_cast<std::size_t>(r.name) >= step.run.names.size())
      return trace_event_name(r, chunked);
    std::string n = step.run.names[static_cast<std::size_t>(r.name)];
    if (r.micro_batch >= 0) n += " mb" + std::to_string(r.micro_batch);
    if (chunked && r.chunk >= 0) n += " c" + std::to_string(r.chunk);
    return n;
  };
  // An op-level record without a name is a zero-length marker of the simulation.
  const auto shown = [&](const TaskRecord& r) { return !(r.gpu >= 0 && r.name < 0); };

  std::map<int, std::set<int>> lanes;  // GPU → lanes used
  for (const TaskRecord& r : rec)
    if (shown(r) && kept(gpu_of(r))) lanes[gpu_of(r)].insert(static_cast<int>(r.lane));
  std::vector<std::pair<int, int>> order;  // (stage, GPU)
  for (const auto& [g, s] : stage_of)
    if (kept(g)) order.emplace_back(s, g);
  std::sort(order.begin(), order.end());

  Json events = Json::array();
  int sort_index = 0;
  for (const auto& [s, g] : order) {
    events.push_back({{"ph", "M"},
                      {"name", "process_name"},
                      {"pid", g},
                      {"args", {{"name", "GPU " + std::to_string(g) + " (stage " +
                                             std::to_string(s) + ")"}}}});
    // Perfetto orders processes by pid otherwise; stage order is the pipeline's.
    events.push_back({{"ph", "M"},
                      {"name", "process_sort_index"},
                      {"pid", g},
                      {"args", {{"sort_index", sort_index++}}}});
    const auto it = lanes.find(g);
    std::set<int> used = it == lanes.end() ? std::set<int>{0} : it->second;
    used.insert(0);
    for (int lane : used)
      events.push_back({{"ph", "M"},
                        {"name", "thread_name"},
                        {"pid", g},
                        {"tid", lane},
                        {"args", {{"name", lane_name(static_cast<StreamLane>(lane))}}}});
  }

  std::int64_t flow_id = 0;
  for (const TaskRecord& r : rec) {
    const int g = gpu_of(r);
    if (!shown(r) || !kept(g)) continue;
    const int tid = static_cast<int>(r.lane);
    Json args = Json::object();
    if (r.micro_batch >= 0) args["micro_batch"] = r.micro_batch;
    if (r.chunk >= 0) args["chunk"] = r.chunk;
    if (r.peer_stage >= 0) args["to_stage"] = r.peer_stage;
    events.push_back({{"ph", "X"},
                      {"name", event_name(r)},
                      {"cat", category(r.kind)},
                      {"pid", g},
                      {"tid", tid},
                      {"ts", micros(r.start)},
                      {"dur", micros(r.end - r.start)},
                      {"args", std::move(args)}});
    if (r.consumer < 0 || r.peer_stage < 0) continue;
    const TaskRecord& c = rec.at(static_cast<std::size_t>(r.consumer));
    if (!kept(gpu_of(c))) continue;
    ++flow_id;
    const std::string name = r.kind == TaskKind::SendActivation ? "activations" : "gradients";
    events.push_back({{"ph", "s"},
                      {"name", name},
                      {"cat", "transfer"},
                      {"id", flow_id},
                      {"pid", g},
                      {"tid", tid},
                      {"ts", micros(r.start)}});
    // "bp": "e" binds the arrow's head to the slice enclosing ts on the receiver's compute
    // stream, where the consuming pass starts (at or after the transfer's end).
    events.push_back({{"ph", "f"},
                      {"bp", "e"},
                      {"name", name},
                      {"cat", "transfer"},
                      {"id", flow_id},
                      {"pid", gpu_of(c)},
                      {"tid", static_cast<int>(c.lane)},
                      {"ts", micros(c.start)}});
  }
  Json doc = Json::object();
  doc["traceEvents"] = std::move(events);
  doc["displayTimeUnit"] = "ms";
  return doc;
}

}  // namespace clustercost
