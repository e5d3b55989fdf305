#include "sim/engine/task_graph.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace clustercost {

namespace {

constexpr SimTime kUnset{-1};

/// Builds CSR adjacency (offsets of size n+1) from (from, to) pairs, keeping insertion order.
template <class Edges, class Offsets, class Targets>
void build_csr(std::size_t n, const Edges& edges, Offsets& offset, Targets& targets) {
  offset.assign(n + 1, 0);
  for (const auto& [from, to] : edges) ++offset[from + 1];
  for (std::size_t i = 0; i < n; ++i) offset[i + 1] += offset[i];
  targets.assign(edges.size(), 0);
  LargeVector<std::uint32_t> fill(offset.begin(), offset.end() - 1);
  for (const auto& [from, to] : edges) targets[fill[from]++] = to;
}

}  // namespace

// ---------------------------------------------------------------------------------- TaskGraph

StreamId TaskGraph::add_stream(std::string name) {
  stream_names_.push_back(std::move(name));
  return static_cast<StreamId>(stream_names_.size() - 1);
}

TaskId TaskGraph::add(StreamId stream, SimTime duration, bool external, std::uint64_t tag,
                      std::span<const TaskId> deps) {
  if (stream >= stream_names_.size()) {
    throw std::invalid_argument("TaskGraph: unknown stream " + std::to_string(stream));
  }
  if (duration.ns < 0) throw std::invalid_argument("TaskGraph: negative task duration");
  if (tasks_.size() >= kNoTask) throw std::length_error("TaskGraph: too many tasks");
  const auto id = static_cast<TaskId>(tasks_.size());
  for (TaskId d : deps) {
    if (d >= id) throw std::invalid_argument("TaskGraph: unknown dependency " + std::to_string(d));
  }
  tasks_.push_back(Task{external ? static_cast<std::int64_t>(tag) : duration.ns, stream, external});
  for (TaskId d : deps) edges_.emplace_back(d, id);
  return id;
}

void TaskGraph::reserve(std::size_t tasks, std::size_t dependencies) {
  tasks_.reserve(tasks);
  edges_.reserve(dependencies);
}

TaskId TaskGraph::add_task(StreamId stream, SimTime duration, std::span<const TaskId> deps) {
  return add(stream, duration, false, 0, deps);
}

TaskId TaskGraph::add_external_task(StreamId stream, std::uint64_t tag,
                                    std::span<const TaskId> deps) {
  return add(stream, SimTime::zero(), true, tag, deps);
}

void TaskGraph::add_dependency(TaskId before, TaskId after) {
  if (before >= tasks_.size() || after >= tasks_.size()) {
    throw std::invalid_argument("TaskGraph: dependency on an unknown task");
  }
  if (before == after) {
    throw std::invalid_argument("TaskGraph: task " + std::to_string(before) +
                                " depends on itself");
  }
  edges_.emplace_back(before, after);
}

void TaskGraph::validate() const {
  // Kahn's algorithm over the dependency edges plus the implicit edges of stream order (each
  // task's successor on its stream, kept as one array rather than as copied edges: the graphs
  // of every-rank simulations hold 10^8 tasks).
  const std::size_t n = tasks_.size();
  LargeVector<std::uint32_t> offset;
  LargeVector<TaskId> succ;
  build_csr(n, edges_, offset, succ);
  LargeVector<std::uint32_t> indegree(n, 0);
  LargeVector<TaskId> next_on_stream(n, kNoTask);
  {
    std::vector<TaskId> last_on_stream(stream_names_.size(), kNoTask);
    for (TaskId t = 0; t < n; ++t) {
      TaskId& last = last_on_stream[tasks_[t].stream];
      if (last != kNoTask) {
        next_on_stream[last] = t;
        ++indegree[t];
      }
      last = t;
    }
  }
  for (const auto& e : edges_) ++indegree[e.second];
  std::vector<TaskId> ready;
  for (TaskId t = 0; t < n; ++t) {
    if (indegree[t] == 0) ready.push_back(t);
  }
  std::size_t seen = 0;
  while (!ready.empty()) {
    const TaskId t = ready.back();
    ready.pop_back();
    ++seen;
    for (std::uint32_t i = offset[t]; i < offset[t + 1]; ++i) {
      if (--indegree[succ[i]] == 0) ready.push_back(succ[i]);
    }
    if (const TaskId s = next_on_stream[t]; s != kNoTask && --indegree[s] == 0) ready.push_back(s);
  }
  if (seen == n) return;
  TaskId blocked = 0;
  while (indegree[blocked] == 0) ++blocked;
  throw std::invalid_argument(
      "TaskGraph: task " + std::to_string(blocked) + " (stream \"" +
      stream_names_[tasks_[blocked].stream] +
      "\") can never start: its dependencies and stream order form a cycle");
}

