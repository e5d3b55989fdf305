#include "sim/engine/task_graph.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace clustercost {

namespace {

constexpr SimTime kUnset{-1};

/// CSR form of `items` (key, value) pairs that `for_each(emit)` emits in order, keys below
/// `keys`: offsets of size keys+1, values grouped by key in emission order. The offsets serve
/// as the fill cursors and are shifted back afterwards: no second array of `keys` entries
/// (graphs of every-rank simulations have 10^8 tasks, and on this VM each fresh GiB costs
/// about a second of page clearing).
template <class ForEach>
void build_csr_by_key(std::size_t keys, std::size_t items, ForEach for_each,
                      LargeVector<std::uint32_t>& offset, LargeVector<TaskId>& values) {
  offset.assign(keys + 1, 0);
  for_each([&](std::size_t key, TaskId) { ++offset[key + 1]; });
  for (std::size_t k = 0; k < keys; ++k) offset[k + 1] += offset[k];
  values.assign(items, 0);
  for_each([&](std::size_t key, TaskId v) { values[offset[key]++] = v; });  // -> start(key+1)
  for (std::size_t k = keys; k > 0; --k) offset[k] = offset[k - 1];
  offset[0] = 0;
}

/// Successors of each of `n` tasks from (from, to) edges, keeping insertion order.
template <class Edges>
void build_csr(std::size_t n, const Edges& edges, LargeVector<std::uint32_t>& offset,
               LargeVector<TaskId>& targets) {
  build_csr_by_key(
      n, edges.size(),
      [&](auto emit) {
        for (const auto& [from, to] : edges) emit(from, to);
      },
      offset, targets);
}

/// Tasks of each stream in program (id) order, CSR form: `stream_of(t)`.
template <class StreamOf>
void build_stream_csr(std::size_t tasks, std::size_t streams, StreamOf stream_of,
                      LargeVector<std::uint32_t>& offset, LargeVector<TaskId>& members) {
  build_csr_by_key(
      streams, tasks,
      [&](auto emit) {
        for (TaskId t = 0; t < tasks; ++t) emit(stream_of(t), t);
      },
      offset, members);
}

/// Whether the graph can run to the end: executes it in zero time, stream by stream (a task
/// runs once it heads its stream and `ready(t)`; completing it calls `release(u)` for each
/// successor u, true when u has no dependency left). Returns the smallest id of a task that
/// never runs (a cycle through dependencies and stream order), or kNoTask. The one owner of
/// the cycle check for TaskGraph::validate and the executor, which runs it on its own arrays.
template <class Ready, class Release, class StreamOf>
TaskId first_blocked_task(const LargeVector<std::uint32_t>& stream_offset,
                          const LargeVector<TaskId>& stream_tasks,
                          const LargeVector<std::uint32_t>& succ_offset,
                          const LargeVector<TaskId>& succ, Ready ready, Release release,
                          StreamOf stream_of) {
  const std::size_t streams = stream_offset.size() - 1;
  std::vector<std::uint32_t> head(stream_offset.begin(), stream_offset.end() - 1);
  std::vector<StreamId> work(streams);
  std::vector<std::uint8_t> queued(streams, 1);
  for (StreamId s = 0; s < streams; ++s) work[s] = static_cast<StreamId>(streams - 1 - s);
  while (!work.empty()) {
    const StreamId s = work.back();
    work.pop_back();
    queued[s] = 0;
    for (; head[s] < stream_offset[s + 1]; ++head[s]) {
      const TaskId t = stream_tasks[head[s]];
      if (!ready(t)) break;
      for (std::uint32_t i = succ_offset[t]; i < succ_offset[t + 1]; ++i) {
        if (!release(succ[i])) continue;
        const StreamId u = stream_of(succ[i]);
        if (!queued[u]) {
          queued[u] = 1;
          work.push_back(u);
        }
      }
    }
  }
  TaskId blocked = kNoTask;
  for (StreamId s = 0; s < streams; ++s)
    if (head[s] < stream_offset[s + 1]) blocked = std::min(blocked, stream_tasks[head[s]]);
  return blocked;
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
  const std::size_t n = tasks_.size();
  LargeVector<std::uint32_t> offset, stream_offset;
  LargeVector<TaskId> succ, stream_tasks;
  build_csr(n, edges_, offset, succ);
  build_stream_csr(
      n, stream_names_.size(), [&](TaskId t) { return tasks_[t].stream; }, stream_offset,
      stream_tasks);
  LargeVector<std::uint32_t> deps(n, 0);
  for (const auto& e : edges_) ++deps[e.second];
  const TaskId blocked = first_blocked_task(
      stream_offset, stream_tasks, offset, succ, [&](TaskId t) { return deps[t] == 0; },
      [&](TaskId u) { return --deps[u] == 0; }, [&](TaskId u) { return tasks_[u].stream; });
  if (blocked != kNoTask) throw_cycle(blocked);
}

void TaskGraph::throw_cycle(TaskId blocked) const {
  throw std::invalid_argument(
      "TaskGraph: task " + std::to_string(blocked) + " (stream \"" +
      stream_names_[tasks_[blocked].stream] +
      "\") can never start: its dependencies and stream order form a cycle");
}

// ------------------------------------------------------------------------------- TaskExecutor

TaskExecutor::TaskExecutor(Engine& engine, const TaskGraph& graph, ExternalTaskRunner* runner)
    : engine_(engine), graph_(graph), runner_(runner) {
  const std::size_t n = graph.task_count();
  build_csr(n, graph.dependencies(), succ_offset_, succ_);
  build_stream_csr(
      n, graph.stream_count(), [&](TaskId t) { return graph.tasks_[t].stream; }, stream_offset_,
      stream_tasks_);
  cursor_.resize(graph.stream_count());
  for (StreamId s = 0; s < graph.stream_count(); ++s) {
    if (stream_offset_[s] < stream_offset_[s + 1]) cursor_[s].head_task = stream_tasks_[stream_offset_[s]];
  }

  slot_.assign(n, Slot{});
  for (StreamId s = 0; s < graph.stream_count(); ++s)
    for (std::uint32_t i = stream_offset_[s]; i + 1 < stream_offset_[s + 1]; ++i)
      slot_[stream_tasks_[i]].next_on_stream = stream_tasks_[i + 1];
  for (TaskId t = 0; t < n; ++t) {
    slot_[t].stream = graph.tasks_[t].stream;
    std::uint32_t flags = graph.tasks_[t].external ? Slot::kExternal : 0;
    if (succ_offset_[t + 1] > succ_offset_[t]) flags |= Slot::kHasSuccessors;
    slot_[t].deps_and_state = flags;
  }
  auto count_dependencies = [&] {
    for (const auto& e : graph.dependencies()) {
      if (slot_[e.second].deps_left() == Slot::kDepsMask) {
        throw std::length_error("TaskExecutor: task " + std::to_string(e.second) + " has 2^" +
                                std::to_string(Slot::kDepsBits) + " or more dependencies");
      }
      ++slot_[e.second].deps_and_state;  // the low bits; the state bits are kWaiting (0)
    }
  };
  count_dependencies();
  // The graph's cycle check, run on these arrays rather than on copies of the graph's own
  // (TaskGraph::validate): counting the dependencies down, then again up.
  const TaskId blocked = first_blocked_task(
      stream_offset_, stream_tasks_, succ_offset_, succ_,
      [&](TaskId t) { return slot_[t].deps_left() == 0; },
      [&](TaskId u) { return (--slot_[u].deps_and_state & Slot::kDepsMask) == 0; },
      [&](TaskId u) { return slot_[u].stream; });
  if (blocked != kNoTask) graph.throw_cycle(blocked);
  count_dependencies();
  kind_ = engine.register_handler(*this, "task_complete");
  // Task records beyond what the last-level cache holds are a miss per event: have the engine
  // prefetch the next event's (Engine::set_lookahead_prefetch).
  lookahead_was_ = engine.lookahead_prefetch();
  if (n * sizeof(Slot) > kCacheBytes) engine.set_lookahead_prefetch(true);
}

TaskExecutor::~TaskExecutor() {
  engine_.set_lookahead_prefetch(lookahead_was_);
  engine_.unregister_handler(kind_);
}

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
  const TaskId dep = slot.released_by;  // the last dependency to end, until now
  const TaskId prev = c.prev_task;
  if (dep != kNoTask && (prev == kNoTask || slot_[dep].end >= slot_[prev].end)) {
    slot.released_by = dep;
  } else {
    slot.released_by = prev;
  }
  // The stream's next task is read when this one ends, usually many events later: ask for its
  // records now (with 10^6-10^8 tasks they are rarely in cache; measured as most of the
  // executor's time in perf).
  if (const TaskId next = slot.next_on_stream; next != kNoTask) {
    __builtin_prefetch(&slot_[next], 1);
    __builtin_prefetch(&graph_.tasks_[next], 0);
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
  c.prev_task = t;
  c.head_task = slot.next_on_stream;
  // Most tasks' only successor is the next one on their stream: their successor offsets (a
  // cache miss per task) are not read.
  if (!slot.has_successors()) {
    try_start_head(stream);
    return;
  }
  const std::uint32_t first = succ_offset_[t], last = succ_offset_[t + 1];
  for (std::uint32_t i = first; i < last; ++i) {
    Slot& s = slot_[succ_[i]];
    --s.deps_and_state;
    const TaskId prev = s.released_by;  // the last dependency to end so far
    // Ends arrive in time order, so the newest is the latest; on equal ends keep the smallest id.
    if (prev == kNoTask || t < prev || slot_[prev].end < end) s.released_by = t;
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