// ------------------------------------------------------------------------------- TaskExecutor

TaskExecutor::TaskExecutor(Engine& engine, const TaskGraph& graph, ExternalTaskRunner* runner)
    : engine_(engine), graph_(graph), runner_(runner) {
  graph.validate();
  const std::size_t n = graph.task_count();
  build_csr(n, graph.dependencies(), succ_offset_, succ_);

  LargeVector<std::pair<TaskId, TaskId>> membership;  // (stream, task) in program order
  membership.reserve(n);
  for (TaskId t = 0; t < n; ++t) membership.emplace_back(graph.tasks_[t].stream, t);
  build_csr(graph.stream_count(), membership, stream_offset_, stream_tasks_);
  cursor_.resize(graph.stream_count());
  for (StreamId s = 0; s < graph.stream_count(); ++s) {
    StreamCursor& c = cursor_[s];
    c.head = stream_offset_[s];
    c.end = stream_offset_[s + 1];
    if (c.head < c.end) c.head_task = stream_tasks_[c.head];
  }

  slot_.assign(n, Slot{});
  for (TaskId t = 0; t < n; ++t) {
    slot_[t].stream = graph.tasks_[t].stream;
    if (graph.tasks_[t].external) slot_[t].deps_and_state = Slot::kExternal;
  }
  for (const auto& e : graph.dependencies()) {
    if (slot_[e.second].deps_left() == Slot::kDepsMask) {
      throw std::length_error("TaskExecutor: task " + std::to_string(e.second) +
                              " has 2^29 or more dependencies");
    }
    ++slot_[e.second].deps_and_state;  // the low bits; the state bits are kWaiting (0)
  }
  kind_ = engine.register_handler(*this, "task_complete");
}

TaskExecutor::~TaskExecutor() { engine_.unregister_handler(kind_); }

void TaskExecutor::start() {
  if (started_) throw std::logic_error("TaskExecutor: start() called twice");
  started_ = true;
  origin_ = engine_.now();
  struct Guard {
    bool& flag;
    ~Guard() { flag = false; }
  } guard{draining_};
  draining_ = true;  // hold completions of zero-time tasks until every stream had its turn
  for (StreamId s = 0; s < graph_.stream_count(); ++s) try_start_head(s);
  draining_ = false;
  drain();
}

void TaskExecutor::try_start_head(StreamId stream) {
  const StreamCursor& c = cursor_[stream];
  if (c.busy || c.head_task == kNoTask) return;
  if (slot_[c.head_task].deps_left() == 0) start_task(c.head_task);
}

void TaskExecutor::start_task(TaskId t) {
  Slot& slot = slot_[t];
  StreamCursor& c = cursor_[slot.stream];
  c.busy = true;
  slot.set_state(TaskState::kRunning);
  slot.start = engine_.now();
  // Which constraint released the task: the later of its last dependency and its stream
  // predecessor (the dependency on a tie).
  const TaskId dep = slot.last_dep;
  const TaskId prev = c.prev_task;
  if (dep != kNoTask && (prev == kNoTask || slot_[dep].end >= slot_[prev].end)) {
    slot.released_by = dep;
  } else {
    slot.released_by = prev;
  }
  // The stream's next task is read when this one ends, usually many events later: ask for its
  // records now (with 10^6-10^8 tasks they are rarely in cache; measured as most of the
  // executor's time in perf).
  c.next_task = c.head + 1 < c.end ? stream_tasks_[c.head + 1] : kNoTask;
  if (c.next_task != kNoTask) {
    __builtin_prefetch(&slot_[c.next_task], 1);
    __builtin_prefetch(&graph_.tasks_[c.next_task], 0);
  }
  const TaskGraph::Task& task = graph_.tasks_[t];
  if (slot.external()) {
    if (runner_ != nullptr) {
      runner_->start_external(t, static_cast<std::uint64_t>(task.value), *this, engine_);
    }
    return;
  }
  if (task.value == 0) {
    pending_done_.push_back(t);
  } else {
    engine_.schedule_in(SimTime{task.value}, kind_, t);
  }
}

void TaskExecutor::finish(TaskId t) {
  Slot& slot = slot_[t];
  slot.set_state(TaskState::kDone);
  slot.end = engine_.now();
  const SimTime end = slot.end;
  ++done_count_;
  last_finished_ = t;  // completions are processed in time order
  const StreamId stream = slot.stream;
  StreamCursor& c = cursor_[stream];
  c.busy = false;
  ++c.head;
  c.prev_task = t;
  c.head_task = c.next_task;
  const std::uint32_t first = succ_offset_[t], last = succ_offset_[t + 1];
  for (std::uint32_t i = first; i < last; ++i) {
    Slot& s = slot_[succ_[i]];
    --s.deps_and_state;
    const TaskId prev = s.last_dep;
    // Ends arrive in time order, so the newest is the latest; on equal ends keep the smallest id.
    if (prev == kNoTask || t < prev || slot_[prev].end < end) s.last_dep = t;
  }
  try_start_head(stream);
  for (std::uint32_t i = first; i < last; ++i) {
    const Slot& s = slot_[succ_[i]];
    if (s.ready()) try_start_head(s.stream);
  }
}

void TaskExecutor::drain() {
  if (draining_) return;
  struct Guard {
    bool& flag;
    std::vector<TaskId>& work;
    ~Guard() {
      flag = false;
      work.clear();
    }
  } guard{draining_, pending_done_};
  draining_ = true;
  for (std::size_t i = 0; i < pending_done_.size(); ++i) finish(pending_done_[i]);
}

void TaskExecutor::complete(TaskId task) {
  if (task >= slot_.size() || !slot_[task].external() ||
      slot_[task].state() != TaskState::kRunning) {
    throw std::logic_error("TaskExecutor: complete(" + std::to_string(task) +
                           ") on a task that is not a running external task");
  }
  if (slot_[task].end != kUnset) {  // completed earlier in this cascade, not yet processed
    throw std::logic_error("TaskExecutor: task " + std::to_string(task) + " completed twice");
  }
  slot_[task].end = engine_.now();
  pending_done_.push_back(task);
  drain();
}

void TaskExecutor::handle(const Event& event, Engine& /*engine*/) {
  pending_done_.push_back(event.target);
  drain();
}

void TaskExecutor::on_complete(std::uint64_t token, Engine& /*engine*/) {
  if (token >= graph_.task_count()) {
    throw std::logic_error("TaskExecutor: completion token is not a task id");
  }
  complete(static_cast<TaskId>(token));
}

SimTime TaskExecutor::makespan() const {
  SimTime last = origin_;
  for (TaskId t = 0; t < graph_.task_count(); ++t) {
    if (slot_[t].state() == TaskState::kDone && slot_[t].end > last) last = slot_[t].end;
  }
  return last - origin_;
}

std::vector<TaskId> TaskExecutor::critical_path() const {
  std::vector<TaskId> path;
  for (TaskId t = last_finished_; t != kNoTask; t = slot_[t].released_by) path.push_back(t);
  std::reverse(path.begin(), path.end());
  return path;
}

SimTime TaskExecutor::stream_busy_time(StreamId stream) const {
  SimTime busy = SimTime::zero();
  for (std::uint32_t i = stream_offset_.at(stream); i < stream_offset_.at(stream + 1); ++i) {
    const TaskId t = stream_tasks_[i];
    if (slot_[t].state() == TaskState::kDone) busy += slot_[t].end - slot_[t].start;
  }
  return busy;
}

}  // namespace clustercost
